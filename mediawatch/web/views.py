"""How a page is rendered: one Jinja2 environment (autoescape always on) and its helpers.

The one rule: scraped text reaches a template as plain ``str`` and is escaped there; the
only ``Markup`` built in Python is ``marked`` (escaped pieces around ``<mark>``) and the
SVG charts of ``sparkline``, whose only text is escaped too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from mediawatch.web.desk import desk
from mediawatch.web.security import csrf_token

TEMPLATES = Path(__file__).parent / "templates"
RTL_LANGUAGES = frozenset({"ar", "fa", "ckb", "ur", "he", "ps", "yi", "dv"})

NAV = (
    ("/", "Overview"),
    ("/search", "Search"),
    ("/alerts", "Alerts"),
    ("/sources", "Sources"),
    ("/watchlist", "Watch-list"),
)


def text_dir(language: str | None) -> str:
    """``rtl`` for a right-to-left language, else ``auto`` (the browser decides)."""
    return "rtl" if (language or "").split("-")[0].lower() in RTL_LANGUAGES else "auto"


def marked(text: str, marks: Sequence[tuple[int, int]]) -> Markup:
    """``text`` escaped, with each ``(start, end)`` span wrapped in ``<mark>``."""
    out, position = Markup(""), 0
    for start, end in marks:
        if start < position:
            continue
        out += escape(text[position:start]) + Markup("<mark>") + escape(text[start:end])
        out += Markup("</mark>")
        position = end
    return out + escape(text[position:])


def safe_href(url: str | None) -> str | None:
    """The URL when it is http(s) (a scraped ``javascript:`` link is shown, never linked)."""
    value = (url or "").strip()
    scheme = value.split(":", 1)[0].lower()
    return value if scheme in ("http", "https") and value[len(scheme) :].startswith("://") else None


def when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def query_string(**params: Any) -> str:
    """``?a=1&b=2`` of the parameters that have a value (lists repeat the name)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item not in (None, ""):
                pairs.append((name, str(item)))
    return "?" + urlencode(pairs) if pairs else ""


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals.update(text_dir=text_dir, safe_href=safe_href, query_string=query_string)
environment.filters.update(when=when, marked=lambda pair: marked(*pair))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` with ``context``, the navigation, the title and a CSRF token for forms."""
    the_desk = desk(request)
    title = the_desk.config.web.title if the_desk.config.web else "mediawatch"
    body = environment.get_template(template).render(
        request=request,
        nav=NAV,
        site_title=title,
        path=request.url.path,
        csrf=csrf_token(request),
        **context,
    )
    return HTMLResponse(body, status_code=status)


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form's fields, the first value of each (the desk's forms are all
    urlencoded, so no multipart parser is needed)."""
    body = await request.body()
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parsed.items()}
