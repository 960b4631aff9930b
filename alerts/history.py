"""What was alerted and how delivery went: the rows behind ``alerts list``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AlertEpisode, OutboxMessage


@dataclass(frozen=True)
class EpisodeHistory:
    episode: AlertEpisode
    messages: tuple[OutboxMessage, ...]

    @property
    def delivery(self) -> str:
        """``"email sent, slack pending (3 tries)"``: every message of the episode."""
        return delivery_summary(self.messages)


def recent_episodes(session: Session, since: datetime) -> list[EpisodeHistory]:
    """Episodes opened since ``since`` (newest first) with their outbox messages."""
    episodes = list(
        session.scalars(
            select(AlertEpisode)
            .where(AlertEpisode.opened_at >= since)
            .order_by(AlertEpisode.opened_at.desc(), AlertEpisode.id.desc())
        )
    )
    by_episode: dict[int, list[OutboxMessage]] = {episode.id: [] for episode in episodes}
    if by_episode:
        messages = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.episode_id.in_(list(by_episode)))
            .order_by(OutboxMessage.id)
        )
        for message in messages:
            if message.episode_id is not None:
                by_episode[message.episode_id].append(message)
    return [EpisodeHistory(episode, tuple(by_episode[episode.id])) for episode in episodes]


def delivery_summary(messages: Sequence[OutboxMessage]) -> str:
    if not messages:
        return "nothing queued"
    parts = []
    for message in messages:
        label = message.channel if message.kind == "open" else f"{message.channel} ({message.kind})"
        state = message.status
        if message.status in ("pending", "sending", "failed") and message.attempts:
            state += f" ({message.attempts} {'try' if message.attempts == 1 else 'tries'})"
        parts.append(f"{label} {state}")
    return ", ".join(parts)


def last_errors(messages: Sequence[OutboxMessage]) -> str:
    """The last error of each message not yet sent (already scrubbed of secrets)."""
    return "; ".join(
        f"{message.channel}: {message.last_error}"
        for message in messages
        if message.status != "sent" and message.last_error
    )
