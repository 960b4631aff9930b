"""``match``: what the watch-list finds in a text, and why clusters were dropped."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mediawatch.cli.app import app, state
from mediawatch.cli.output import TextOrJson

if TYPE_CHECKING:
    from watchlist.matcher import ClusterVerdict


@app.command("match")
def match(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The text to check, or - to read stdin")] = "-",
    title: Annotated[str, typer.Option(help="A title, matched as part of the article")] = "",
    fmt: Annotated[
        TextOrJson, typer.Option("--format", help="text (readable, with reasons) or json")
    ] = TextOrJson.TEXT,
) -> None:
    """Show which clusters of the watch-list a text counts for.

    The text output shows each term hit with a snippet, and why a touched cluster
    was dropped (no context, excluded, term only inside a longer term).

    Example: echo "Kata'ib Hezbollah fired rockets near Baghdad" | mediawatch match -
    """
    if text == "-":
        text = sys.stdin.read()
    watchlist = state(ctx).config.watchlist()
    if fmt is TextOrJson.JSON:
        clusters = [{"name": m.name, "terms": list(m.terms)} for m in watchlist.match(text, title)]
        json.dump({"clusters": clusters}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    verdicts = watchlist.explain(text, title)
    for verdict in sorted(verdicts, key=lambda v: (not v.matched, v.status == "no term", v.name)):
        print(describe(verdict))
    if not any(v.matched for v in verdicts):
        print("no cluster matched")


def describe(verdict: ClusterVerdict) -> str:
    """A cluster's verdict as readable lines."""
    mark = "MATCH" if verdict.matched else "no   "
    lines = [f"{mark} {verdict.name}: {verdict.reason}"]
    for hit in verdict.hits:
        note = f" (inside {hit.nested_in!r}, not counted)" if hit.nested_in else ""
        where = f"{hit.field} {hit.span[0]}-{hit.span[1]}"
        lines.append(f"      {hit.role:<7} {hit.term!r} as {hit.excerpt!r} at {where}{note}")
    return "\n".join(lines)
