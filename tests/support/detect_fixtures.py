"""A cluster's stories written straight into the archive, with quiet background weeks, for
the detection, routing, mute and calibration tests (no crawl: rows as the pipeline stores them)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from config.load import parse_config
from config.models import Config
from storage.engine import session_factory, transaction
from storage.models import Article, Mention

CLUSTER = "Interior Ministry"
PUBLISHERS = ["rudaw.net", "alsumaria.tv", "shafaq.com", "ina.iq", "kurdistan24.net"]


def make_config() -> Config:
    return parse_config(
        {
            "clusters": [
                {"name": CLUSTER, "terms": ["Interior Ministry"]},
                {"name": "PMF", "terms": ["Popular Mobilization Forces"]},
            ],
            "alerts": {
                "channels": [
                    {"type": "console"},
                    {"type": "slack", "webhook_url_env": "SLACK_WEBHOOK_URL"},
                ]
            },
        },
        environ={},
    )


def burst_hour(now: datetime) -> datetime:
    return now - timedelta(hours=1)  # the last complete bucket: 11:00-12:00


class Newsroom:
    """Writes articles and their mentions the way the pipeline stores them."""

    def __init__(self, engine: Engine) -> None:
        self.factory = session_factory(engine)
        self.serial = 0

    def story(
        self,
        when: datetime,
        publisher: str,
        *,
        copies: int = 0,
        cluster: str = CLUSTER,
        source_id: int | None = None,
        fetched_at: datetime | None = None,
        language: str = "en",
    ) -> None:
        with transaction(self.factory) as session:
            self._story(session, when, publisher, copies, cluster, source_id, fetched_at, language)

    def background(self, now: datetime, days: int, seed: int = 7) -> None:
        """About one story an hour for ``days`` (fewer at night), from rotating publishers."""
        rng = random.Random(seed)
        with transaction(self.factory) as session:
            start = now - timedelta(days=days)
            for hour in range(days * 24 - 2):
                moment = start + timedelta(hours=hour)
                rate = 1.4 if 7 <= moment.hour <= 20 else 0.4
                for _ in range(_poisson(rng, rate)):
                    when = moment + timedelta(minutes=rng.randrange(60))
                    publisher = rng.choice(PUBLISHERS)
                    self._story(session, when, publisher, 0, CLUSTER, None, None, "en")

    def _story(
        self,
        session: Session,
        when: datetime,
        publisher: str,
        copies: int,
        cluster: str,
        source_id: int | None,
        fetched_at: datetime | None,
        language: str,
    ) -> None:
        self.serial += 1
        first = Article(
            url=f"https://{publisher}/story/{self.serial}",
            publisher=publisher,
            title=f"Interior Ministry story {self.serial}",
            language=language,
            published_at=when,
            fetched_at=fetched_at or when,
            seen_at=when,
            source_id=source_id,
        )
        session.add(first)
        session.flush()
        first.story_id = first.id
        session.add(
            Mention(
                article=first,
                cluster=cluster,
                term="Interior Ministry",
                seen_at=when,
                story_id=first.id,
            )
        )
        for copy in range(copies):
            self.serial += 1
            reprint = Article(
                url=f"https://copy{copy}.example/{self.serial}",
                publisher=f"copy{copy}.example",
                title=first.title,
                language=language,
                published_at=when,
                fetched_at=when,
                seen_at=when,
                story_id=first.id,
                duplicate_of_id=first.id,
            )
            session.add(reprint)
            session.add(
                Mention(
                    article=reprint,
                    cluster=cluster,
                    term="Interior Ministry",
                    seen_at=when,
                    story_id=first.id,
                )
            )


def _poisson(rng: random.Random, rate: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < rate:
        count += 1
        total += rng.expovariate(1.0)
    return count
