"""``backfill``'s progress on stderr: one line redrawn in place (``\\r``) on a terminal, a
plain line per step when stderr is a pipe or a file (logs stay readable)."""

from __future__ import annotations

from typing import TextIO

from spiders.backfill.progress import Step


def describe(step: Step) -> str:
    """``tg iraqwatch: page 4 · 80 found · back to 2026-10-02``; scraped text never
    reaches it (names come from config.toml, moments are ours)."""
    parts = [f"{step.source}: {step.what}", f"{step.pages} request(s)", f"{step.found} found"]
    if step.reached is not None:
        parts.append(f"back to {step.reached:%Y-%m-%d %H:%M}")
    if step.error:
        parts.append(f"error: {step.error[:120]}")
    return " · ".join(parts)


class ProgressLine:
    """A ``Progress`` that draws on ``stream``; ``close`` ends a redrawn line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._width = 0

    def __call__(self, step: Step) -> None:
        line = "backfill: " + describe(step)
        if self.live and not step.error:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.close()
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0
