"""Runs the real TUI headless on a POP3 account, in its own process, for the POP3 suite.

    python -m tests.bench.pop3_tui_probe CONFIG SUBJECT_NEEDLE

Prints SUBJECT_NEEDLE the moment the first frame whose POP3 index (Pop3Pane) holds its first
50 rows with real data is handed to the terminal driver (the harness times that line and
snapshots the counting proxy then), then a JSON line: where those rows came from ("store":
the local store, before open() answered; "server": after it), whether a POP3 session had
logged in by then, in-process seconds, RSS. Before that, ROWS_MARK when open()'s rows reach
the pane, just before it asks for the full UIDL/LIST in the background (which may land before
the frame is painted): the bytes at that mark are what the first screen needed. The same
technique as tui_probe.py (the IMAP probe), whose frame hook and RSS reading it uses.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from tests.bench.tui_probe import FIRST_ROWS, SIZE, on_first_frame, rss

ROWS_MARK = "pop3-probe: rows from the server"


async def main(config: Path, subject: str) -> None:
    started = time.monotonic()
    from tuimail.cli import tui_arguments
    from tuimail.store.config_file import config_path
    from tuimail.ui.launch import build_app

    args = tui_arguments(["--config", str(config)])
    app = build_app(config_path(args.config))  # the path `tuimail --config CONFIG` takes, head start included
    # only now (the head start is under way): the pane's module, to see open()'s rows arrive
    from tuimail.ui.widgets.pop3_pane import Pop3Pane

    opened = Pop3Pane.on_folder_opened

    def on_folder_opened(pane, message) -> None:
        print(ROWS_MARK, flush=True)
        opened(pane, message)

    Pop3Pane.on_folder_opened = on_folder_opened
    seen: dict[str, object] = {}

    def painted() -> bool:
        panes = app.screen.query(Pop3Pane)
        if not panes or not panes.first().query("MessageList"):
            return False
        index = panes.first().index_widget.index
        rows = min(FIRST_ROWS, index.count)
        if rows == 0 or any(index.row(r) is None for r in range(rows)):
            return False
        seen["source"] = "server" if panes.first()._opened else "store"
        seen["logged_in"] = int(getattr(panes.first().connection, "_sessions", 0) > 0)
        return True

    shown = on_first_frame(app, painted, subject)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await asyncio.wait_for(shown.wait(), 120)
        except asyncio.TimeoutError:
            raise SystemExit("pop3_tui_probe: timed out waiting for the first screen") from None
        widget = app.screen.query_one(Pop3Pane).index_widget
        lines = ["".join(s.text for s in widget.render_line(y)) for y in range(3)]
        if not any(subject in line for line in lines):
            raise SystemExit(f"pop3_tui_probe: the newest subject is not on top: {lines[:2]}")
        print(json.dumps({"source": seen["source"], "logged_in_at_frame": seen["logged_in"],
                          "in_process_seconds": shown.at - started,
                          "rows": widget.index.count, **rss()}), flush=True)
        await pilot.press("q")


if __name__ == "__main__":
    # the terminal size run_test() gives the app, as a terminal would tell `tuimail` at start
    # (the head start fetches the rows that fit)
    os.environ["COLUMNS"], os.environ["LINES"] = str(SIZE[0]), str(SIZE[1])
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
