"""Rematch: when the watch-list changes, stored mentions follow, batch by batch."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from support.report_archive import CLUSTERS, make_archive

from archive.rematch import rematch
from config.models import ClusterConfig
from spiders.crawler.items import ArticleItem
from spiders.crawler.store import ArticleStore
from storage.engine import session_factory
from storage.models import Mention
from watchlist.matcher import Watchlist

T0 = datetime(2026, 3, 1)


def mentions(engine: Engine) -> set[tuple[int, str, str, int | None]]:
    with session_factory(engine)() as session:
        return {
            (m.article_id, m.cluster, m.term, m.story_id) for m in session.scalars(select(Mention))
        }


def test_rematch_follows_watchlist_changes(migrated_engine: Engine) -> None:
    archive = make_archive(migrated_engine)
    first = archive.add("Militia news", "The Hashd moved to Basra.", T0)
    copy = archive.add("Militia news", "The Hashd moved to Basra.", T0 + timedelta(hours=1),
                       publisher="b.example", copy_of=first)  # fmt: skip
    hez = archive.add("Hezbollah", "Hezbollah and Nasrallah.", T0 + timedelta(hours=2))
    archive.add("Nothing", "Weather report.", T0 + timedelta(hours=3))
    factory = session_factory(migrated_engine)

    unchanged = rematch(factory, archive.watchlist, batch=2)
    assert (unchanged.checked, unchanged.changed) == (4, 0)  # see also the store test below

    pmf = ClusterConfig(name="PMF", terms=(*CLUSTERS[0].terms, "Hashd"))
    narrower = ClusterConfig(name="Hezbollah", terms=("Nasrallah",))
    watchlist = Watchlist([pmf, narrower, *CLUSTERS[1:2], *CLUSTERS[3:]])
    result = rematch(factory, watchlist, batch=2)
    assert result.changed == 3
    assert result.rows() == [
        {"cluster": "Hezbollah", "added": 0, "removed": 0, "retermed": 1},
        {"cluster": "PMF", "added": 2, "removed": 0, "retermed": 0},
    ]
    assert mentions(migrated_engine) == {
        (first, "PMF", "Hashd", first),
        (copy, "PMF", "Hashd", first),  # the copy keeps its story
        (hez, "Hezbollah", "Nasrallah", hez),
    }
    again = rematch(factory, watchlist)
    assert again.changed == 0

    without_pmf = Watchlist([narrower])
    since = rematch(factory, without_pmf, since=T0 + timedelta(minutes=30))
    assert since.checked == 3
    assert since.rows() == [{"cluster": "PMF", "added": 0, "removed": 1, "retermed": 0}]
    assert (first, "PMF", "Hashd", first) in mentions(migrated_engine)


def test_articles_whose_text_retention_dropped_keep_their_mentions(
    migrated_engine: Engine,
) -> None:
    from sqlalchemy import update

    from storage.models import Article

    archive = make_archive(migrated_engine)
    old = archive.add("Weekly roundup", "The PMF moved to Basra.", T0, summary="Roundup.")
    with session_factory(migrated_engine).begin() as session:
        session.execute(update(Article).where(Article.id == old).values(text=None))
    before = mentions(migrated_engine)
    assert any(article == old for article, *_ in before), "it mentioned a cluster"
    result = rematch(session_factory(migrated_engine), archive.watchlist)
    assert result.kept == 1 and result.changed == 0
    assert mentions(migrated_engine) == before, "history is not rewritten from the summary"


def test_an_unchanged_watchlist_wants_exactly_what_the_store_wrote(
    migrated_engine: Engine, now: datetime
) -> None:
    watchlist = Watchlist(CLUSTERS)
    factory = session_factory(migrated_engine)
    store = ArticleStore(factory, watchlist, lambda: now)

    def add(path: str, title: str, text: str | None, **fields: object) -> None:
        values: dict[str, object] = {"publisher": "a.example", "published_at": now}
        values.update(fields)
        store.add(
            ArticleItem(f"https://a.example/{path}", "Wire", fetched_at=now, title=title,
                        text=text, **values)  # type: ignore[arg-type]
        )  # fmt: skip

    add("pmf", "PMF eyes the Interior Ministry",
        "The Hashd al-Shaabi wants Iraq's Interior Ministry. The PMF met in Baghdad.")  # fmt: skip
    add("copy", "PMF eyes the Interior Ministry",
        "The Hashd al-Shaabi wants Iraq's Interior Ministry. The PMF met in Baghdad.",
        publisher="b.example")  # fmt: skip
    add("title", "Hezbollah statement", "A statement was read out on Sunday.")
    add("summary", "Militia leader speaks", None, summary="Qais al-Khazali spoke.",
        extracted=False)  # fmt: skip
    add("arabic", "", "الحشد الشعبي يطالب بوزارة الداخلية في بغداد", language="ar")
    add("nothing", "Weather", "Rain in Basra.")
    store.close()
    stored = mentions(migrated_engine)
    assert {cluster for _, cluster, _, _ in stored} == {
        "PMF",
        "Interior Ministry",
        "Hezbollah",
        "Khazali",
    }

    result = rematch(factory, watchlist, batch=4)
    assert (result.checked, result.changed, result.kept) == (6, 0, 0)
    assert result.rows() == []
    assert mentions(migrated_engine) == stored
