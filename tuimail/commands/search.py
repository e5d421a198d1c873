"""`tuimail search QUERY`: server-side search, printed like `tuimail list`."""
from __future__ import annotations

import argparse

from tuimail.commands.mailcli import (add_common, imap_session, print_json, run_guarded, summary_json,
                                      summary_line)
from tuimail.model.config import Config
from tuimail.model.query import Query


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "search", help="search a folder on the server",
        description="Search FOLDER on the server (IMAP SEARCH, UTF-8). Words search the whole "
                    "message; from:, to:, cc:, subject:, body: and text: narrow a term; "
                    "quote terms with spaces: subject:\"big plans\". All terms must match. "
                    "Prints the newest LIMIT matches.")
    parser.add_argument("query", nargs="+", metavar="QUERY")
    add_common(parser)
    parser.add_argument("--limit", "-n", type=int, default=50, metavar="N",
                        help="print at most N matches (default 50)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    query = Query.parse(" ".join(args.query))
    with imap_session(args, config) as (session, sync):
        sync.open(args.folder, first=0, readonly=True)
        uids = session.search(query)
        shown = uids[:max(args.limit, 0)]
        found = sync.summaries(shown)
        missing = [uid for uid in shown if uid not in found]
        rows = [found[uid] for uid in shown if uid in found]
    if args.json:
        print_json({"folder": args.folder, "query": str(query), "matches": len(uids),
                    "messages": [summary_json(row) for row in rows], "gone": missing})
        return 0
    for row in rows:
        print(summary_line(row))
    if len(uids) > len(shown):
        print(f"... {len(uids) - len(shown)} more (use --limit)")
    return 0
