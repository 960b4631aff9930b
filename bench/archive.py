"""A synthetic archive for the report/search benchmarks (and a fixture for tests).

``clusters()`` is a 20-cluster watch-list shaped like the default one (English and
Arabic aliases, a few two- and three-word names). ``generate(engine, n)`` writes ``n``
articles spread over a year: daily volume with a weekly rhythm and an hour-of-day
profile, Zipf-skewed publishers and cluster rates, a few spike days per cluster, 15 %
syndicated copies (same story, another publisher), 60/30/10 % English/Arabic/Persian.
Mentions are what the real watch-list finds, so a rematch right after finds nothing to
change. Inserts are bulk: executemany on SQLite, COPY on PostgreSQL.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, create_engine, insert, text

from config.models import ClusterConfig
from storage.models import Article, Mention, Source
from watchlist.matcher import Watchlist

START = datetime(2025, 11, 1)
DAYS = 365
CHUNK = 20_000

CLUSTER_TERMS: list[tuple[str, list[str]]] = [
    ("PMF", ["Popular Mobilization Forces", "Hashd al-Shaabi", "PMF", "الحشد الشعبي"]),
    ("Interior Ministry", ["Interior Ministry", "Ministry of Interior", "وزارة الداخلية"]),
    ("Soleimani", ["Qassem Soleimani", "Quds Force", "سليماني", "فيلق القدس"]),
    ("Hezbollah", ["Hezbollah", "Nasrallah", "حزب الله", "نصرالله"]),
    ("Khazali", ["Qais al-Khazali", "Asa'ib Ahl al-Haq", "عصائب أهل الحق", "الخزعلي"]),
    ("US troops", ["US troops", "American forces", "القوات الأمريكية"]),
    ("ISIS", ["ISIS", "Islamic State", "داعش"]),
    ("Peshmerga", ["Peshmerga", "البيشمركة", "پیشمرگه"]),
    ("Basra protests", ["Basra protests", "protesters in Basra", "تظاهرات البصرة"]),
    ("Israeli strikes", ["Israeli strike", "Israeli airstrike", "غارة إسرائيلية"]),
    ("Kataib Hezbollah", ["Kataib Hezbollah", "كتائب حزب الله"]),
    ("Badr", ["Badr Organization", "Hadi al-Amiri", "منظمة بدر", "العامري"]),
    ("Sadr", ["Muqtada al-Sadr", "Saraya al-Salam", "مقتدى الصدر"]),
    ("Kurdistan", ["Kurdistan Region", "Erbil", "أربيل", "اقليم كردستان"]),
    ("Oil", ["oil exports", "Basra oil", "صادرات النفط"]),
    ("Elections", ["Iraqi elections", "electoral commission", "الانتخابات العراقية"]),
    ("Drones", ["drone attack", "armed drone", "طائرة مسيرة"]),
    ("Sanctions", ["US sanctions", "Treasury sanctions", "العقوبات الأمريكية"]),
    ("Syria border", ["Al-Qaim", "Albu Kamal", "القائم", "البوكمال"]),
    ("Iran", ["Tehran", "IRGC", "الحرس الثوري", "سپاه پاسداران"]),
]

LATIN = "bcdfghklmnprstvz"
VOWELS = "aeiou"
ARABIC = "ابتجحدرسشصطعفقكلمنهوي"
COMMON_EN = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "on",
    "for",
    "with",
    "said",
    "that",
    "by",
    "from",
    "at",
    "as",
    "was",
    "has",
    "were",
    "is",
]
COMMON_AR = ["في", "من", "على", "إلى", "أن", "التي", "الذي", "عن", "مع", "قال", "هذا"]


def clusters() -> list[ClusterConfig]:
    return [ClusterConfig(name=name, terms=tuple(terms)) for name, terms in CLUSTER_TERMS]


@dataclass(frozen=True)
class Vocabulary:
    english: list[str]
    arabic: list[str]
    weights: list[float]


def vocabulary(rng: random.Random, size: int = 8000) -> Vocabulary:
    english = list(COMMON_EN)
    while len(english) < size:
        english.append(
            "".join(rng.choice(LATIN) + rng.choice(VOWELS) for _ in range(rng.randint(2, 4)))
        )
    english += ["interior", "ministry", "forces", "popular", "state", "islamic", "strike"]
    arabic = list(COMMON_AR)
    while len(arabic) < len(english):
        arabic.append("".join(rng.choice(ARABIC) for _ in range(rng.randint(3, 6))))
    weights = [1 / (rank + 1) for rank in range(len(english))]
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    return Vocabulary(english, arabic, cumulative)


def _spikes(rng: random.Random) -> dict[int, set[int]]:
    """Day -> clusters spiking that day (about six spike days per cluster)."""
    days: dict[int, set[int]] = {}
    for number in range(len(CLUSTER_TERMS)):
        for _ in range(6):
            first = rng.randrange(DAYS)
            for day in range(first, min(DAYS, first + rng.randint(1, 3))):
                days.setdefault(day, set()).add(number)
    return days


def _times(rng: random.Random, n: int) -> list[datetime]:
    weights = [1.0 if (START + timedelta(days=d)).weekday() < 5 else 0.6 for d in range(DAYS)]
    days = rng.choices(range(DAYS), weights=weights, k=n)
    hours = [0.3 + math.sin(math.pi * max(0, h - 5) / 19) for h in range(24)]
    moments = [
        START
        + timedelta(
            days=day, hours=rng.choices(range(24), weights=hours)[0], seconds=rng.randrange(3600)
        )
        for day in days
    ]
    return sorted(moments)


def _article_rows(rng: random.Random, n: int, words: int) -> Iterator[dict[str, object]]:
    vocab = vocabulary(rng)
    spikes = _spikes(rng)
    publishers = [f"publisher-{k:03d}.example" for k in range(400)]
    publisher_weights = [1 / (k + 1) ** 0.8 for k in range(400)]
    rates = [0.12 / (k + 1) ** 0.7 for k in range(len(CLUSTER_TERMS))]
    recent: list[dict[str, object]] = []
    for article_id, moment in enumerate(_times(rng, n), start=1):
        rank = rng.choices(range(len(publishers)), weights=publisher_weights)[0]
        publisher = publishers[rank]
        source_id = 1 + rank % 80 if rng.random() < 0.9 else None
        if recent and rng.random() < 0.15:
            original = rng.choice(recent)
            row = dict(original)
            row.update(
                id=article_id,
                url=f"https://{publisher}/a/{article_id}",
                publisher=publisher,
                source_id=source_id,
                duplicate_of_id=original["id"],
                seen_at=moment,
                published_at=moment,
                fetched_at=moment + timedelta(minutes=rng.randint(1, 90)),
            )
            yield row
            continue
        roll = rng.random()
        language = "en" if roll < 0.6 else "ar" if roll < 0.9 else "fa"
        pool = vocab.english if language == "en" else vocab.arabic
        body = rng.choices(pool, cum_weights=vocab.weights, k=words)
        spiking = spikes.get((moment - START).days, set())
        for number, (_, terms) in enumerate(CLUSTER_TERMS):
            rate = rates[number] * (8 if number in spiking else 1)
            if rng.random() < rate:
                latin = [t for t in terms if t.isascii()]
                native = [t for t in terms if not t.isascii()] or latin
                choices = latin if language == "en" else native
                for _ in range(rng.randint(1, 3)):
                    body.insert(rng.randrange(len(body)), rng.choice(choices))
        title_words = body[: rng.randint(6, 12)]
        row = {
            "id": article_id,
            "url": f"https://{publisher}/a/{article_id}",
            "source_id": source_id,
            "publisher": publisher,
            "title": " ".join(title_words).capitalize(),
            "text": " ".join(body) + ".",
            "summary": None,
            "language": language,
            "published_at": moment,
            "fetched_at": moment + timedelta(minutes=rng.randint(1, 90)),
            "seen_at": moment,
            "story_id": article_id,
            "duplicate_of_id": None,
            "extracted": True,
        }
        recent.append(row)
        if len(recent) > 300:
            recent.pop(0)
        yield row


def generate(engine: Engine, n: int, *, words: int = 150, seed: int = 20191120) -> dict[str, float]:
    """Write ``n`` articles and their mentions; returns timings in seconds."""
    rng = random.Random(seed)
    watchlist = Watchlist(clusters())
    timings = {"generate": 0.0, "match": 0.0, "insert": 0.0}
    with engine.begin() as connection:
        connection.execute(
            insert(Source),
            [
                {
                    "id": k,
                    "name": f"source-{k:02d}",
                    "url": f"https://source-{k:02d}.example/rss",
                    "kind": "feed",
                    "enabled": True,
                    "interval_seconds": 900,
                    "next_poll_at": START,
                    "created_at": START,
                    "consecutive_failures": 0,
                    "healthy": True,
                }
                for k in range(1, 81)
            ],
        )
    rows = _article_rows(rng, n, words)
    while True:
        started = time.perf_counter()
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        timings["generate"] += time.perf_counter() - started
        if not chunk:
            break
        started = time.perf_counter()
        mentions = []
        for row in chunk:
            for match in watchlist.match(str(row["text"]), str(row["title"])):
                for term in dict.fromkeys(match.terms):
                    mentions.append(
                        {
                            "article_id": row["id"],
                            "cluster": match.name,
                            "term": term,
                            "hits": match.hits,
                            "seen_at": row["seen_at"],
                            "story_id": row["story_id"],
                        }
                    )
        timings["match"] += time.perf_counter() - started
        started = time.perf_counter()
        _bulk_insert(engine, chunk, mentions)
        timings["insert"] += time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("articles", "mentions", "sources"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    return timings


ARTICLE_COLUMNS = (
    "id", "url", "source_id", "publisher", "title", "text", "summary", "language",
    "published_at", "fetched_at", "seen_at", "story_id", "duplicate_of_id", "extracted",
)  # fmt: skip
MENTION_COLUMNS = ("article_id", "cluster", "term", "hits", "seen_at", "story_id")


def _bulk_insert(
    engine: Engine, articles: list[dict[str, object]], mentions: list[dict[str, object]]
) -> None:
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            connection.execute(insert(Article), articles)
            if mentions:
                connection.execute(insert(Mention), mentions)
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, columns, rows in (
            ("articles", ARTICLE_COLUMNS, articles),
            ("mentions", MENTION_COLUMNS, mentions),
        ):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        raw.commit()
    finally:
        raw.close()


@contextmanager
def scratch_schema(postgres_url: str, prefix: str) -> Iterator[str | None]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards; None (with
    one line saying why) when the server cannot be reached."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        print(f"\n--- PostgreSQL skipped: {str(exc).splitlines()[0]}")
        admin.dispose()
        yield None
        return
    try:
        separator = "&" if "?" in postgres_url else "?"
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
