"""An alert marked up for its channels: plain text, an HTML email and Slack Block Kit.

Everything scraped from the open web (titles, URLs, publishers) is hostile: HTML and
Slack mrkdwn escape ``&``, ``<`` and ``>``, and a link is only made for an ``http(s)`` URL
(``javascript:`` and friends are shown as no link, see ``alerts.wording.safe_url``).
"""

from __future__ import annotations

import html
from typing import Any

from alerts.message import Alert, Headline
from alerts.wording import (
    facts,
    headlines,
    one_line,
    safe_url,
    summary,
    title,
    trend_command,
)

SLACK_SECTION_LIMIT = 3000
SLACK_HEADER_LIMIT = 150
DIGEST_HEADLINES = 3
"""Headlines shown per episode in a digest."""
SLACK_DIGEST_ENTRIES = 40
"""Episodes shown in a Slack digest (a message holds at most 50 blocks)."""


# -- plain text -------------------------------------------------------------------------


def text(alert: Alert) -> str:
    """Plain text: the email text part, the console, apprise, the Slack fallback base."""
    lines = [title(alert), "", summary(alert)]
    if alert.kind == "test":
        return "\n".join([*lines, ""])
    if alert.kind == "digest":
        return _digest_text(alert, lines)
    lines.append("")
    width = max(len(label) for label, _ in facts(alert))
    lines += [f"{label + ':':<{width + 1}} {one_line(value)}" for label, value in facts(alert)]
    chosen = headlines(alert)
    if chosen:
        lines += ["", "Top headlines:"]
        for headline in chosen:
            lines.append(f"- {one_line(headline.title) or '(no title)'}")
            lines.append(f"  {one_line(headline.publisher)}{_when(headline)}")
            url = safe_url(headline.url)
            if url:
                lines.append(f"  {url}")
    lines += ["", "See the trend:", f"  {trend_command(alert)}", ""]
    return "\n".join(lines)


# -- HTML -------------------------------------------------------------------------------


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def html_document(alert: Alert) -> str:
    """A self-contained HTML email body (inline styles only, every value escaped)."""
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{_e(title(alert))}</title></head>",
        '<body style="font-family:Helvetica,Arial,sans-serif;color:#1a1a1a;'
        'max-width:640px;margin:0 auto;padding:16px;line-height:1.45">',
        f'<h2 style="margin:0 0 12px 0;font-size:20px">{_e(title(alert))}</h2>',
        f'<p style="margin:0 0 16px 0">{_e(summary(alert))}</p>',
    ]
    if alert.kind == "digest":
        parts += [_html_digest_entry(number, entry) for number, entry in _numbered(alert)]
    elif alert.kind != "test":
        parts.append('<table style="border-collapse:collapse;margin:0 0 16px 0">')
        for label, value in facts(alert):
            parts.append(
                '<tr><th style="text-align:left;padding:2px 12px 2px 0;color:#555;'
                f'font-weight:normal">{_e(label)}</th><td style="padding:2px 0">'
                f"{_e(value)}</td></tr>"
            )
        parts.append("</table>")
        chosen = headlines(alert)
        if chosen:
            parts.append('<h3 style="font-size:16px;margin:0 0 8px 0">Top headlines</h3>')
            parts.append('<ol style="margin:0 0 16px 0;padding-left:20px">')
            for headline in chosen:
                parts.append(f'<li style="margin:0 0 6px 0">{_html_headline(headline)}</li>')
            parts.append("</ol>")
        parts.append(
            '<p style="margin:0 0 4px 0">See the trend:</p>'
            '<pre style="background:#f4f4f4;padding:8px;margin:0 0 16px 0;'
            f'white-space:pre-wrap">{_e(trend_command(alert))}</pre>'
        )
    parts.append('<p style="color:#888;font-size:12px;margin:0">Sent by mediawatch.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_headline(headline: Headline) -> str:
    label = _e(one_line(headline.title) or "(no title)")
    url = safe_url(headline.url)
    link = f'<a href="{_e(url)}">{label}</a>' if url else label
    meta = _e(one_line(headline.publisher) + _when(headline))
    return f'{link}<br><span style="color:#666;font-size:13px">{meta}</span>'


# -- Slack ------------------------------------------------------------------------------


def slack_escape(value: str) -> str:
    """Slack mrkdwn control characters: ``&``, ``<`` and ``>`` (mentions and links)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    # Inside <url|label>, ``|`` and ``>`` in the URL would end it early.
    quoted = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{quoted}|{slack_escape(label).replace('|', '¦')}>"


def slack_blocks(alert: Alert, idempotency_key: str = "") -> list[dict[str, Any]]:
    """Block Kit blocks: header, explanation, facts, headlines, trend command, reference."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_truncate(title(alert), SLACK_HEADER_LIMIT))},
        {"type": "section", "text": _mrkdwn(slack_escape(summary(alert)))},
    ]
    if alert.kind == "digest":
        blocks += _slack_digest_entries(alert)
    elif alert.kind != "test":
        fields = [_mrkdwn(f"*{label}*\n{slack_escape(value)}") for label, value in facts(alert)]
        blocks.append({"type": "section", "fields": fields[:10]})
        chosen = headlines(alert)
        if chosen:
            lines = [_slack_headline(headline) for headline in chosen]
            body = "*Top headlines*\n" + "\n".join(lines)
            blocks.append({"type": "section", "text": _mrkdwn(_truncate(body, 3000))})
        command = slack_escape(trend_command(alert)).replace("`", "'")
        blocks.append({"type": "section", "text": _mrkdwn(f"See the trend: `{command}`")})
    if idempotency_key:
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(f"mediawatch · ref {slack_escape(idempotency_key)}")],
            }
        )
    return blocks


def slack_fallback(alert: Alert) -> str:
    """The ``text`` of a Slack message: shown in notifications and by old clients."""
    return slack_escape(f"{title(alert)}. {summary(alert)}")


def slack_payload(alert: Alert, idempotency_key: str = "") -> dict[str, Any]:
    return {"text": slack_fallback(alert), "blocks": slack_blocks(alert, idempotency_key)}


def _slack_headline(headline: Headline) -> str:
    label = one_line(headline.title) or "(no title)"
    url = safe_url(headline.url)
    link = _slack_link(url, label) if url else slack_escape(label)
    return f"• {link} · _{slack_escape(one_line(headline.publisher))}{_when(headline)}_"


def _plain(value: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": value, "emoji": False}


def _mrkdwn(value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _truncate(value, SLACK_SECTION_LIMIT)}


# -- the daily digest -------------------------------------------------------------------


def _numbered(alert: Alert) -> list[tuple[int, Alert]]:
    return list(enumerate(alert.entries, start=1))


def _digest_text(alert: Alert, lines: list[str]) -> str:
    for number, entry in _numbered(alert):
        lines += ["", f"{number}. {title(entry)}", f"   {summary(entry)}"]
        for headline in headlines(entry, DIGEST_HEADLINES):
            lines.append(f"   - {one_line(headline.title) or '(no title)'}")
            url = safe_url(headline.url)
            if url:
                lines.append(f"     {url}")
        lines.append(f"   See the trend: {trend_command(entry)}")
    return "\n".join([*lines, ""])


def _html_digest_entry(number: int, entry: Alert) -> str:
    parts = [
        f'<h3 style="font-size:16px;margin:16px 0 4px 0">{number}. {_e(title(entry))}</h3>',
        f'<p style="margin:0 0 8px 0">{_e(summary(entry))}</p>',
    ]
    chosen = headlines(entry, DIGEST_HEADLINES)
    if chosen:
        parts.append('<ul style="margin:0 0 8px 0;padding-left:20px">')
        parts += [f"<li>{_html_headline(headline)}</li>" for headline in chosen]
        parts.append("</ul>")
    parts.append(
        '<pre style="background:#f4f4f4;padding:6px;margin:0 0 12px 0;white-space:pre-wrap">'
        f"{_e(trend_command(entry))}</pre>"
    )
    return "\n".join(parts)


def _slack_digest_entries(alert: Alert) -> list[dict[str, Any]]:
    blocks = []
    for number, entry in _numbered(alert)[:SLACK_DIGEST_ENTRIES]:
        lines = [f"*{number}. {slack_escape(title(entry))}*", slack_escape(summary(entry))]
        lines += [_slack_headline(headline) for headline in headlines(entry, DIGEST_HEADLINES)]
        command = slack_escape(trend_command(entry)).replace("`", "'")
        lines.append(f"See the trend: `{command}`")
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(lines))})
    hidden = len(alert.entries) - SLACK_DIGEST_ENTRIES
    if hidden > 0:
        blocks.append(
            {"type": "section", "text": _mrkdwn(f"…and {hidden} more: `mediawatch alerts list`")}
        )
    return blocks


# -- small pieces -----------------------------------------------------------------------


def _truncate(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _when(headline: Headline) -> str:
    if headline.published_at is None:
        return ""
    return f", {headline.published_at:%Y-%m-%d %H:%M} UTC"
