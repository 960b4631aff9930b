"""The extraction ceiling and extraction quality, over the shared real-news corpora.

    .venv/bin/python bench/bench_extract.py [--repeat N]

Prints pages/s of ``spiders.parsing.extract.extract_article`` over every corpus page in one
process with no network (the "ceiling" the crawl benchmark compares its articles/s
to), and the token F1 of the extracted text against the fundus pages' expected bodies.
Prints figures, asserts nothing. The corpora are ``../shared/corpora`` (see its README);
without them it says so and exits 0.

Reuse: ``load_corpus_pages()`` and ``ceiling(pages)``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spiders.parsing.extract import extract_article

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
FUNDUS = CORPORA / "fundus" / "tests" / "resources" / "parser" / "test_data"
NEWSPAPER = CORPORA / "newspaper4k" / "tests" / "data"
_TOKEN = re.compile(r"\w+")
_DATED = re.compile(r"_\d{4}_\d{2}_\d{2}\.html\.gz$")

Page = tuple[str, bytes, str | None]
"""(url, html bytes, expected body or None)."""


@dataclass(frozen=True)
class CorpusPage:
    corpus: str
    """``fundus/<cc>/<file>`` or ``newspaper4k/<file>``."""
    url: str
    html: bytes
    expected_body: str | None
    expected_title: str | None
    expected_language: str | None


def load_fundus(root: Path = FUNDUS) -> list[CorpusPage]:
    """Every fundus page with its URL (``meta.info``) and expected title and body.

    ``<Publisher>.json`` holds one expectation per parser version (V1, V1_1, V2, ...);
    they pair, in sorted order, with the publisher's dated pages in date order."""
    pages: list[CorpusPage] = []
    if not root.is_dir():
        return pages
    for country in sorted(path for path in root.iterdir() if path.is_dir()):
        meta_path = country / "meta.info"
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
        for expectations_path in sorted(country.glob("*.json")):
            publisher = expectations_path.stem
            expectations = json.loads(expectations_path.read_text("utf-8"))
            files = sorted(
                path
                for path in country.glob(f"{publisher}_*.html.gz")
                if _DATED.search(path.name)
                and path.name[: -len("_0000_00_00.html.gz")] == publisher
            )
            for version, path in zip(sorted(expectations), files, strict=False):
                expected = expectations[version]
                url = meta.get(path.name, {}).get("url") or f"https://{publisher.lower()}.invalid/"
                pages.append(
                    CorpusPage(
                        corpus=f"fundus/{country.name}/{path.name}",
                        url=url,
                        html=gzip.decompress(path.read_bytes()),
                        expected_body=fundus_body(expected.get("body")),
                        expected_title=expected.get("title"),
                        expected_language=None,
                    )
                )
    return pages


def fundus_body(body: dict[str, object] | None) -> str | None:
    if not isinstance(body, dict):
        return None
    parts: list[str] = [str(text) for text in body.get("summary") or []]  # type: ignore[attr-defined]
    for section in body.get("sections") or []:  # type: ignore[attr-defined]
        parts.extend(str(text) for text in section.get("headline") or [])
        parts.extend(str(text) for text in section.get("paragraphs") or [])
    return "\n".join(parts) or None


def load_newspaper(root: Path = NEWSPAPER) -> list[CorpusPage]:
    """newspaper4k's pages with a metadata file (URL, language) and expected text."""
    pages: list[CorpusPage] = []
    if not root.is_dir():
        return pages
    for html_path in sorted((root / "html").glob("*.html")):
        meta_path = root / "metadata" / f"{html_path.stem}.json"
        text_path = root / "txt" / f"{html_path.stem}.txt"
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
        pages.append(
            CorpusPage(
                corpus=f"newspaper4k/{html_path.name}",
                url=meta.get("url") or f"https://{html_path.stem}.invalid/",
                html=html_path.read_bytes(),
                expected_body=text_path.read_text("utf-8") if text_path.exists() else None,
                expected_title=meta.get("title"),
                expected_language=meta.get("language"),
            )
        )
    return pages


def load_corpus_pages() -> list[Page]:
    """Every corpus page as (url, html bytes, expected body or None); [] without corpora."""
    return [(page.url, page.html, page.expected_body) for page in load_fundus() + load_newspaper()]


def ceiling(pages: Sequence[Page]) -> float:
    """Pages per second of extraction alone, in this process, over ``pages``."""
    if not pages:
        return 0.0
    started = time.perf_counter()
    for url, html, _expected in pages:
        extract_article(html, url)
    return len(pages) / (time.perf_counter() - started)


def token_f1(extracted: str, expected: str) -> float:
    """F1 of the bags of lower-cased word tokens (1.0 = same words, same counts)."""
    got = Counter(_TOKEN.findall(extracted.casefold()))
    want = Counter(_TOKEN.findall(expected.casefold()))
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def fundus_f1(pages: Sequence[CorpusPage]) -> list[tuple[str, float]]:
    """(page, token F1) for every fundus page with an expected body (0.0 when nothing came out)."""
    scores = []
    for page in pages:
        if page.expected_body is None:
            continue
        extracted = extract_article(page.html, page.url)
        score = token_f1(extracted.text, page.expected_body) if extracted else 0.0
        scores.append((page.corpus, score))
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="timing passes (best is kept)")
    parser.add_argument("--worst", type=int, default=10, help="list the N worst fundus pages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    fundus, newspaper = load_fundus(), load_newspaper()
    if not fundus and not newspaper:
        print(f"no corpora at {CORPORA}: nothing to measure")
        return 0
    pages = [(page.url, page.html, page.expected_body) for page in fundus + newspaper]
    extract_article(pages[0][1], pages[0][0])  # warm up (language model load)
    rate = max(ceiling(pages) for _ in range(max(1, args.repeat)))
    megabytes = sum(len(html) for _url, html, _expected in pages) / 1e6
    print(f"ceiling: {rate:.1f} pages/s over {len(pages)} pages ({megabytes:.1f} MB of HTML)")
    scores = fundus_f1(fundus)
    values = [score for _name, score in scores]
    print(
        f"fundus token F1 over {len(values)} pages: mean {statistics.mean(values):.3f}, "
        f"median {statistics.median(values):.3f}, "
        f">=0.8 on {sum(value >= 0.8 for value in values) / len(values):.0%}, "
        f"=0 on {sum(value == 0 for value in values)}"
    )
    for name, score in sorted(scores, key=lambda pair: pair[1])[: args.worst]:
        print(f"  {score:.3f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
