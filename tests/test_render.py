"""Alerts as people read them: explained, escaped, links only to http(s)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from support.slack_hook import slack_problems

from alerts import render, wording
from alerts.message import Alert, Headline, make_test_alert

HOSTILE = "<script>alert(1)</script>"


def make_alert(**changes: object) -> Alert:
    values: dict[str, object] = {
        "kind": "open",
        "cluster": "Interior Ministry",
        "bucket_start": datetime(2026, 11, 20, 9, 0),
        "bucket_end": datetime(2026, 11, 20, 10, 0),
        "observed": 23,
        "expected": 2.14,
        "tail_probability": 2e-5,
        "sources": 9,
        "languages": ("en", "ar"),
        "headlines": (
            Headline(
                "PMF pushes for the Interior Ministry",
                "https://rudaw.example/1",
                "Rudaw",
                datetime(2026, 11, 20, 9, 12),
            ),
            Headline("وزارة الداخلية: مرشح جديد", "https://alsumaria.example/2", "Alsumaria"),
            Headline(HOSTILE, "javascript:alert(document.cookie)", "<b>Evil & Co</b>"),
        ),
        "episode_id": 7,
        "trend_command": "mediawatch report --by hour --since 3d --cluster 'Interior Ministry'",
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("probability", "words"),
    [
        (2e-5, "about 1 in 50,000 under the usual pattern"),
        (1 / 12345, "about 1 in 12,000 under the usual pattern"),
        (0.001, "about 1 in 1,000 under the usual pattern"),
        (0.04, "about 1 in 25 under the usual pattern"),
        (1e-12, "less than 1 in a billion under the usual pattern"),
        (0.0, "less than 1 in a billion under the usual pattern"),
        (0.7, "not unusual under the usual pattern"),
    ],
)
def test_probability_in_plain_words(probability: float, words: str) -> None:
    assert wording.probability_in_words(probability) == words


def test_text_explains_the_spike() -> None:
    text = render.text(make_alert())
    assert text.startswith("Spike: Interior Ministry, 23 stories (usually 2.1)")
    assert "23 observed, 2.1 expected" in text
    assert "about 1 in 50,000 under the usual pattern" in text
    assert "9 distinct" in text
    assert "en, ar" in text
    assert "PMF pushes for the Interior Ministry" in text
    assert "https://rudaw.example/1" in text
    assert "Rudaw, 2026-11-20 09:12 UTC" in text
    assert "وزارة الداخلية" in text
    assert "mediawatch report --by hour --since 3d --cluster 'Interior Ministry'" in text
    assert "javascript:" not in text


def test_update_says_still_growing() -> None:
    alert = make_alert(kind="update", observed=41)
    assert wording.title(alert) == "Still growing: Interior Ministry, 41 stories now"
    assert "still growing: 41 stories now" in render.text(alert)


def test_test_message_is_short_and_clear() -> None:
    alert = make_test_alert(datetime(2026, 11, 20, 12, 0))
    assert wording.title(alert) == "mediawatch test message"
    assert "set up correctly" in render.text(alert)
    assert not slack_problems(render.slack_payload(alert, "test:x:slack"))


def test_a_missing_trend_command_gets_a_default() -> None:
    text = render.text(make_alert(trend_command=""))
    assert "mediawatch report --by hour --since 3d --cluster 'Interior Ministry'" in text


def test_one_headline_per_story() -> None:
    same = Headline("Copy", "https://a.example/1", "A")
    alert = make_alert(headlines=(same, same, Headline("Other", "https://b.example/", "B")))
    assert [h.title for h in wording.headlines(alert)] == ["Copy", "Other"]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_hostile_titles_and_drops_javascript_links() -> None:
    document = render.html_document(make_alert())
    assert HOSTILE not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in document
    parsed = _Collector()
    parsed.feed(document)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert parsed.hrefs == ["https://rudaw.example/1", "https://alsumaria.example/2"]
    assert HOSTILE in "".join(parsed.text)  # shown as text, readable
    assert "about 1 in 50,000 under the usual pattern" in "".join(parsed.text)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>",
        "vbscript:x",
        "//evil.example/x",
        "https://",
        "https://a.example/\nx",
        "https://a.example/ x",
        "",
    ],
)
def test_only_http_links(url: str) -> None:
    assert wording.safe_url(url) is None


def test_slack_payload_is_valid_and_escaped() -> None:
    payload = render.slack_payload(make_alert(), "7:open:slack")
    assert slack_problems(payload) == []
    dumped = json.dumps(payload, ensure_ascii=False)
    assert HOSTILE not in dumped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dumped
    assert "javascript:" not in dumped
    assert "<https://rudaw.example/1|PMF pushes for the Interior Ministry>" in dumped
    assert "about 1 in 50,000" in payload["text"]
    assert "ref 7:open:slack" in dumped


def test_slack_cannot_be_made_to_mention_or_break_a_link() -> None:
    evil = Headline("<!channel> hi", "https://a.example/x|<!here>", "<@U123>")
    payload = render.slack_payload(make_alert(headlines=(evil,)))
    dumped = json.dumps(payload)
    assert "<!channel>" not in dumped and "<!here>" not in dumped and "<@U123>" not in dumped
    assert "<https://a.example/x%7C%3C!here%3E|&lt;!channel&gt; hi>" in dumped


def test_slack_limits_hold_for_huge_titles() -> None:
    long = Headline("x" * 5000, "https://a.example/", "p" * 500)
    alert = make_alert(
        cluster="C" * 300,
        headlines=(long,) * 1
        + tuple(Headline(f"t{i}" * 300, f"https://a.example/{i}", "p") for i in range(20)),
    )
    assert slack_problems(render.slack_payload(alert, "k")) == []


@pytest.mark.parametrize(
    ("tail", "bucket", "words"),
    [
        (0.0015, timedelta(hours=1), "4 weeks"),
        (1 / 24, timedelta(hours=1), "24 hours"),
        (1e-6, timedelta(hours=1), "114 years"),
        (1e-30, timedelta(minutes=5), "over 1000 years"),
        (0.0, timedelta(hours=1), "over 1000 years"),
        (0.01, timedelta(days=1), "14 weeks"),
    ],
)
def test_how_often_a_bucket_like_this_comes_for_the_cluster(
    tail: float, bucket: timedelta, words: str
) -> None:
    assert wording.how_often(tail, bucket) == words
