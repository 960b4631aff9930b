"""The one item pipeline: normalise -> dedupe -> match the watch-list -> store.

``ArticleStore`` is plain Python (a session factory, a matcher and a clock passed in);
``spiders.crawler.store_pipeline.StorePipeline`` is the thin Scrapy shell around it.

- **Decisions happen in ``add``**, against an in-memory ``FingerprintIndex`` of the
  articles seen in the last ``window`` (7 days, loaded once per crawl) plus everything
  added since. ``add`` returns the outcome at once; writes are buffered.
- **Writes happen in ``flush``**, every ``batch_size`` items and at close, one
  transaction per batch. URLs stored meanwhile by someone else are skipped first; if a
  concurrent crawl still wins a race (IntegrityError on the unique URL), the batch is
  rolled back and written again item by item, each in its own transaction, and the
  losers count as already known. A URL is never stored twice.
- **A batch that fails otherwise** (database locked, connection dropped, a value the
  database rejects) is written again item by item too; an item that still fails is
  logged and counted in ``counts[source].failed``, and the crawl must not record that
  source's poll as complete (``spiders.crawler.run`` makes it due again, without validators).
  ``isolate_failures=False`` lets such a batch's error propagate instead (the workers
  of distributed mode then leave the batch's polls unsettled).
- **Aliases**: an item fetched from a listed URL (``ArticleItem.listed_url``) other
  than its own (``rel=canonical``, a redirect) has that URL recorded in
  ``article_aliases``, insert-if-absent, in the article's transaction (for an item
  already stored, ``KNOWN``, at the next flush), so ``known_urls`` spares the fetch
  next time. A copy stored under its own URL gets aliases of its own, nothing else.
- ``story_id`` is the article's own id for the first article of a story, the
  original's story id for a duplicate (``duplicate_of_id`` = that story id too: the
  story's first article, even when the copy matched another copy). Mentions
  copy ``seen_at`` and ``story_id``; their rows come from ``watchlist.mentions``, as
  rematch's do (``Mention.hits`` is the cluster's hit count, not the term's).
- **Hashes and mentions** come with the item when its extraction worker computed them
  for exactly the item's tidied text (``spiders.crawler.analysis``); else ``add``
  computes them, with the same functions.
- ``seen_at``: when the article was published, if plausible, else fetched
  (``spiders.crawler.tidy.seen_at``).

Known limits: another crawl's articles stored after this crawl loaded its index are
not compared for near-duplicates (only their URLs are caught); an article whose
``seen_at`` is older than the window is compared only with what the window holds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from clock.moments import utcnow
from spiders.crawler.analysis import analyse
from spiders.crawler.items import ArticleAnalysis, ArticleItem
from spiders.crawler.store_lookups import recent_fingerprints, source_ids, stored_ids
from spiders.crawler.tidy import alias_of, normalise_item, seen_at
from spiders.parsing.dedupe import Duplicate, Fingerprint, FingerprintIndex
from storage.engine import error_reason, transaction
from storage.models import Article, Mention
from storage.queries import add_aliases, stored_urls
from watchlist.mentions import Matcher, MentionKey, mention_rows

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
WINDOW = timedelta(days=7)


class StoreOutcome(StrEnum):
    NEW = "new"
    """Stored, the first article of its story."""
    DUPLICATE = "duplicate"
    """Stored, pointing at the story's original."""
    KNOWN = "known"
    """Not stored: the URL is already there."""


@dataclass
class StoreCounts:
    new: int = 0
    duplicates: int = 0
    known: int = 0
    failed: int = 0
    """Not stored: the database refused the write (see ``ArticleStore.flush``)."""

    def record(self, outcome: StoreOutcome, step: int = 1) -> None:
        if outcome is StoreOutcome.NEW:
            self.new += step
        elif outcome is StoreOutcome.DUPLICATE:
            self.duplicates += step
        else:
            self.known += step


@dataclass
class _Pending:
    item: ArticleItem
    fingerprint: Fingerprint
    outcome: StoreOutcome
    duplicate: Duplicate | None
    mentions: dict[MentionKey, int]


class ArticleStore:
    """Dedupe, match and store articles; ``counts[source_name]`` tells what happened."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        watchlist: Matcher,
        now_fn: Callable[[], datetime] = utcnow,
        *,
        batch_size: int = BATCH_SIZE,
        window: timedelta = WINDOW,
        isolate_failures: bool = True,
    ) -> None:
        self.session_factory = session_factory
        self.isolate_failures = isolate_failures
        self.watchlist = watchlist
        self.now_fn = now_fn
        self.batch_size = batch_size
        self.window = window
        self.counts: defaultdict[str, StoreCounts] = defaultdict(StoreCounts)
        self._index: FingerprintIndex | None = None
        self._source_ids: dict[str, int] = {}
        self._pending: list[_Pending] = []
        self._aliases: list[tuple[str, str]] = []
        """Aliases of articles already stored (``KNOWN`` items), written at the next flush."""
        self._stored: dict[str, tuple[int, int]] = {}

    def __deepcopy__(self, _memo: dict[int, object]) -> ArticleStore:
        """Scrapy deep-copies its settings; the store (and its counts) stays this one object."""
        return self

    @property
    def total(self) -> StoreCounts:
        total = StoreCounts()
        for counts in self.counts.values():
            total.new += counts.new
            total.duplicates += counts.duplicates
            total.known += counts.known
            total.failed += counts.failed
        return total

    @property
    def loaded(self) -> bool:
        """Whether the dedupe index is in memory (``open`` loads it)."""
        return self._index is not None

    def open(self) -> None:
        """Load the recent fingerprints and the source ids, once (the first ``add`` does it too)."""
        if self._index is not None:
            return
        since = self.now_fn() - self.window
        with self.session_factory() as session:
            self._source_ids = source_ids(session)
            self._index = FingerprintIndex(recent_fingerprints(session, since))
        logger.info("dedupe index: %d articles since %s", len(self._index), since)

    def remember(self, fingerprints: Iterable[Fingerprint]) -> None:
        """Add articles another writer stored since ``open`` to the dedupe index."""
        if self._index is None:
            self.open()
        assert self._index is not None
        for fingerprint in fingerprints:
            self._index.add(fingerprint)

    def learn_sources(self, session: Session, names: Iterable[str]) -> None:
        """Reload the source ids if one of ``names`` is new since ``open``."""
        if any(name not in self._source_ids for name in names):
            self._source_ids = source_ids(session)

    def drop_index(self) -> None:
        """Forget the dedupe index; the next ``open`` (or ``add``) loads it afresh."""
        self._index = None

    def forget(self) -> None:
        """After a write that failed with ``isolate_failures`` off: drop the buffer and the
        index (it holds what was not written); the next batch reloads the index."""
        self._pending.clear()
        self._aliases.clear()
        self.drop_index()

    def add(self, item: ArticleItem) -> StoreOutcome:
        """Decide what ``item`` is and buffer it; writes every ``batch_size`` items."""
        if self._index is None:
            self.open()
        assert self._index is not None
        item = normalise_item(item)
        analysis = self._analysis(item)
        fingerprint = Fingerprint(
            url=item.url,
            publisher=item.publisher,
            seen_at=seen_at(item.published_at, item.fetched_at, self.now_fn()),
            title_hash=analysis.title_hash,
            simhash=analysis.simhash,
        )
        duplicate = self._index.find(fingerprint)
        if duplicate is not None and duplicate.reason == "url":
            self.counts[item.source_name].record(StoreOutcome.KNOWN)
            alias = alias_of(item)
            if alias is not None:  # e.g. stored before aliases were recorded
                self._aliases.append(alias)
            return StoreOutcome.KNOWN
        outcome = StoreOutcome.NEW if duplicate is None else StoreOutcome.DUPLICATE
        if duplicate is not None:
            logger.debug("%s copies %s (%s)", item.url, duplicate.of.url, duplicate.reason)
        mentions = analysis.mentions
        if mentions is None:  # not matched in a worker
            mentions = mention_rows(self.watchlist, item.title, item.text, item.summary)
        self._pending.append(_Pending(item, fingerprint, outcome, duplicate, mentions))
        self._index.add(fingerprint)
        self.counts[item.source_name].record(outcome)
        if len(self._pending) >= self.batch_size:
            self.flush()
        return outcome

    def _analysis(self, item: ArticleItem) -> ArticleAnalysis:
        """What the extraction worker computed for ``item`` (tidied), if it describes the
        item exactly; else its hashes, computed here (``add`` matches it only if it is to
        be stored)."""
        if item.analysis is not None and item.analysis.describes(item):
            return item.analysis
        return analyse(item.title, item.text, item.summary, None)

    def flush(self) -> None:
        """Write the buffered articles (one transaction; item by item after an error)."""
        pending, self._pending = self._pending, []
        aliases, self._aliases = self._aliases, []
        if not pending:
            self._write_aliases(aliases)
            return
        try:
            with transaction(self.session_factory) as session:
                written = self._write(session, pending)
                add_aliases(session, aliases)
        except IntegrityError as exc:
            logger.info(
                "a batch of %d raced another writer (%s); storing one by one",
                len(pending),
                error_reason(exc),
            )
        except SQLAlchemyError as exc:
            if not self.isolate_failures:
                raise
            logger.warning(
                "writing a batch of %d articles failed (%s); storing one by one",
                len(pending),
                error_reason(exc),
            )
        else:
            self._stored.update(written)
            return
        for entry in pending:
            try:
                with transaction(self.session_factory) as session:
                    self._stored.update(self._write(session, [entry]))
            except IntegrityError:
                self._lost_to_known(entry)
                alias = alias_of(entry.item)
                if alias is not None:  # the winner stored the article: still our link
                    aliases.append(alias)
            except SQLAlchemyError as exc:
                self._failed(entry, exc)
        self._write_aliases(aliases)

    def _write_aliases(self, aliases: Sequence[tuple[str, str]]) -> None:
        """Record aliases of articles stored already, in their own transaction. They only
        save fetches: a failure is logged (the page is fetched again next time), and
        raised only when ``isolate_failures`` is off."""
        if not aliases:
            return
        try:
            with transaction(self.session_factory) as session:
                add_aliases(session, aliases)
        except SQLAlchemyError as exc:
            if not self.isolate_failures:
                raise
            logger.warning("recording %d URL aliases failed (%s)", len(aliases), error_reason(exc))

    def close(self) -> None:
        self.flush()

    def _write(self, session: Session, pending: Sequence[_Pending]) -> dict[str, tuple[int, int]]:
        """Insert ``pending`` in order, and the URLs each was reached under (``alias_of``);
        (id, story id) per URL written."""
        already = stored_urls(session, [entry.item.url for entry in pending])
        written: dict[str, tuple[int, int]] = {}
        aliases = [alias for entry in pending if (alias := alias_of(entry.item)) is not None]
        for entry in pending:
            if entry.item.url in already:
                self._lost_to_known(entry)
                continue
            article = self._article(entry)
            original = self._original_ids(session, entry, written)
            if original is not None:
                # The story's first article, which the copy matched may itself be a
                # copy (forwards arrive in any order): its story id names the first.
                article.duplicate_of_id = original[1]
            session.add(article)
            session.flush()
            story_id = original[1] if original is not None else article.id
            article.story_id = story_id
            article.mentions.extend(
                Mention(
                    cluster=cluster,
                    term=term,
                    hits=hits,
                    seen_at=article.seen_at,
                    story_id=story_id,
                )
                for (cluster, term), hits in entry.mentions.items()
            )
            written[entry.item.url] = (article.id, story_id)
        session.flush()
        add_aliases(session, aliases)
        return written

    def _original_ids(
        self, session: Session, entry: _Pending, written: dict[str, tuple[int, int]]
    ) -> tuple[int, int] | None:
        """(id, story id) of the stored article ``entry`` copies."""
        if entry.duplicate is None:
            return None
        of = entry.duplicate.of
        if of.url in written:
            return written[of.url]
        if of.url in self._stored:
            return self._stored[of.url]
        if of.article_id is not None:
            return of.article_id, of.story_id or of.article_id
        # None when the original lost a race and was never ours to store.
        return stored_ids(session, of.url)

    def _article(self, entry: _Pending) -> Article:
        item = entry.item
        return Article(
            url=item.url,
            source_id=self._source_ids.get(item.source_name),
            publisher=item.publisher,
            title=item.title,
            text=item.text,
            summary=item.summary,
            author=item.author,
            language=item.language,
            published_at=item.published_at,
            fetched_at=item.fetched_at,
            seen_at=entry.fingerprint.seen_at,
            extracted=item.extracted,
            views=item.views,
            title_hash=entry.fingerprint.title_hash,
            simhash=entry.fingerprint.simhash,
            # Known empty: extending it after the flush (``_write``) then loads nothing,
            # where an unloaded collection costs a SELECT per article.
            mentions=[],
        )

    def _lost_to_known(self, entry: _Pending) -> None:
        """``entry``'s URL turned out to be stored already (by another crawl)."""
        counts = self.counts[entry.item.source_name]
        counts.record(entry.outcome, -1)
        counts.record(StoreOutcome.KNOWN)
        entry.outcome = StoreOutcome.KNOWN
        logger.debug("%s was stored meanwhile by another crawl", entry.item.url)

    def _failed(self, entry: _Pending, exc: SQLAlchemyError) -> None:
        """``entry`` could not be written: count it, so its source is polled again."""
        counts = self.counts[entry.item.source_name]
        counts.record(entry.outcome, -1)
        counts.failed += 1
        logger.error(
            "source %s: could not store %s: %s", entry.item.source_name, entry.item.url,
            error_reason(exc),
        )  # fmt: skip
