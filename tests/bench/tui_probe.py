"""Runs the real TUI headless (App.run_test) in its own process for the benchmark.

    python -m tests.bench.tui_probe first|open|bare CONFIG SUBJECT_NEEDLE BODY_NEEDLE

Prints SUBJECT_NEEDLE the moment the first frame holding the index's first 50 rows with real
data is handed to the terminal driver (the harness times that line), then a JSON line of figures.
The probe waits on that frame without polling: Pilot.pause() forces a repaint and waits for the
whole process to go idle, which would both slow the connection threads and count their work. In `first` mode it then drags the
view through the whole folder and to its end, reporting the longest event-loop stall (LoopLag)
and the peak RSS. In `open` mode it prints "tuimail-probe: opening", opens the newest message and
prints BODY_NEEDLE once the text is on screen. In both modes it prints RESYNCED once the
server's first screen is in (at once when cold; after the resync when drawn from the cache). `bare` times a one-line Textual app the same
way: the floor any Textual client pays on this machine.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

FIRST_ROWS = 50
RESYNCED = "tuimail-probe: resynced"
SIZE = (200, 60)
JUMPS = 40


def rss() -> dict[str, float]:
    figures = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0]) / 1000
    return {"rss_mb": figures.get("VmRSS", 0.0), "peak_rss_mb": figures.get("VmHWM", 0.0)}


async def _until(pilot, condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"tui_probe: timed out waiting for {what}")
        await pilot.pause(0.005)


class LoopLag:
    """The longest the event loop was kept from running a 10 ms timer: how long the screen
    could not have answered a key or drawn a frame (while scrolling, in `first` mode)."""
    TICK = 0.01

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> "LoopLag":
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def _watch(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.TICK)
            self.worst = max(self.worst, time.monotonic() - before - self.TICK)

    def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
        return self.worst


def on_first_frame(app, condition, subject: str, from_server=lambda: False) -> asyncio.Event:
    """An Event set (and subject printed) at the first frame the app hands to its driver once
    condition() holds: the rows were applied before that frame was composed, so it shows them."""
    shown = asyncio.Event()
    original = app._display

    def display(screen, renderable) -> None:
        original(screen, renderable)
        if renderable is not None and not shown.is_set() and condition():
            print(subject, flush=True)
            shown.server = from_server()
            if shown.server:  # cold: the frame's rows are the server's; mark it now, same bytes
                print(RESYNCED, flush=True)
            shown.at = time.monotonic()
            shown.set()

    app._display = display
    return shown


async def main(mode: str, config: Path, subject: str, body: str) -> None:
    started = time.monotonic()
    # the path `tuimail --config CONFIG` takes (cli.main -> launch), head start included
    from tuimail.cli import tui_arguments
    from tuimail.store.config_file import config_path
    from tuimail.ui.launch import build_app

    args = tui_arguments(["--config", str(config)])
    app = build_app(config_path(args.config), account=args.account)
    from tuimail.ui.widgets.folder_pane import FolderPane
    from tuimail.ui.widgets.message_list import MessageList

    def painted() -> bool:
        found = app.screen.query(MessageList)
        if not found:
            return False
        index = found.first().index
        rows = min(FIRST_ROWS, index.count)
        return rows > 0 and all(index.row(r) is not None for r in range(rows))

    def opened() -> bool:
        return any(pane._opened for pane in app.screen.query(FolderPane))

    shown = on_first_frame(app, painted, subject, opened)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await asyncio.wait_for(shown.wait(), 120)
        except asyncio.TimeoutError:
            raise SystemExit("tui_probe: timed out waiting for the first screen") from None
        widget = app.screen.query_one(MessageList)
        lines = ["".join(s.text for s in widget.render_line(y)) for y in range(widget.size.height)]
        if not any(subject in line for line in lines[:3]):
            raise SystemExit(f"tui_probe: the newest subject is not on the first line: {lines[:2]}")
        figures = {"in_process_seconds": shown.at - started, "rows": widget.index.count, **rss()}
        # Warm, the frame came from the cache: the bytes that count are the resync's, after it.
        if not shown.server:
            pane = app.screen.query_one(FolderPane)
            await _until(pilot, lambda: pane._opened, 120, "the server's first screen")
            print(RESYNCED, flush=True)
        if mode == "first":
            count = widget.index.count
            lag = LoopLag().start()
            for step in range(1, JUMPS + 1):
                widget.scroll_to(y=count * step // JUMPS, animate=False)
                await pilot.pause()
            widget.focus()
            await pilot.press("end")
            await _until(pilot, lambda: widget.index.row(count - 1) is not None, 120, "the last row")
            stall = lag.stop()
            scrolled = rss()
            figures.update(max_stall_ms=round(stall * 1000, 1), loaded_rows=widget.index.loaded(),
                           rss_scrolled_mb=scrolled["rss_mb"], peak_rss_scrolled_mb=scrolled["peak_rss_mb"])
        else:
            from tuimail.ui.screens.message import MessageScreen  # after the frame: not timed
            await pilot.pause(1.0)  # let the IDLE connection and margins settle, as for the peers
            widget.focus()
            await pilot.press("home")
            print("tuimail-probe: opening", flush=True)
            await pilot.press("enter")
            await _until(pilot, lambda: isinstance(app.screen, MessageScreen) and body in app.screen.view.text,
                         120, "the message text")
            await pilot.pause()
            print(body, flush=True)
        print(json.dumps(figures), flush=True)
        await pilot.press("q")


async def bare(subject: str) -> None:
    """The floor: a Textual app with one line of text, timed to its first frame like tuimail."""
    started = time.monotonic()
    from textual.app import App
    from textual.widgets import Static

    class Bare(App[None]):
        def compose(self):
            yield Static(subject, markup=False)

    app = Bare()
    shown = on_first_frame(app, lambda: True, subject)
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(shown.wait(), 60)
        print(json.dumps({"in_process_seconds": shown.at - started, **rss()}), flush=True)
        await pilot.pause()


if __name__ == "__main__":
    mode, config, subject, body = sys.argv[1:5]
    if mode == "bare":
        asyncio.run(bare(subject))
        sys.exit(0)
    # the terminal size run_test() gives the app, as a terminal would tell `tuimail` at start
    os.environ["COLUMNS"], os.environ["LINES"] = str(SIZE[0]), str(SIZE[1])
    asyncio.run(main(mode, Path(config), subject, body))
