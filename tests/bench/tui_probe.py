"""Runs the real TUI headless (App.run_test) in its own process for the benchmark.

    python -m tests.bench.tui_probe first|open CONFIG SUBJECT_NEEDLE BODY_NEEDLE

Prints SUBJECT_NEEDLE the moment the index has painted its first 50 rows with real data
(the harness times that line), then a JSON line of figures. In `first` mode it then drags the
view through the whole folder and to its end, reporting the longest event-loop stall and the
peak RSS. In `open` mode it prints "tuimail-probe: opening", opens the newest message and
prints BODY_NEEDLE once the text is on screen.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

FIRST_ROWS = 50
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


async def main(mode: str, config: Path, subject: str, body: str) -> None:
    from tuimail.store.config_file import load_config
    from tuimail.ui.app import TuimailApp
    from tuimail.ui.screens.message import MessageScreen
    from tuimail.ui.widgets.message_list import MessageList

    started = time.monotonic()
    app = TuimailApp(config, load_config(config))
    async with app.run_test(size=(200, 60)) as pilot:
        def painted() -> bool:
            found = app.screen.query(MessageList)
            if not found:
                return False
            index = found.first().index
            rows = min(FIRST_ROWS, index.count)
            return rows > 0 and all(index.row(r) is not None for r in range(rows))

        await _until(pilot, painted, 120, "the first screen")
        widget = app.screen.query_one(MessageList)
        await pilot.pause()  # one more refresh: the rows are drawn, not just loaded
        lines = ["".join(s.text for s in widget.render_line(y)) for y in range(widget.size.height)]
        if not any(subject in line for line in lines[:3]):
            raise SystemExit(f"tui_probe: the newest subject is not on the first line: {lines[:2]}")
        print(subject, flush=True)
        figures = {"in_process_seconds": time.monotonic() - started, "rows": widget.index.count, **rss()}
        if mode == "first":
            count = widget.index.count
            stall = 0.0
            for step in range(1, JUMPS + 1):
                widget.scroll_to(y=count * step // JUMPS, animate=False)
                tick = time.monotonic()
                await pilot.pause()
                stall = max(stall, time.monotonic() - tick)
            widget.focus()
            await pilot.press("end")
            await _until(pilot, lambda: widget.index.row(count - 1) is not None, 120, "the last row")
            scrolled = rss()
            figures.update(max_stall_ms=round(stall * 1000, 1), loaded_rows=widget.index.loaded(),
                           rss_scrolled_mb=scrolled["rss_mb"], peak_rss_scrolled_mb=scrolled["peak_rss_mb"])
        else:
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


if __name__ == "__main__":
    mode, config, subject, body = sys.argv[1:5]
    asyncio.run(main(mode, Path(config), subject, body))
