"""Generated hostile sources, crawled for real: the class of loss paths closed, not just
the examples found in review.

Each example serves a few generated sources from the local newsroom (RSS, Atom, JSON
Feed, sitemaps and sitemap indexes, with dates from year 1 to 9999 with and without
zones, relative, broken and 10 KB links, entity tricks, odd encodings, any status code
and any ``Retry-After``/validator headers), runs the real ``mediawatch crawl --once`` on
a fresh database, and checks what a user relies on:

* the crawl exits 0, without a traceback;
* a source recorded ``ok`` has every well-formed entry stored, each URL exactly once
  (a recent or undated one, for sitemaps, which only follow what is new);
* ``partial`` and ``error`` polls are due again within ``max_interval`` (plus jitter);
  an ``ok`` poll is not due again before ``min_interval`` (minus jitter): no source
  loops, none is parked forever;
* ``sources status`` agrees with the summary the crawl printed.

``make test`` runs a few examples; ``make fuzz`` (``MEDIAWATCH_FUZZ_EXAMPLES``) runs many.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support.newsroom import Newsroom, Reply, page
from support.processes import mediawatch

from spiders.parsing.canonical import canonical_url

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "8"))
MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(hours=6)
JITTER = 0.1
RECENT = timedelta(days=3)


# -- what a generated source is ----------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    link: str
    """How the document writes the link (relative, absolute, broken...), ``{base}`` and
    ``{dir}`` standing for the site and the document's folder."""
    target: str | None
    """The page path it leads to, when the link is well formed; else None."""
    date: str | None
    """The date as written (RFC 822 for RSS, ISO 8601 elsewhere), or None."""
    recent: bool
    """Whether the date is one a sitemap reader must take as new (recent or absent)."""
    title: str
    page_status: int


@dataclass(frozen=True)
class Source:
    kind: str
    """rss, atom, json, urlset or index."""
    entries: tuple[Entry, ...]
    status: int
    headers: tuple[tuple[str, str], ...]
    encoding: str
    broken_document: bool
    children: tuple[tuple[int, tuple[Entry, ...]], ...] = ()
    """For an index: each child's status and entries."""


# -- strategies ---------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(tzinfo=None)
xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40).map(
    str.strip
)
zones = st.sampled_from([None, 0, 60, -60, 330, -720, 840])
GARBAGE_DATES = ["yesterday", "0000-00-00", "2026-13-45T99:99", "nan", "-1"]
LINK_SHAPES = ["absolute", "absolute", "relative", "root", "query", "broken", "long"]
BROKEN_LINKS = ["http://[oops/", "javascript:alert(1)", "mailto:a@b.example", "", "   ", "http://"]
ENTITY_TRICKS = ["&amp;lt;b&amp;gt;", "]]>", "&#0;", "A &nbsp; B"]
ODD_HEADER_VALUES = [
    "1000000000000",
    "1e20",
    "nan",
    "-5",
    "inf",
    "0",
    "120",
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -0100",
    "soon",
]
HEADER_NAMES = ["Retry-After", "ETag", "Last-Modified", "Cache-Control", "Content-Type"]


@st.composite
def dates(draw: st.DrawFn, kind: str) -> tuple[str | None, bool]:
    """A written date and whether a reader must treat it as recent (or absent)."""
    choice = draw(st.sampled_from(["none", "recent", "old", "extreme", "garbage", "future"]))
    if choice == "none":
        return None, True
    if choice == "garbage":
        return draw(st.sampled_from(GARBAGE_DATES)), False
    if choice == "recent":
        moment = NOW - draw(st.timedeltas(timedelta(0), timedelta(days=2)))
    elif choice == "old":
        moment = draw(st.datetimes(datetime(1, 1, 2), NOW - timedelta(days=10)))
    elif choice == "future":
        moment = draw(st.datetimes(NOW + timedelta(days=1), datetime(9999, 12, 30)))
    else:
        moment = draw(st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)]))
    offset = draw(zones)
    zone = None if offset is None else timezone(timedelta(minutes=offset))
    aware = moment.replace(tzinfo=zone or UTC)
    if kind == "rss":
        text = format_datetime(aware) if zone else format_datetime(aware).rsplit(" ", 1)[0]
    else:
        text = moment.isoformat() + ("" if zone is None else aware.isoformat()[-6:])
    # A reader may read an extreme or zone-less recent date either way; require only what
    # is unambiguous: recent with a zone (or UTC), or absent.
    return text, choice == "recent" and zone is not None


@st.composite
def entries(draw: st.DrawFn, kind: str, prefix: str) -> Entry:
    n = draw(st.integers(0, 10_000))
    path = f"{prefix}/p/{n}.html"
    shape = draw(st.sampled_from(LINK_SHAPES))
    target: str | None = path
    if shape == "absolute":
        link = "{base}" + path
    elif shape == "relative":
        link = f"p/{n}.html"  # relative to the document's folder, which is the prefix
    elif shape == "root":
        link = path
    elif shape == "query":
        link = "{base}" + path + "?utm_source=feed&id=" + str(n)
    elif shape == "long":
        length = draw(st.integers(2100, 10_000))
        link = "{base}" + f"{prefix}/p/{'x' * length}.html"
        target = None
    else:
        link = draw(st.sampled_from(BROKEN_LINKS))
        target = None
    date, recent = draw(dates(kind))
    title = draw(st.one_of(xml_text, st.sampled_from(ENTITY_TRICKS)))
    page_status = draw(st.sampled_from([200, 200, 200, 404, 500]))
    return Entry(link, target, date, recent, title, page_status)


header_values = st.one_of(
    st.sampled_from(ODD_HEADER_VALUES),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


@st.composite
def sources(draw: st.DrawFn, prefix: str) -> Source:
    kind = draw(st.sampled_from(["rss", "atom", "json", "urlset", "index"]))
    date_kind = "rss" if kind == "rss" else "iso"
    items = tuple(draw(st.lists(entries(date_kind, prefix), max_size=6)))
    status = draw(st.sampled_from([200, 200, 200, 200, 304, 404, 429, 500, 503]))
    names = st.sampled_from(HEADER_NAMES)
    headers = tuple(draw(st.lists(st.tuples(names, header_values), max_size=3)))
    children: tuple[tuple[int, tuple[Entry, ...]], ...] = ()
    if kind == "index":
        children = tuple(
            (
                draw(st.sampled_from([200, 200, 404, 500])),
                tuple(draw(st.lists(entries("iso", prefix), max_size=4))),
            )
            for _ in range(draw(st.integers(1, 3)))
        )
    return Source(
        kind=kind,
        entries=items,
        status=status,
        headers=headers,
        encoding=draw(st.sampled_from(["utf-8", "utf-8", "iso-8859-1", "windows-1256"])),
        broken_document=draw(st.booleans()) and draw(st.booleans()),
        children=children,
    )


# -- rendering ----------------------------------------------------------------------------


def _link(entry: Entry, base: str) -> str:
    return entry.link.replace("{base}", base)


def render(source: Source, entries: tuple[Entry, ...], base: str, kind: str) -> bytes:
    def x(text: str) -> str:
        return escape(text, {'"': "&quot;"})

    if kind == "json":
        items = [
            {
                "id": str(i),
                "url": _link(e, base),
                "title": e.title,
                **({"date_published": e.date} if e.date else {}),
            }
            for i, e in enumerate(entries)
        ]
        feed = {"version": "https://jsonfeed.org/version/1.1", "title": "F", "items": items}
        return json.dumps(feed).encode()
    if kind == "rss":
        body = "".join(
            f"<item><title>{x(e.title)}</title><link>{x(_link(e, base))}</link>"
            + (f"<pubDate>{x(e.date)}</pubDate>" if e.date else "")
            + "</item>"
            for e in entries
        )
        text = f'<rss version="2.0"><channel><title>F</title>{body}</channel></rss>'
    elif kind == "atom":
        body = "".join(
            f'<entry><title>{x(e.title)}</title><link href="{x(_link(e, base))}"/><id>u:{i}</id>'
            + (f"<updated>{x(e.date)}</updated>" if e.date else "")
            + "</entry>"
            for i, e in enumerate(entries)
        )
        text = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>{body}</feed>'
    else:
        body = "".join(
            f"<url><loc>{x(_link(e, base))}</loc>"
            + (f"<lastmod>{x(e.date)}</lastmod>" if e.date else "")
            + "</url>"
            for e in entries
        )
        text = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
    document = f'<?xml version="1.0" encoding="{source.encoding}"?>\n{text}'
    if source.broken_document:
        document = document[: len(document) * 2 // 3] + "&undefined; <unclosed"
    return document.encode(source.encoding, errors="xmlcharrefreplace")


def article_html(title: str, n: int) -> str:
    paragraphs = "".join(
        f"<p>Report {n}, part {i}: officials in Baghdad met to discuss the security situation "
        f"in the provinces, and lawmakers said the talks would continue next week.</p>"
        for i in range(4)
    )
    head = f"<head><title>{escape(title)}</title></head>"
    return (
        f"<html>{head}<body><article><h1>{escape(title)}</h1>{paragraphs}</article></body></html>"
    )


@dataclass
class Served:
    name: str
    source: Source
    url: str
    required: set[str] = field(default_factory=set)
    """Canonical URLs that must be stored when the poll is recorded ok."""

    @property
    def kind(self) -> str:
        return "sitemap" if self.source.kind in ("urlset", "index") else "feed"


def serve(room: Newsroom, name: str, source: Source, prefix: str) -> Served:
    base = room.base()
    headers = {"Content-Type": "application/xml"} | dict(source.headers)
    served = Served(name, source, f"{base}{prefix}/source")

    def pages(entries: tuple[Entry, ...]) -> None:
        for entry in entries:
            if entry.target is None:
                continue
            n = len(entry.target)
            room.route(
                entry.target, page(article_html(entry.title or "Untitled", n), entry.page_status)
            )

    def require(entries: tuple[Entry, ...], sitemap: bool) -> None:
        for entry in entries:
            if entry.target is not None and (entry.recent or not sitemap):
                served.required.add(canonical_url(_link(entry, base), base=served.url))

    if source.kind == "index":
        children = []
        for number, (status, child_entries) in enumerate(source.children):
            path = f"{prefix}/child{number}.xml"
            children.append(f"<sitemap><loc>{base}{path}</loc></sitemap>")
            body = render(source, child_entries, base, "urlset") if status == 200 else b"gone"
            room.route(path, Reply(status, body, {"Content-Type": "application/xml"}))
            pages(child_entries)
            if status == 200 and not source.broken_document:
                require(child_entries, sitemap=True)
        document = (
            f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{''.join(children)}</sitemapindex>"
        ).encode()
    else:
        document = render(source, source.entries, base, source.kind)
        pages(source.entries)
        if not source.broken_document:
            require(source.entries, sitemap=source.kind == "urlset")
    room.route(f"{prefix}/source", Reply(source.status, document, headers))
    return served


# -- the harness --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def room() -> Iterator[Newsroom]:
    room = Newsroom().start()
    yield room
    room.stop()


def cli_json(config: Path, *args: str) -> list[dict[str, object]]:
    """The CLI in this process (status and export need no reactor)."""
    from mediawatch.cli import main

    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main(["--config", str(config), *args])
    assert exited.value.code in (0, None), out.getvalue()
    text = out.getvalue()
    if args[0] == "export":
        return [json.loads(line) for line in text.splitlines()]
    return json.loads(text)  # type: ignore[no-any-return]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
    phases=[Phase.explicit, Phase.generate],  # each example is a real crawl: no shrinking
)
@given(data=st.data())
def test_generated_hostile_sources_lose_nothing_and_never_loop(
    room: Newsroom, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    run_id = uuid.uuid4().hex[:8]
    served = []
    for k in range(3):
        prefix = f"/{run_id}/s{k}"
        source = data.draw(sources(prefix), label=f"source {k}")
        served.append(serve(room, f"Source {k}", source, prefix))
    folder = tmp_path_factory.mktemp("fuzz")
    blocks = "".join(
        f'[[sources]]\nname = "{s.name}"\nurl = "{s.url}"\nkind = "{s.kind}"\n\n' for s in served
    )
    config = folder / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "mw.db"}"\n\n[crawl]\n'
        'allow_private_networks = true\ntimeout = "3s"\ndelay = "0s"\n'
        'concurrency_per_domain = 4\nmin_interval = "5m"\nmax_interval = "6h"\n\n'
        f'[[clusters]]\nname = "Baghdad"\nterms = ["Baghdad"]\n\n{blocks}',
        encoding="utf-8",
    )
    assert mediawatch(config, "init").code == 0
    run = mediawatch(config, "crawl", "--once", "--format", "json")
    assert run.code == 0, run.err[-3000:]
    assert "Traceback" not in run.err, run.err[-3000:]
    summary = {str(row["source"]): row for row in json.loads(run.out)}
    status = {
        str(row["name"]): row for row in cli_json(config, "sources", "status", "--format", "json")
    }
    stored = [str(row["url"]) for row in cli_json(config, "export", "--format", "jsonl")]
    assert len(stored) == len(set(stored)), "an article stored twice"

    for s in served:
        row = status[s.name]
        assert row["result"] == summary[s.name]["status"], (s.name, row, summary[s.name])
        last = datetime.fromisoformat(str(row["last_poll"])).replace(tzinfo=None)
        due = datetime.fromisoformat(str(row["next_due"])).replace(tzinfo=None) - last
        assert due <= MAX_INTERVAL * (1 + JITTER) + timedelta(seconds=1), (s.name, row)
        if row["result"] in ("ok", "not_modified"):
            assert due >= MIN_INTERVAL * (1 - JITTER) - timedelta(seconds=1), (s.name, row)
        if row["result"] == "ok":
            missing = s.required - set(stored)
            assert not missing, (s.name, row, missing)
        elif row["result"] == "partial":
            assert row["error"], row  # says what is missing
        elif row["result"] == "error":
            assert row["error"] and row["failures"] == 1, row
