"""The email channel: SMTP with STARTTLS, implicit TLS (``ssl``) or plain (a local relay).

One multipart/alternative message per alert (text, then HTML). The Message-ID is
derived from the idempotency key, so a message sent again after a crash carries the
same Message-ID and mail clients and servers can recognise (and often drop) the copy.
The password comes from the environment variable named by ``password_env``.

A 5yz reply to the message (MAIL, RCPT or DATA: spam, too big, no such mailbox) is a
``MessageRejectedError``: RFC 5321 says the same request will fail again. Everything
about the server or the channel's own settings is a plain ``DeliveryError``, retried
until it works: a 4yz reply, no connection, a refused greeting or STARTTLS, and a
refused login (535 and the other AUTH codes of RFC 4954 are 5yz too, but every
message would get them: failing each alert while the password is wrong would lose
them all, where retrying delivers them once the config is fixed).
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate

from alerts import render, wording
from alerts.channels.base import MessageRejectedError, scrub, secret_from_env
from alerts.message import Alert
from config.channels import EmailChannelConfig as EmailConfig
from errors import DeliveryError

logger = logging.getLogger(__name__)

AUTH_REPLY_CODES = frozenset({530, 534, 535, 538})
"""RFC 4954: authentication required, mechanism too weak, bad credentials, encryption
required: a fault of the channel's settings, whichever command they answer."""


def message_id(idempotency_key: str, sender: str) -> str:
    """``<mediawatch.<hash>@<sender's domain>>``: the same key gives the same Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    domain = sender.rpartition("@")[2].strip(" <>") or "mediawatch.invalid"
    return f"<mediawatch.{digest}@{domain}>"


def build_message(
    alert: Alert, idempotency_key: str, sender: str, to: tuple[str, ...]
) -> EmailMessage:
    """The email, text and HTML alternatives; pure (no network)."""
    message = EmailMessage()
    message["Subject"] = wording.title(alert)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Message-ID"] = message_id(idempotency_key, sender)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["X-Mediawatch-Ref"] = idempotency_key
    if alert.kind != "test":
        message["X-Mediawatch-Cluster"] = wording.one_line(alert.cluster)
    message.set_content(render.text(alert))
    message.add_alternative(render.html_document(alert), subtype="html")
    return message


class EmailChannel:
    def __init__(
        self,
        config: EmailConfig,
        environ: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self._environ = environ
        self._ssl_context = ssl_context
        """Tests pass a context that trusts their self-signed certificate."""

    def send(self, alert: Alert, idempotency_key: str) -> None:
        config = self.config
        password = (
            secret_from_env(config.password_env, "SMTP password", self._environ)
            if config.password_env
            else None
        )
        secrets = [password] if password else []
        message = build_message(alert, idempotency_key, config.from_, config.to)
        where = f"{config.smtp_host}:{config.smtp_port}"
        sending = False  # set once connected and logged in: replies are about the message
        try:
            smtp = self._connect()
            try:
                if password is not None:
                    smtp.login(config.username or config.from_, password)
                sending = True
                refused = smtp.send_message(message)
            finally:
                _close(smtp)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP server {where} refused the login for {config.username or config.from_}"
                f" ({exc.smtp_code})"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            replies = {rcpt: _reply_code(reply) for rcpt, reply in exc.recipients.items()}
            codes = list(replies.values())
            listed = ", ".join(f"{rcpt} ({code})" for rcpt, code in replies.items())
            text = scrub(f"SMTP server {where} refused every recipient: {listed}", secrets)
            if codes and all(smtp_rejects_message(code) for code in codes):
                raise MessageRejectedError(text) from None
            raise DeliveryError(text) from None
        except smtplib.SMTPResponseException as exc:
            text = scrub(
                f"SMTP server {where} said {exc.smtp_code} {_text(exc.smtp_error)}", secrets
            )
            # A refused greeting, HELO or STARTTLS is the server refusing us, not this message.
            about_the_server = not sending or isinstance(exc, smtplib.SMTPHeloError)
            if smtp_rejects_message(exc.smtp_code) and not about_the_server:
                raise MessageRejectedError(text) from None
            raise DeliveryError(text) from None
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise DeliveryError(
                scrub(f"cannot send through SMTP server {where}: {reason}", secrets)
            ) from None
        if refused:
            # Accepted for some recipients: retrying would duplicate it for the others.
            logger.warning(
                "email %s: %s refused %s (delivered to the others)",
                self.name,
                where,
                ", ".join(refused),
            )
        logger.info(
            "email %s: sent %s to %d recipient(s)", self.name, idempotency_key, len(config.to)
        )

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        timeout = config.timeout.total_seconds()
        context = self._ssl_context or ssl.create_default_context()
        if config.ssl:
            return smtplib.SMTP_SSL(
                config.smtp_host, config.smtp_port, timeout=timeout, context=context
            )
        smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=timeout)
        try:
            if config.starttls:
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring its errors: once the server accepted the message, it is sent."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def smtp_rejects_message(code: object) -> bool:
    """Whether an SMTP reply code refuses the message for good: 5yz, except AUTH codes."""
    return isinstance(code, int) and 500 <= code < 600 and code not in AUTH_REPLY_CODES


def _reply_code(reply: object) -> object:
    """The code of a ``(code, text)`` reply from ``SMTPRecipientsRefused``."""
    return reply[0] if isinstance(reply, tuple) and reply else None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
