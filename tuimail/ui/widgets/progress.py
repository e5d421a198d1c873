"""Progress of long work (POP3 sync, sending, saving an attachment, caching a folder's headers),
drawn by the StatusLine as inert text:

    label  ▕████░░░░░░▏  45%  12.3 MB of 27.0 MB       (the total known)
    label …  1.2 MB                                    (the total not known)

The work runs on a worker thread and reports through a Ticker, which passes a report on at
most every INTERVAL seconds (a new stage and the last step always go through), so nothing is
posted per byte; the StatusLine throttles its redraws the same way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

from rich.cells import cell_len
from textual.content import Content
from textual.message import Message

from tuimail.model.mime import human_size
from tuimail.model.text import one_line

INTERVAL = 0.1  # seconds between two reports of the same stage (a worker's, a redraw)
BAR_CELLS = 10
Unit = Literal["count", "bytes"]


@dataclass(frozen=True)
class Progress:
    label: str  # what is under way: "caching headers", "sending"
    done: int = 0
    total: int | None = None  # None: not known, drawn as "…"
    unit: Unit = "count"

    @property
    def fraction(self) -> float | None:
        if self.total is None or self.total <= 0:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total


def amount(progress: Progress) -> str:
    """'12.3 MB of 27.0 MB', '1,234 of 10,000', or just what is done when the total is not known."""
    show = human_size if progress.unit == "bytes" else "{:,}".format
    if progress.total is None:
        return show(progress.done) if progress.done else ""
    return f"{show(min(progress.done, progress.total))} of {show(progress.total)}"


def bar(fraction: float, cells: int = BAR_CELLS) -> str:
    filled = int(fraction * cells + 1e-9)
    return "▕" + "█" * filled + "░" * (cells - filled) + "▏"


def progress_text(progress: Progress, width: int) -> str:
    """The fullest form of progress that fits in width cells ('' when none does)."""
    label = one_line(progress.label, 80)
    how_much = amount(progress)
    fraction = progress.fraction
    if fraction is None:
        forms = [f"{label} …  {how_much}" if how_much else f"{label} …", f"{label} …", "…"]
    else:
        percent = f"{int(fraction * 100):>3}%"
        forms = [f"{label}  {bar(fraction)} {percent}  {how_much}", f"{label}  {bar(fraction)} {percent}",
                 f"{label} {percent}", f"{bar(fraction)} {percent}", percent.strip()]
    return next((form for form in forms if cell_len(form) <= width), "")


def progress_content(progress: Progress, width: int) -> Content:
    """progress_text as Content: never parsed as markup."""
    return Content(progress_text(progress, width))


class Ticker:
    """Reports (stage, done, total) on, at most every `interval` seconds for the same stage; a new
    stage and the last step (done >= total) always go through. Called on the worker's thread."""

    def __init__(self, report: Callable[[str, int, int | None], None], interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.report = report
        self.interval = INTERVAL if interval is None else interval
        self.clock = clock
        self._last: tuple[str, int, int | None] | None = None
        self._at = float("-inf")

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        now = self.clock()
        last = self._last
        new_stage = last is None or last[0] != stage
        final = total is not None and done >= total
        if not new_stage and (last == (stage, done, total) or (not final and now - self._at < self.interval)):
            return
        self._last, self._at = (stage, done, total), now
        self.report(stage, done, total)


@dataclass
class ProgressChanged(Message):
    """Long work's progress, for the status line of the screen it bubbles up to; progress None:
    the work ended (or failed) and its bar goes. key tells one piece of work from another."""
    key: str
    progress: Progress | None
    account: str = ""
