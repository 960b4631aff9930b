"""The poll ledger: what one poll found, gathered in Redis from every worker that helped.

In distributed mode the pages of one poll are fetched by whichever worker pulls them
from the shared queue, so a poll's ``PollResult`` cannot live in one spider. Each poll
has a Redis hash instead (``FrontierKeys.poll``) with the fields of ``PollResult`` and
one counter, ``outstanding``: the requests of the poll not yet *settled*.

- ``open``: the worker that takes the ticket writes the hash with ``outstanding = 1``
  (the feed request itself).
- ``apply``: every step reports what it learned and how ``outstanding`` changes, in
  one atomic script: a feed or sitemap callback adds the requests it spawned and
  settles itself (``spawned - 1``); an article settles (``-1``) only once the store has
  *committed* it (or decided it is known); a request dropped by the duplicate filter
  settles at once.
- The step that brings ``outstanding`` to zero gets 0 back and is the one that records
  the poll in the database (exactly one does). Polls are thus recorded only after every
  page was handled and stored: the crash-safety rule of ``spiders.crawler.run`` by construction.
  A poll whose worker died never reaches zero; its hash expires, and its source is due
  again when the lease ends (the database is still the schedule).

A step against an expired or unknown poll changes nothing and returns None.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from spiders.distributed.frontier import FrontierKeys, Ticket
from spiders.polling.polls import PollResult

logger = logging.getLogger(__name__)

# KEYS: the hash, the times list. ARGV: n, n field/value pairs to set; m, m field/delta
# pairs to add; t, t entry times to append; the change of ``outstanding``.
_APPLY_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local i = 1
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end
local m = tonumber(ARGV[i]); i = i + 1
for _ = 1, m do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end
local t = tonumber(ARGV[i]); i = i + 1
for _ = 1, t do redis.call('RPUSH', KEYS[2], ARGV[i]); i = i + 1 end
if t > 0 then redis.call('EXPIRE', KEYS[2], redis.call('TTL', KEYS[1])) end
return redis.call('HINCRBY', KEYS[1], 'outstanding', ARGV[i])
"""

_TOP_FIELDS = ("status", "http_status", "error", "etag", "last_modified")


class PollLedger:
    def __init__(self, server: Any, keys: FrontierKeys, ttl: timedelta) -> None:
        self.server = server
        self.keys = keys
        self.ttl = ttl
        self._apply = server.register_script(_APPLY_SCRIPT)

    def open(self, ticket: Ticket, started_at: datetime) -> None:
        key = self.keys.poll(ticket.poll_id)
        with self.server.pipeline() as pipe:
            pipe.hset(
                key,
                mapping={
                    "source": ticket.job.name,
                    "started_at": started_at.isoformat(),
                    "due_at": ticket.due_at.isoformat(),
                    "outstanding": 1,
                },
            )
            pipe.expire(key, int(self.ttl.total_seconds()))
            pipe.execute()

    def report(self, poll_id: str, found: PollResult, *, top: bool, spawned: int) -> int | None:
        """A feed/sitemap step: what ``found`` holds, and its ``spawned`` requests."""
        fields: dict[str, str] = {}
        if top and found.answered:
            fields = {name: _text(getattr(found, name)) for name in _TOP_FIELDS}
            fields["answered"] = "1"
            if found.ttl is not None:
                fields["ttl"] = str(found.ttl.total_seconds())
            if found.retry_after is not None:
                fields["retry_after"] = str(found.retry_after.total_seconds())
        counts = {
            "entries": found.entries,
            "known": found.known,
            "followed": found.followed,
            "capped": int(found.capped),
            "skipped": found.skipped,
        }
        if found.problems:  # a child sitemap failed: the poll is partial
            fields["problem"] = "; ".join(found.problems)
        times = [moment.isoformat() for moment in found.entry_times]
        return self.apply(poll_id, spawned - 1, fields=fields, counts=counts, times=times)

    def followed(self, poll_id: str) -> int:
        """Pages the poll's earlier steps asked for: its share of ``max_articles_per_poll``
        already spent (steps of one poll may run on several workers)."""
        value = self.server.hget(self.keys.poll(poll_id), "followed")
        return int(value) if value else 0

    def apply(
        self,
        poll_id: str,
        outstanding: int,
        *,
        fields: dict[str, str] | None = None,
        counts: dict[str, int] | None = None,
        times: Sequence[str] = (),
    ) -> int | None:
        """One atomic step; returns the requests still outstanding (None: unknown poll)."""
        args: list[Any] = [len(fields or {})]
        for name, value in (fields or {}).items():
            args += [name, value]
        nonzero = {name: delta for name, delta in (counts or {}).items() if delta}
        args.append(len(nonzero))
        for name, delta in nonzero.items():
            args += [name, delta]
        args += [len(times), *times, outstanding]
        keys = [self.keys.poll(poll_id), self.keys.poll_times(poll_id)]
        left = self._apply(keys=keys, args=args)
        return None if left is None else int(left)

    def result(self, poll_id: str) -> PollResult | None:
        """The poll as ``record_poll`` wants it (None when it expired meanwhile)."""
        with self.server.pipeline() as pipe:
            pipe.hgetall(self.keys.poll(poll_id))
            pipe.lrange(self.keys.poll_times(poll_id), 0, -1)
            raw, times = pipe.execute()
        if not raw:
            return None
        data = {_str(k): _str(v) for k, v in raw.items()}
        result = PollResult(data["source"], datetime.fromisoformat(data["started_at"]))
        if data.get("answered") == "1":
            result.answered = True
            result.status = data["status"]  # type: ignore[assignment]
            result.http_status = int(data["http_status"]) if data.get("http_status") else None
            result.error = data.get("error") or None
            result.etag = data.get("etag") or None
            result.last_modified = data.get("last_modified") or None
        if data.get("ttl"):
            result.ttl = timedelta(seconds=float(data["ttl"]))
        if data.get("retry_after"):
            result.retry_after = timedelta(seconds=float(data["retry_after"]))
        for name in ("entries", "known", "followed", "new", "duplicates", "skipped"):
            setattr(result, name, int(data.get(name) or 0))
        if data.get("problem"):
            result.problems.append(data["problem"])
        result.entry_times = [datetime.fromisoformat(_str(t)) for t in times]
        # The ledger is read once no request is outstanding: every followed page settled.
        result.settled = result.followed
        result.capped = int(data.get("capped") or 0) > 0
        return result

    def close(self, poll_id: str) -> None:
        self.server.delete(self.keys.poll(poll_id), self.keys.poll_times(poll_id))


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _str(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
