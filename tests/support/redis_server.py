"""The local Redis server of the distributed-mode tests, and ``redis_prefix``: a key prefix
of the test's own (skips with a reason when Redis is not reachable, unless
``MEDIAWATCH_REQUIRE_REDIS=1``, which fails instead)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_SERVER = os.environ.get("MEDIAWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _redis_available() -> str | None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_SERVER, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # any failure to connect means "not available"
        return f"Redis not reachable at {REDIS_SERVER}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(name="redis_prefix")
def redis_prefix_fixture() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    reason = _redis_available()
    if reason is not None:
        if os.environ.get("MEDIAWATCH_REQUIRE_REDIS") == "1":
            pytest.fail(reason + " (MEDIAWATCH_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    import redis

    prefix = f"mwtest:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_SERVER)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
