"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it receives.

Fixtures (import the functions in ``conftest.py``: ``from smtp_sink import
smtp_sink_fixture, smtp_tls_sink_fixture``):

* ``smtp_sink``: plain SMTP with AUTH (LOGIN/PLAIN allowed without TLS, as a local
  relay would), user ``SMTP_USER`` with password ``SMTP_PASSWORD``;
* ``smtp_tls_sink``: the same behind STARTTLS (required) with a self-signed
  certificate made at test time; ``sink.client_context`` trusts it.

``sink.stop()`` takes the server down (connections are refused) and ``sink.start()``
brings it back on the same port, to prove retries and no loss.

``sink.script(ref, "554 5.7.1 rejected", "451 4.7.1 later", ...)`` answers the DATA of
the next tries of one message (found by its ``X-Mediawatch-Ref`` header) with these
replies in order, then accepts it; ``sink.answered`` lists ``(ref, reply code)`` for
every DATA received.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from support.ports import free_port

SMTP_USER = "mediawatch"
SMTP_PASSWORD = "s3cret-Pa55word-for-tests"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str | None
    tls: bool
    message: EmailMessage


class _Recorder:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        ref = str(message.get("X-Mediawatch-Ref", ""))
        with self.sink.lock:
            scripted = self.sink.replies.get(ref)
            reply = scripted.pop(0) if scripted else "250 Message accepted for delivery"
            self.sink.answered.append((ref, reply[:3]))
            if not reply.startswith("250"):
                return reply
            self.sink.received.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    login=login,
                    tls=session.ssl is not None,
                    message=message,
                )
            )
        return reply


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    if (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == SMTP_USER
        and auth_data.password.decode() == SMTP_PASSWORD
    ):
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


class SmtpSink:
    """An aiosmtpd server in a thread; ``received`` lists the messages in arrival order."""

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_context = tls_context
        self.received: list[Received] = []
        self.replies: dict[str, list[str]] = {}
        self.answered: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None
        self.client_context: ssl.SSLContext | None = None

    def reset(self) -> None:
        """Forget every message and script (between examples of one test)."""
        with self.lock:
            self.received.clear()
            self.replies.clear()
            self.answered.clear()

    def script(self, ref: str, *replies: str) -> None:
        """Answer the DATA of the next tries of message ``ref`` with ``replies``, then accept."""
        with self.lock:
            self.replies.setdefault(ref, []).extend(replies)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [item.message for item in self.received]

    def start(self) -> None:
        # aiosmtpd logs every connection at INFO from its own thread; keep it quiet.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        options: dict[str, Any] = {"authenticator": _authenticate}
        if self.tls_context is not None:
            options |= {"tls_context": self.tls_context, "require_starttls": True}
        else:
            options["auth_require_tls"] = False
        controller = Controller(_Recorder(self), hostname=self.host, port=self.port, **options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files in ``folder``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mediawatch test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    """A running plain SMTP sink with AUTH; stopped after the test."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(name="smtp_tls_sink")
def smtp_tls_sink_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    """A running SMTP sink that requires STARTTLS; ``client_context`` trusts its cert."""
    pytest.importorskip("cryptography")
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    sink = SmtpSink(tls_context=server_context)
    sink.client_context = ssl.create_default_context(cafile=str(cert))
    sink.start()
    yield sink
    sink.stop()
