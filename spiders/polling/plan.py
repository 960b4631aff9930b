"""The adaptive polling policy (``spiders.polling.policy``) in the shape the crawlers record
polls with (``spiders.polling.polls.Plan``): used by ``crawl`` and by distributed workers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from config.models import CrawlConfig
from spiders.polling.policy import Bounds, PollOutcome, next_schedule
from spiders.polling.polls import NextPoll, Plan, PollResult
from storage.models import Source


def adaptive_plan(crawl: CrawlConfig, rng: random.Random | None = None) -> Plan:
    bounds = Bounds(crawl.min_interval, crawl.max_interval)
    draw = (rng or random.Random()).random

    def plan(result: PollResult, row: Source, now: datetime) -> NextPoll:
        outcome = PollOutcome(
            status=result.recorded_status,
            entries=result.entries,
            new=result.new,
            entry_times=tuple(result.entry_times),
            ttl=result.ttl,
            retry_after=result.retry_after,
        )
        decided = next_schedule(
            outcome,
            interval=timedelta(seconds=row.interval_seconds),
            failures=row.consecutive_failures,
            last_success_at=row.last_success_at,
            bounds=bounds,
            now=now,
            jitter=draw(),
        )
        return NextPoll(decided.interval, decided.next_poll_at, decided.failures, decided.healthy)

    return plan
