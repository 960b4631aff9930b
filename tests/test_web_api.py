"""``/api/v1`` against a real server over a real archive, on SQLite and on PostgreSQL: the
CLI's JSON shapes, the OpenAPI document every answer follows, and bad input as a 4xx JSON
error, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from support.web import (
    ARABIC_TITLE,
    HOSTILE_TITLES,
    DeskArchive,
    RunningDesk,
    build_desk_archive,
    serve_desk,
)

from mediawatch.web.desk import Desk
from storage.engine import session_factory, transaction
from storage.models import Source

API = "/api/v1"


@pytest.fixture
def desk_archive(tmp_path: Path, db_url: str, now: datetime) -> Iterator[DeskArchive]:
    """The desk's archive on each database (``running_desk`` serves this one here)."""
    built = build_desk_archive(tmp_path, db_url, now)
    yield built
    built.engine.dispose()


def answer_schema(doc: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    """The JSON schema the OpenAPI document gives for ``path``'s ``status`` answer, with the
    components beside it so its ``#/components/...`` references resolve."""
    template = next(
        name
        for name in doc["paths"]
        if name.split("{")[0] == path.split("?")[0][: len(name.split("{")[0])]
        and name.count("/") == path.split("?")[0].count("/")
    )
    responses = doc["paths"][template]["get"]["responses"]
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    return {**schema, "components": doc["components"]}


def follows_document(desk: RunningDesk, path: str, **options: Any) -> Any:
    """GET ``path``; assert the answer is JSON shaped as the OpenAPI document says."""
    doc = desk.get(f"{API}/openapi.json").json()
    reply = desk.get(path, **options)
    assert reply.headers["content-type"].startswith("application/json"), reply
    body = reply.json()
    Draft202012Validator(answer_schema(doc, path, reply.status)).validate(body)
    return reply.status, body


def test_clusters_show_the_last_day_against_usual(running_desk: RunningDesk) -> None:
    status, body = follows_document(running_desk, f"{API}/clusters")
    assert status == 200
    by_name = {row["name"]: row for row in body}
    assert [row["name"] for row in body][:3] == ["PMF", "Interior Ministry", "Hezbollah"]
    pmf = by_name["PMF"]
    # The convoy story and its wire copy count once; the Arabic story and the <script> title.
    assert pmf["stories_24h"] == 3
    assert pmf["usual"] == pytest.approx(14 / 14)
    assert pmf["open_episode"] == pmf["open_episodes"][0]
    assert by_name["Hezbollah"]["open_episode"] is None


def test_trends_are_the_report_rows(
    running_desk: RunningDesk, desk_archive: DeskArchive, cli
) -> None:  # type: ignore[no-untyped-def]
    since, until = "2026-11-10", "2026-11-20T12:00"
    status, body = follows_document(
        running_desk, f"{API}/trends", params={"by": "day", "since": since, "until": until}
    )
    assert status == 200
    report = cli("--config", str(desk_archive.config_path), "report", "--by", "day",
                 "--since", since, "--until", until, "--format", "json")  # fmt: skip
    assert report.code == 0, report
    assert body == json.loads(report.out)
    _, only = follows_document(
        running_desk, f"{API}/trends", params={"by": "week", "cluster": "Hezbollah"}
    )
    assert {row["cluster"] for row in only} == {"Hezbollah"}


@pytest.mark.parametrize(
    "query", ["PMF", '"convoy moved north"', "@PMF AND NOT convoy", "الحشد", "Hezbollah OR PMF"]
)
def test_search_agrees_with_the_cli(
    running_desk: RunningDesk, desk_archive: DeskArchive, cli, query: str
) -> None:  # type: ignore[no-untyped-def]
    status, body = follows_document(running_desk, f"{API}/search", params={"q": query, "limit": 50})
    assert status == 200
    found = cli("--config", str(desk_archive.config_path), "search", query,
                "--limit", "50", "--format", "json")  # fmt: skip
    assert found.code == 0, found
    assert body == json.loads(found.out)
    assert body, f"{query!r} should find something"


def test_search_filters_and_pages(running_desk: RunningDesk) -> None:
    everything = running_desk.get(f"{API}/search", params={"q": "PMF", "limit": 100}).json()
    first = running_desk.get(f"{API}/search", params={"q": "PMF", "limit": 2}).json()
    second = running_desk.get(f"{API}/search", params={"q": "PMF", "limit": 2, "offset": 2}).json()
    assert first + second == everything[:4]
    arabic = running_desk.get(f"{API}/search", params={"q": "@PMF", "language": "ar"}).json()
    assert [hit["title"] for hit in arabic] == [ARABIC_TITLE]
    shafaq = running_desk.get(f"{API}/search", params={"q": "@PMF", "source": "Shafaq"}).json()
    assert {hit["source"] for hit in shafaq} == {"Shafaq"}
    recent = running_desk.get(f"{API}/search", params={"q": "PMF", "since": "2026-11-20"}).json()
    assert recent and all(hit["seen_at"] >= "2026-11-20" for hit in recent)
    hostile = running_desk.get(f"{API}/search", params={"q": "alert", "limit": 5}).json()
    assert {hit["title"] for hit in hostile} <= set(HOSTILE_TITLES)


@pytest.mark.slow  # serves the desk
def test_episodes_and_sources_are_the_cli_rows(desk_archive: DeskArchive, cli) -> None:  # type: ignore[no-untyped-def]
    # The CLI reads the wall clock: so does this desk.
    config = str(desk_archive.config_path)
    with serve_desk(Desk(desk_archive.config, desk_archive.engine)) as desk:
        status, episodes = follows_document(desk, f"{API}/episodes", params={"since": "2020-01-01"})
        assert status == 200
        listed = cli(
            "--config", config, "alerts", "list", "--since", "2020-01-01", "--format", "json"
        )
        assert episodes == json.loads(listed.out)
        assert [row["cluster"] for row in episodes] == ["PMF"]
        status, sources = follows_document(desk, f"{API}/sources")
        assert status == 200
        health = json.loads(cli("--config", config, "sources", "status", "--format", "json").out)
        assert [{column: row[column] for column in health[0]} for row in sources] == health
        assert [row["name"] for row in sources] == ["Rudaw", "Shafaq"]


def test_sources_say_their_kind_and_a_telegram_channel(
    running_desk: RunningDesk, desk_archive: DeskArchive
) -> None:
    with transaction(session_factory(desk_archive.engine)) as session:
        session.add(
            Source(
                name="PMF channel", url="https://t.me/s/pmf_media", kind="telegram",
                enabled=True, interval_seconds=900, next_poll_at=desk_archive.now,
                created_at=desk_archive.now, consecutive_failures=0, healthy=True,
            )
        )  # fmt: skip
    status, sources = follows_document(running_desk, f"{API}/sources")
    assert status == 200
    by_name = {row["name"]: row for row in sources}
    assert by_name["PMF channel"]["kind"] == "telegram"
    assert by_name["PMF channel"]["channel"] == "https://t.me/pmf_media"
    assert (by_name["Rudaw"]["kind"], by_name["Rudaw"]["channel"]) == ("feed", None)


def test_an_article_with_its_story(running_desk: RunningDesk, desk_archive: DeskArchive) -> None:
    ids = desk_archive.ids
    status, copy = follows_document(running_desk, f"{API}/articles/{ids['copy']}")
    assert status == 200
    assert copy["story_id"] == ids["original"] and copy["duplicate_of"] == ids["original"]
    assert [c["id"] for c in copy["copies"]] == [ids["original"]]
    assert {m["cluster"] for m in copy["mentions"]} == {"PMF"}
    _, original = follows_document(running_desk, f"{API}/articles/{ids['original']}")
    assert [c["id"] for c in original["copies"]] == [ids["copy"]]
    assert original["source"] == "Rudaw" and original["summary"] == "Convoy."
    _, arabic = follows_document(running_desk, f"{API}/articles/{ids['arabic']}")
    assert arabic["title"] == ARABIC_TITLE and arabic["language"] == "ar"


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/search", {"q": "((("}, 400, "position"),
        ("/search", {"q": '"unclosed'}, 400, "position"),
        ("/search", {"q": "@Nobody"}, 400, "unknown cluster"),
        ("/search", {"q": "PMF", "since": "yesterday-ish"}, 400, "not a time"),
        ("/search", {"q": "PMF", "limit": 0}, 422, "limit"),
        ("/search", {"q": "PMF", "limit": 101}, 422, "limit"),
        ("/search", {"q": "PMF", "offset": -1}, 422, "offset"),
        ("/search", {"q": "PMF", "cluster": "Nobody"}, 404, "unknown cluster"),
        ("/search", {}, 422, "q"),
        ("/search", {"q": "PMF\x00"}, 400, "NUL"),
        ("/trends", {"by": "month"}, 422, "by"),
        ("/trends", {"since": "2026-11-20", "until": "2026-11-01"}, 400, "after"),
        ("/trends", {"by": "hour", "since": "1970-01-01"}, 400, "buckets"),
        ("/trends", {"cluster": "Nobody"}, 404, "unknown cluster"),
        ("/episodes", {"since": "soon"}, 400, "not a time"),
        ("/articles/999999", {}, 404, "no article"),
        ("/articles/abc", {}, 422, "article_id"),
        ("/nothing-here", {}, 404, "Not Found"),
    ],
)
def test_bad_input_is_a_json_error(
    running_desk: RunningDesk, path: str, params: dict[str, Any], status: int, says: str
) -> None:
    reply = running_desk.get(API + path, params=params)
    assert reply.status == status, reply
    assert set(reply.json()) == {"error"}
    assert says in reply.json()["error"]
    if path != "/nothing-here":
        doc = running_desk.get(f"{API}/openapi.json").json()
        Draft202012Validator(answer_schema(doc, API + path, status)).validate(reply.json())


def test_the_document_describes_every_endpoint(running_desk: RunningDesk) -> None:
    doc = running_desk.get(f"{API}/openapi.json").json()
    assert set(doc["paths"]) == {
        f"{API}/{name}"
        for name in ("clusters", "trends", "search", "episodes", "sources", "articles/{article_id}")
    }
    hit = doc["components"]["schemas"]["SearchHit"]
    assert {"id", "title", "snippet", "highlights"} <= set(hit["required"])
    for operation in doc["paths"].values():
        assert {"200", "400", "404", "422"} <= set(operation["get"]["responses"])


any_text = st.text(st.characters(codec="utf-8"), max_size=60)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    q=any_text,
    since=st.one_of(st.none(), any_text, st.sampled_from(["7d", "2026-11-01", "99999999d"])),
    limit=st.one_of(st.none(), st.integers(-5, 200), any_text),
    extra=st.dictionaries(st.sampled_from(["source", "language", "cluster", "offset"]), any_text),
)
def test_no_search_is_a_server_error(
    running_desk: RunningDesk, q: str, since: str | None, limit: object, extra: dict[str, str]
) -> None:
    params: dict[str, Any] = {"q": q, **extra}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["limit"] = limit
    reply = running_desk.get(f"{API}/search", params=params)
    assert reply.status == 200 or 400 <= reply.status < 500, reply
    body = reply.json()
    assert isinstance(body, list) if reply.status == 200 else set(body) == {"error"}


def test_no_trend_is_a_server_error(running_desk: RunningDesk) -> None:
    now = datetime(2026, 11, 20, 12)
    for since in ("0001-01-01", "9999-12-31T23:59", "1000000d", "0d", str(now + timedelta(days=1))):
        for by in ("hour", "day", "week"):
            reply = running_desk.get(f"{API}/trends", params={"since": since, "by": by})
            assert reply.status in (200, 400), (since, by, reply)
