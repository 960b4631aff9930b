"""A free TCP port on the loopback interface, for servers a test must name in a config before
they start (the service's health endpoint, the SMTP sink)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
