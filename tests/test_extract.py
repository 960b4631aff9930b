"""Article extraction: text, metadata and language from real and hostile pages."""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

import pytest

from spiders.parsing.extract import extract_article
from spiders.parsing.language import choose_language, detect_language

BENCH = Path(__file__).resolve().parents[1] / "bench"

PARAGRAPHS = [
    "The Popular Mobilization Forces pressed again on Monday for control of the Interior "
    "Ministry, according to three members of parliament who spoke on condition of anonymity.",
    "The negotiations have stalled for weeks over the nomination of a candidate close to the "
    "armed factions, a move opposed by several Sunni and Kurdish blocs in Baghdad.",
    "Officials said a final vote could take place before the end of the month, although "
    "previous sessions collapsed when the quorum was not reached.",
]


def page(body: str, *, head: str = "", lang: str | None = "en") -> str:
    lang_attr = f' lang="{lang}"' if lang else ""
    return (
        f"<!DOCTYPE html><html{lang_attr}><head>{head}<title>Militias push for ministry</title>"
        '<meta property="article:published_time" content="2026-11-19T08:30:00+03:00">'
        '<meta name="author" content="Jane Reporter">'
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>Militias push for ministry</h1>"
        f"{body}</article><footer>Copyright</footer></body></html>"
    )


def english_page(**kwargs: str | None) -> str:
    return page("".join(f"<p>{p}</p>" for p in PARAGRAPHS), **kwargs)  # type: ignore[arg-type]


def test_extracts_text_title_date_author_and_canonical() -> None:
    html = english_page(head='<link rel="canonical" href="/news/militias-ministry">')
    result = extract_article(html.encode(), "https://ex.com/news/militias-ministry?utm_source=x")
    assert result is not None
    assert "Interior Ministry" in result.text
    assert "Copyright" not in result.text
    assert result.title == "Militias push for ministry"
    assert result.published_at == datetime(2026, 11, 19, 5, 30)
    assert result.author == "Jane Reporter"
    assert result.language == "en"
    assert result.canonical_url == "https://ex.com/news/militias-ministry"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "قالت مصادر عراقية إن فصائل الحشد الشعبي تضغط من أجل السيطرة "
            "على وزارة الداخلية في بغداد",
            "ar",
        ),
        (
            "منابع عراقی گفتند که گروه‌های حشد الشعبی برای کنترل وزارت کشور در بغداد "
            "فشار می‌آورند و این موضوع را پیگیری می‌کنند",
            "fa",
        ),
        (
            "Irakische Quellen sagten, die Milizen drängten auf die Kontrolle "
            "des Innenministeriums.",
            "de",
        ),
        (
            "Des sources irakiennes ont indiqué que les milices réclament "
            "le ministère de l'Intérieur.",
            "fr",
        ),
        (PARAGRAPHS[0], "en"),
    ],
)
def test_language_is_detected_from_the_text(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_declared_language_is_checked_against_the_script() -> None:
    arabic = "قالت مصادر عراقية إن فصائل الحشد الشعبي تضغط من أجل السيطرة على وزارة الداخلية"
    assert choose_language("en-US", arabic) == "ar"
    assert choose_language("fr", PARAGRAPHS[0]) == "fr"  # same script: the page is believed
    assert choose_language(None, "", fallback="fa-IR") == "fa"
    assert choose_language("utf-8", PARAGRAPHS[0]) == "en"


def test_page_without_a_declared_language_is_detected() -> None:
    body = "".join(
        f"<p>{sentence}</p>"
        for sentence in [
            "قالت مصادر عراقية مطلعة إن فصائل الحشد الشعبي تضغط من أجل السيطرة على وزارة الداخلية.",
            "وأضافت المصادر أن المفاوضات بين الكتل السياسية متعثرة منذ أسابيع "
            "بسبب الخلاف على المرشح.",
            "ومن المتوقع أن يصوت البرلمان على المرشح الجديد قبل نهاية الشهر الحالي في بغداد.",
        ]
    )
    html = page(body, lang=None, head='<meta charset="windows-1256">').encode("cp1256")
    result = extract_article(html, "https://ex.iq/a")
    assert result is not None
    assert result.language == "ar"
    assert "الحشد الشعبي" in result.text


@pytest.mark.parametrize("declare", [True, False])
def test_windows_1252_bytes_decode(declare: bool) -> None:
    head = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    body = "".join(f"<p>{p} Café naïve – “quoted”.</p>" for p in PARAGRAPHS)
    html = page(body, head=head if declare else "").encode("cp1252")
    result = extract_article(html, "https://ex.com/a", content_type=None)
    assert result is not None
    assert "Café naïve – “quoted”" in result.text


def test_http_charset_and_bom() -> None:
    html = english_page().replace("parliament", "parlement é")
    result = extract_article(
        html.encode("latin-1"), "https://ex.com/a", content_type="text/html; charset=ISO-8859-1"
    )
    assert result is not None
    assert "parlement é" in result.text
    bom = extract_article(b"\xef\xbb\xbf" + english_page().encode(), "https://ex.com/a")
    assert bom is not None
    assert "Interior Ministry" in bom.text


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"   ",
        b"\x00\x01\x02garbage\xff\xfe",
        b"<html><body></body></html>",
        b"<?xml version='1.0' encoding='utf-8'?><rss><channel></channel></rss>",
        b"<div>" * 100_000,
        b"<html><body>" + b"<p>x</p>" * 250_000 + b"</body></html>",
        b"\x1f\x8b\x08\x00gzip-looking",
        "<html><body><p>\udcff</p></body></html>",
    ],
)
def test_hostile_or_empty_pages_give_none(html: bytes | str) -> None:
    assert extract_article(html, "https://ex.com/a") is None


def _load_bench() -> object:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_extract
    finally:
        sys.path.remove(str(BENCH))
    return bench_extract


@pytest.mark.slow  # extracts 200+ real pages: about 15 seconds
def test_fundus_pages_extract_their_expected_bodies(corpora: Path) -> None:
    bench = _load_bench()
    pages = bench.load_fundus(corpora / "fundus" / "tests" / "resources" / "parser" / "test_data")  # type: ignore[attr-defined]
    assert len(pages) > 200
    scores = [score for _name, score in bench.fundus_f1(pages)]  # type: ignore[attr-defined]
    assert statistics.median(scores) >= 0.9
    assert sum(score >= 0.7 for score in scores) / len(scores) >= 0.9


def test_newspaper4k_arabic_cnn_article(corpora: Path) -> None:
    root = corpora / "newspaper4k" / "tests" / "data"
    meta = json.loads((root / "metadata" / "arabic_article.json").read_text("utf-8"))
    expected = (root / "txt" / "arabic_article.txt").read_text("utf-8")
    result = extract_article((root / "html" / "arabic_article.html").read_bytes(), meta["url"])
    assert result is not None
    assert result.language == "ar"
    assert expected.split()[0] in result.text  # the dateline
    bench = _load_bench()
    assert bench.token_f1(result.text, expected) >= 0.8  # type: ignore[attr-defined]
