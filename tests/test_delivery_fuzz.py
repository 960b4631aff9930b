"""Alert delivery under generated channel answers: nothing stuck, nothing held back.

The real outbox delivers several messages through the real email channel (to the
aiosmtpd sink) and the real Slack channel (to the local webhook server). Each message
gets a generated script of answers from its server (SMTP 4yz/5yz; HTTP 3xx/4xx/5xx
with any ``Retry-After``, a hang past the client's timeout, a dropped connection), then
is accepted. Delivery passes run at the simulated time the next message is due (no
sleeping). Invariants:

* after every pass: no message is left ``sending``; a channel whose answers in the pass
  were all acceptances or rejections tried every message of it that was due (nobody
  waits behind another message's rejection);
* in the end, after a bounded number of passes: every message is ``sent`` or
  ``failed`` with a reason, the one its script says (failed exactly when a rejection
  came at its ``REJECTED_TRIES``-th try or later); the server accepted each sent
  message once and no failed one; ``alerts list``'s summary shows the failure.

``MEDIAWATCH_FUZZ_EXAMPLES`` sets the number of examples (default 30).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from support.alert_episodes import episode_alert, open_episode
from support.slack_hook import DROP, HANG, Answer, Scripted, SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SMTP_PASSWORD, SMTP_USER, SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.channels import Channel, EmailChannel, SlackChannel
from alerts.claims import REJECTED_TRIES
from alerts.history import recent_episodes
from alerts.outbox import deliver_due, enqueue
from config.channels import EmailChannelConfig, SlackChannelConfig
from storage.engine import make_engine, session_factory, transaction
from storage.migrate import upgrade
from storage.models import AlertEpisode, OutboxMessage

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "30"))
START = datetime(2026, 11, 20, 12, 0)
SLACK_TIMEOUT = 0.25
"""The Slack client's timeout; a hanging server answers nothing for twice as long."""

HOSTILE_RETRY_AFTER = [
    "nan",
    "-inf",
    "inf",
    "-5",
    "0",
    "1e20",
    "1000000000000",
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -0100",
    "Fri, 31 Dec 99999999999 23:59:59 GMT",
    "Tue, 99 Foo 2026 99:99:99 +999999",
    "120",
]
# Header values travel as latin-1; no line breaks (the server could not send them).
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)
retry_after = st.one_of(st.none(), st.sampled_from(HOSTILE_RETRY_AFTER), header_text)
slack_answer = st.one_of(
    st.builds(
        Scripted,
        st.sampled_from([302, 307, 400, 403, 404, 408, 410, 413, 422, 429, 500, 502, 503, 504]),
        retry_after,
    ),
    st.just(DROP),
)
# A hang costs real time (the client's timeout), so it is rarer than the other answers.
slack_script = st.lists(
    st.one_of(slack_answer, slack_answer, slack_answer, st.just(HANG)), max_size=4
)
smtp_script = st.lists(
    st.sampled_from(
        [
            "554 5.7.1 Message refused as spam",
            "550 5.1.1 Mailbox unavailable",
            "552 5.3.4 Message too big",
            "451 4.7.1 Greylisted, try again later",
            "421 4.3.2 Service shutting down",
            "450 4.2.1 Mailbox busy",
        ]
    ),
    max_size=4,
)


@dataclass(frozen=True)
class Planned:
    """One message: its channel and what its server answers before accepting it."""

    channel: str
    script: tuple[Answer, ...]

    def rejection(self, answer: Answer) -> bool:
        if self.channel == "email":
            return isinstance(answer, str) and answer.startswith("5")
        return (
            isinstance(answer, Scripted)
            and 400 <= answer.status < 500
            and answer.status
            not in (
                408,
                429,
            )
        )

    def expected_status(self) -> str:
        """``failed`` if a rejection comes at the ``REJECTED_TRIES``-th try or later."""
        for tries, answer in enumerate(self.script, start=1):
            if self.rejection(answer) and tries >= REJECTED_TRIES:
                return "failed"
        return "sent"


planned = st.one_of(
    st.builds(Planned, st.just("slack"), slack_script.map(tuple)),
    st.builds(Planned, st.just("email"), smtp_script.map(tuple)),
)


@pytest.fixture
def sessions(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def channels_for(sink: SmtpSink, hook: SlackHook) -> dict[str, Channel]:
    email = EmailChannelConfig.model_validate(
        {
            "type": "email",
            "smtp_host": sink.host,
            "smtp_port": sink.port,
            "from": "mediawatch@example.org",
            "to": ["analyst@example.org"],
            "username": SMTP_USER,
            "password_env": "FUZZ_SMTP_PASSWORD",
            "timeout": "5s",
        }
    )
    slack = SlackChannelConfig(type="slack", webhook_url_env="FUZZ_SLACK_URL")
    return {
        "email": EmailChannel(email, environ={"FUZZ_SMTP_PASSWORD": SMTP_PASSWORD}),
        "slack": SlackChannel(slack, environ={"FUZZ_SLACK_URL": hook.url}, timeout=SLACK_TIMEOUT),
    }


def queue(sessions: sessionmaker[Session], plans: list[Planned]) -> list[str]:
    """One episode per planned message, its alert queued for its channel; the keys."""
    keys = []
    with transaction(sessions) as session:
        session.execute(delete(OutboxMessage))
        session.execute(delete(AlertEpisode))
    for number, plan in enumerate(plans):
        with transaction(sessions) as session:
            alert = episode_alert(open_episode(session, f"C{number}", START))
            [message] = enqueue(session, alert, [plan.channel], START)
            keys.append(message.idempotency_key)
    return keys


def outbox(sessions: sessionmaker[Session]) -> dict[str, OutboxMessage]:
    with sessions() as session:
        return {m.idempotency_key: m for m in session.scalars(select(OutboxMessage))}


def temporary(channel: str, what: str) -> bool:
    """Whether a server's answer (as its log records it) says the channel is out."""
    if channel == "email":
        return what.startswith("4")
    if not what.isdigit():
        return True  # a hang or a dropped connection
    status = int(what)
    return not (200 <= status < 300 or (400 <= status < 500 and status not in (408, 429)))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(planned, min_size=2, max_size=6))
def test_every_message_ends_sent_or_visibly_failed_and_none_waits_behind_a_rejection(
    sessions: sessionmaker[Session],
    smtp_sink: SmtpSink,
    slack_hook: SlackHook,
    plans: list[Planned],
) -> None:
    smtp_sink.reset()
    slack_hook.reset()
    slack_hook.hang_seconds = 2 * SLACK_TIMEOUT
    keys = queue(sessions, plans)
    for key, plan in zip(keys, plans, strict=True):
        if plan.channel == "email":
            smtp_sink.script(key, *(str(answer) for answer in plan.script))
        else:
            slack_hook.script(key, *plan.script)
    logs = {"email": smtp_sink.answered, "slack": slack_hook.answered}
    channels = channels_for(smtp_sink, slack_hook)

    # Each pass tries at least the first due message of each channel, and each try
    # uses up one scripted answer or delivers: so this many passes are always enough.
    bound = sum(len(plan.script) for plan in plans) + len(plans) + 1
    moment: datetime | None = START
    passes = 0
    while moment is not None:
        assert passes < bound, f"still pending after {passes} passes: {outbox(sessions)}"
        due = {key: m.channel for key, m in outbox(sessions).items() if m.status == "pending"}
        due = {k: c for k, c in due.items() if outbox(sessions)[k].next_attempt_at <= moment}
        seen = {channel: len(log) for channel, log in logs.items()}
        deliver_due(sessions, channels, moment, rng=random.Random(passes))
        passes += 1
        state = outbox(sessions)
        assert not [key for key, m in state.items() if m.status == "sending"]
        for channel, log in logs.items():
            answers = log[seen[channel] :]
            if any(temporary(channel, what) for _, what in answers):
                continue
            tried = {ref for ref, _ in answers}
            waiting = [key for key, c in due.items() if c == channel and key not in tried]
            assert not waiting, f"{waiting} waited behind {answers} on {channel}"
        pending = [m.next_attempt_at for m in state.values() if m.status == "pending"]
        moment = min(pending, default=None)

    state = outbox(sessions)
    accepted = Counter(
        [str(m["X-Mediawatch-Ref"]) for m in smtp_sink.messages]
        + [str(ref) for ref in slack_hook.accepted_refs()]
    )
    for key, plan in zip(keys, plans, strict=True):
        message = state[key]
        assert message.status == plan.expected_status(), (key, plan, message.last_error)
        if message.status == "sent":
            assert accepted[key] == 1, f"{key} accepted {accepted[key]} times"
        else:
            assert accepted[key] == 0
            assert message.last_error, f"{key} failed without a reason"
    with sessions() as session:
        summaries = [item.delivery for item in recent_episodes(session, START)]
    assert sum(summary.count(" failed") for summary in summaries) == sum(
        plan.expected_status() == "failed" for plan in plans
    )
