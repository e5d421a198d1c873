"""`tuimail folders`: the account's folders with their roles and STATUS counts."""
from __future__ import annotations

import argparse

from tuimail.commands.mailcli import add_common, imap_session, print_json, run_guarded
from tuimail.model.config import Config
from tuimail.model.text import one_line


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "folders", help="list folders with roles and message counts",
        description="List the account's IMAP folders (LIST with SPECIAL-USE roles) and, for each "
                    "selectable one, its total and unread counts (STATUS).")
    add_common(parser, folder=False)
    parser.add_argument("--no-counts", action="store_true", help="skip the STATUS counts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    rows = []
    with imap_session(args, config) as (session, _):
        for folder in session.list_folders():
            row = {"name": folder.name, "display": folder.display, "role": folder.role,
                   "delimiter": folder.delimiter, "flags": list(folder.flags),
                   "selectable": folder.selectable, "messages": None, "unseen": None}
            if folder.selectable and not args.no_counts:
                status = session.status(folder.name)
                row["messages"], row["unseen"] = status.messages, status.unseen
            rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        counts = "" if row["messages"] is None else f"{row['messages']:>8} {row['unseen']:>7} unread"
        role = f"[{row['role']}]" if row["role"] else ""
        print(f"{one_line(row['display'], 60):<40} {role:<10} {counts}")
    return 0
