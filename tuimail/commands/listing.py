"""`tuimail list`: the newest envelopes of a folder, through the same lazy path as the TUI
(the header cache, then one windowed FETCH); never the whole folder. POP3 accounts: STAT and
one pipelined window (pop3cli.py)."""
from __future__ import annotations

import argparse

from tuimail.commands.mailcli import (add_common, imap_session, print_json, run_guarded, summary_json,
                                      summary_line)
from tuimail.commands.pop3cli import list_pop3, with_fallback
from tuimail.model.config import Config
from tuimail.model.index import Window

MAX_LIMIT = 10_000


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "list", help="print the newest envelopes of a folder",
        description="Print the newest LIMIT envelopes of FOLDER, newest first, skipping the OFFSET "
                    "newest. Only those rows are fetched (or read from the header cache), however "
                    "big the folder is.")
    add_common(parser)
    parser.add_argument("--limit", "-n", type=int, default=50, metavar="N", help="how many (default 50)")
    parser.add_argument("--offset", type=int, default=0, metavar="K", help="skip the K newest (default 0)")
    parser.add_argument("--offline", action="store_true",
                        help="POP3 accounts: only what the local store knows, no network")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    if not 0 < args.limit <= MAX_LIMIT or args.offset < 0:
        raise ValueError(f"--limit must be 1..{MAX_LIMIT} and --offset at least 0")
    return with_fallback(args, config, lambda: _imap(args, config), lambda account: list_pop3(args, account))


def _imap(args: argparse.Namespace, config: Config) -> int:
    with imap_session(args, config) as (_, sync):
        if args.offset == 0:
            opened = sync.open(args.folder, first=args.limit, readonly=True)
            count, rows = opened.count, opened.rows
        else:
            count = sync.open(args.folder, first=0, readonly=True).count
            hi = count - args.offset
            rows = sync.rows(Window(max(1, hi - args.limit + 1), hi)) if hi > 0 else {}
    ordered = [(seq, rows[seq]) for seq in sorted(rows, reverse=True)]
    if args.json:
        print_json({"folder": args.folder, "count": count,
                    "messages": [summary_json(row, seq) for seq, row in ordered]})
        return 0
    for _, row in ordered:
        print(summary_line(row))
    return 0
