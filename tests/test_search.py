"""Archive search: the index narrows, the watch-list matcher decides, results equal a
brute-force scan, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from support.report_archive import CLUSTERS, Archive, make_archive

from archive.search import SearchFilters, cluster_rules, compile_query, search
from archive.search_index import pending_count, rebuild_search_index, sync_search_index
from errors import QuerySyntaxError, WatchlistError
from storage.engine import session_factory, transaction
from storage.models import Article, Source
from watchlist.mentions import matchable_text

T0 = datetime(2026, 3, 1, 8, 0)
RULES = cluster_rules(CLUSTERS)


def find(archive: Archive, query: str, **filters: object) -> list[str]:
    factory = session_factory(archive.engine)
    sync_search_index(factory)
    with factory() as session:
        result = search(session, query, archive.watchlist, RULES, SearchFilters(**filters))  # type: ignore[arg-type]
    return [hit.title for hit in result.hits]


def brute_force(archive: Archive, query: str, filters: SearchFilters) -> list[int]:
    """Every article, the matcher, newest first: what search must return."""
    compiled = compile_query(query, filters.clusters, archive.watchlist)
    with session_factory(archive.engine)() as session:
        rows = session.execute(
            select(Article, Source.name).outerjoin(Source, Source.id == Article.source_id)
        ).all()
    kept = []
    for article, source in rows:
        if filters.since and article.seen_at < filters.since:
            continue
        if filters.until and article.seen_at >= filters.until:
            continue
        if filters.languages and article.language not in filters.languages:
            continue
        if filters.sources and not (
            source in filters.sources or article.publisher in filters.sources
        ):
            continue
        text = matchable_text(article.text, article.summary)
        if archive.watchlist.query_matches(compiled, text, article.title):
            kept.append(article)
    kept.sort(key=lambda a: (a.seen_at, a.id), reverse=True)
    return [a.id for a in kept[: filters.limit]]


def indexed(archive: Archive, query: str, filters: SearchFilters) -> list[int]:
    factory = session_factory(archive.engine)
    sync_search_index(factory)
    with factory() as session:
        result = search(session, query, archive.watchlist, RULES, filters)
    return [hit.id for hit in result.hits]


@pytest.fixture
def archive(migrated_engine: Engine) -> Archive:
    archive = make_archive(migrated_engine)
    add = archive.add
    add("Interior Ministry names new chief", "The Interior Ministry in Baghdad said...", T0)
    add(
        "Ministry row",
        "The interior of the ministry building was repainted.",
        T0 + timedelta(hours=1),
    )
    add(
        "PMF leaders meet",
        "Leaders of the Popular Mobilization Forces met in Iraq.",
        T0 + timedelta(hours=2),
    )
    add(
        "Hezbollah statement",
        "Hezbollah and Nasrallah spoke; France reacted.",
        T0 + timedelta(hours=3),
    )
    add(
        "France and Hezbollah", "Hezbollah was discussed in Paris, France.", T0 + timedelta(hours=4)
    )
    add("Rockets", "Kata'ib Hezbollah fired rockets near the base.", T0 + timedelta(hours=5))
    add("Militia chief", "Asa'ib Ahl al-Haq leader Qais el-Khazali spoke.", T0 + timedelta(hours=6))
    add(
        "بيان",
        "أعلنت قيادة والحشد الشعبي في بغداد عن عملية جديدة",
        T0 + timedelta(hours=7),
        language="ar",
    )
    add("وزارة", "قالت وزارة الداخليّة في العراق إن ...", T0 + timedelta(hours=8), language="ar")
    add(
        "distance",
        "Ministry spokesman said one two three four five six Interior",
        T0 + timedelta(hours=9),
    )
    add("near", "Ministry officials and the Interior staff", T0 + timedelta(hours=10))
    add("Old PMF piece", "The PMF was founded in 2014.", T0 - timedelta(days=40), source="Rudaw")
    return archive


def test_phrase_needs_the_words_together(archive: Archive) -> None:
    assert find(archive, '"Interior Ministry"') == ["Interior Ministry names new chief"]


def test_and_or_not(archive: Archive) -> None:
    assert find(archive, "Hezbollah NOT France") == ["Rockets"]
    assert find(archive, "Hezbollah AND France") == ["France and Hezbollah", "Hezbollah statement"]
    assert set(find(archive, "Nasrallah OR Khazali")) == {"Hezbollah statement", "Militia chief"}
    assert find(archive, "Hezbollah -France -Nasrallah") == ["Rockets"]


def test_near(archive: Archive) -> None:
    assert find(archive, "Ministry NEAR/3 Interior") == [
        "near",
        "Ministry row",
        "Interior Ministry names new chief",
    ]
    assert "distance" not in find(archive, "Ministry NEAR/7 Interior")
    assert "distance" in find(archive, "Ministry NEAR/8 Interior")


def test_cluster_reference_uses_the_current_watchlist(archive: Archive) -> None:
    # Kata'ib Hezbollah is a longer name: the Hezbollah cluster does not count there.
    assert find(archive, "@Hezbollah") == ["France and Hezbollah", "Hezbollah statement"]
    assert find(archive, "@PMF") == ["بيان", "PMF leaders meet", "Old PMF piece"]
    assert find(archive, '@"Interior Ministry"') == ["وزارة", "Interior Ministry names new chief"]


def test_arabic_prefixes_and_normalisation(archive: Archive) -> None:
    assert find(archive, "الحشد") == ["بيان"]
    assert find(archive, '"الحشد الشعبي"') == ["بيان"]
    assert find(archive, "حشد") == ["بيان"]
    # hamza and ta marbuta variants, harakat in the text
    assert find(archive, "اعلنت") == ["بيان"]
    assert find(archive, "الداخليه") == ["وزارة"]


def test_apostrophes_and_optional_al(archive: Archive) -> None:
    assert find(archive, "Asaib") == ["Militia chief"]
    assert find(archive, '"Qais al-Khazali"') == ["Militia chief"]


def test_filters(archive: Archive) -> None:
    assert find(archive, "PMF", since=T0 - timedelta(days=1)) == ["PMF leaders meet"]
    assert find(archive, "PMF", until=T0) == ["Old PMF piece"]
    assert find(archive, "PMF", sources=("Rudaw",)) == ["Old PMF piece"]
    assert find(archive, "@PMF", languages=("ar",)) == ["بيان"]
    assert find(archive, "Hezbollah", clusters=("Hezbollah",)) == [
        "France and Hezbollah",
        "Hezbollah statement",
    ]
    assert find(archive, "Hezbollah", limit=1) == ["Rockets"]


def test_only_negative_query_scans(archive: Archive) -> None:
    factory = session_factory(archive.engine)
    sync_search_index(factory)
    with factory() as session:
        result = search(
            session, "NOT Hezbollah", archive.watchlist, RULES, SearchFilters(limit=100)
        )
        assert result.strategy == "scan" and result.complete
        assert len(result.hits) == 12 - 3
        bounded = search(
            session, "NOT Hezbollah", archive.watchlist, RULES, SearchFilters(), scan_limit=3
        )
        assert not bounded.complete and len(bounded.hits) <= 3


def test_snippet_marks_the_match(archive: Archive) -> None:
    factory = session_factory(archive.engine)
    sync_search_index(factory)
    with factory() as session:
        result = search(session, "الحشد", archive.watchlist, RULES)
    (hit,) = result.hits
    assert "«والحشد»" in hit.snippet.marked()


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE articles; --",
        "Hezbollah') OR 1=1 --",
        "x* OR title:Hezbollah",
        "NEAR(Hezbollah France) ^Hezbollah",
        "Robert'); DELETE FROM articles WHERE ('1'='1",
        '"Hezbollah"" OR ""1"',
    ],
)
def test_sql_looking_queries_are_harmless(archive: Archive, query: str) -> None:
    filters = SearchFilters(limit=100)
    try:
        expected = brute_force(archive, query, filters)
    except QuerySyntaxError:
        with pytest.raises(QuerySyntaxError):
            indexed(archive, query, filters)
    else:
        assert indexed(archive, query, filters) == expected
    with session_factory(archive.engine)() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 12


def test_bad_query_and_unknown_cluster(archive: Archive) -> None:
    with pytest.raises(QuerySyntaxError) as error:
        find(archive, '"Interior Ministry')
    assert error.value.position == 0
    with pytest.raises(WatchlistError, match="unknown cluster @Nobody"):
        find(archive, "@Nobody")


def test_index_follows_edits_and_deletes(archive: Archive) -> None:
    factory = session_factory(archive.engine)
    sync_search_index(factory)
    assert find(archive, "Zebulon") == []
    with transaction(factory) as session:
        article = session.scalars(select(Article).where(Article.title == "Rockets")).one()
        article.text = "Zebulon wrote about the rockets."
    with factory() as session:
        assert pending_count(session) == 1
    assert find(archive, "Zebulon") == ["Rockets"]
    assert find(archive, '"Kataib Hezbollah"') == []
    with transaction(factory) as session:
        session.delete(session.scalars(select(Article).where(Article.title == "Rockets")).one())
    assert find(archive, "Zebulon") == []
    assert rebuild_search_index(factory) == 11
    assert find(archive, "Zebulon") == [] and find(archive, "PMF") != []


# ---- results equal a brute-force scan of a random archive ---------------------------

WORDS = [
    "Hezbollah", "Nasrallah", "PMF", "Hashd", "al-Shaabi", "Interior", "Ministry", "Iraq",
    "Baghdad", "France", "Asa'ib", "Asaib", "Khazali", "el-Khazali", "Qais", "the", "of",
    "الحشد", "والحشد", "بالحشد", "حشد", "الشعبي", "الشعبى", "وزارة", "الداخلية", "الداخليه",
    "العراق", "بغداد", "أعلنت", "اعلنت", "حزب", "الله", "Popular", "Mobilization", "Forces",
]  # fmt: skip
QUERY_WORDS = [
    "Hezbollah", "PMF", "Hashd", "Interior", "Ministry", "France", "Asaib", "Khazali",
    "الحشد", "حشد", "الشعبي", "الداخلية", "اعلنت", "الله", "Iraq", '"Interior Ministry"',
    '"الحشد الشعبي"', '"Qais al-Khazali"', '"حزب الله"', "@PMF", "@Hezbollah",
    '@"Interior Ministry"', "@Khazali",
]  # fmt: skip


def random_archive(archive: Archive, seed: int, size: int = 120) -> None:
    rng = random.Random(seed)
    for number in range(size):
        words = rng.choices(WORDS, k=rng.randint(3, 25))
        title = " ".join(rng.choices(WORDS, k=rng.randint(0, 4)))
        language = rng.choice(["en", "ar", None])
        archive.add(
            title,
            " ".join(words) if rng.random() > 0.1 else "",
            T0 + timedelta(minutes=rng.randint(0, 5000)),
            publisher=rng.choice(["a.example", "b.example"]),
            language=language,
            source=rng.choice([None, "Rudaw", "Shafaq"]),
            summary=" ".join(rng.choices(WORDS, k=4)) if number % 7 == 0 else None,
        )


def queries() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(QUERY_WORDS)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" AND ", " OR ", " ", " NOT "]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"
            ),
            st.tuples(inner, st.integers(0, 6), inner).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}"),
            inner.map(lambda q: f"NOT {q}"),
        ),
        max_leaves=5,
    )


@pytest.fixture
def random_filled(migrated_engine: Engine) -> Archive:
    archive = make_archive(migrated_engine)
    random_archive(archive, seed=7)
    sync_search_index(session_factory(migrated_engine))
    return archive


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=queries(),
    limit=st.sampled_from([5, 200]),
    language=st.sampled_from([(), ("ar",), ("en",)]),
    cluster=st.sampled_from([(), ("PMF",), ("Interior Ministry",)]),
    source=st.sampled_from([(), ("Rudaw",), ("b.example",)]),
)
def test_search_equals_brute_force(
    random_filled: Archive,
    query: str,
    limit: int,
    language: tuple[str, ...],
    cluster: tuple[str, ...],
    source: tuple[str, ...],
) -> None:
    filters = SearchFilters(
        since=T0 + timedelta(minutes=500) if limit == 5 else None,
        languages=language,
        clusters=cluster,
        sources=source,
        limit=limit,
    )
    with session_factory(random_filled.engine)() as session:
        try:
            expected = brute_force(random_filled, query, filters)
        except QuerySyntaxError:  # e.g. NOT under NEAR: search refuses it the same way
            with pytest.raises(QuerySyntaxError):
                search(session, query, random_filled.watchlist, RULES, filters)
            return
        result = search(session, query, random_filled.watchlist, RULES, filters)
    assert [hit.id for hit in result.hits] == expected
