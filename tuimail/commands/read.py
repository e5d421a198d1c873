"""`tuimail read UID`: one message's headers, its displayed text and its attachment list;
only the text part is fetched. --raw prints the message as stored. POP3 accounts: UID is the
local store's id; the message is downloaded into the store once, then read from there."""
from __future__ import annotations

import argparse
import sys

from tuimail.commands.mailcli import (add_common, address_json, attachment_line, imap_session, part_json,
                                      print_json, run_guarded)
from tuimail.commands.pop3cli import read_pop3, with_fallback
from tuimail.model.config import Config
from tuimail.model.text import one_line


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "read", help="print a message",
        description="Print message UID of FOLDER: the header summary, the text it displays "
                    "(text/plain, or text/html turned into text) and its attachments with names, "
                    "types and sizes. Only the text part is downloaded; the message stays unread.")
    parser.add_argument("uid", type=int, metavar="UID", help="the message's UID (see `tuimail list`)")
    add_common(parser)
    parser.add_argument("--raw", action="store_true", help="print the raw message instead (all of it)")
    parser.add_argument("--force", action="store_true",
                        help="POP3 accounts: download it even if above max_download_size")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    return with_fallback(args, config, lambda: _imap(args, config), lambda account: read_pop3(args, account, show))


def _imap(args: argparse.Namespace, config: Config) -> int:
    with imap_session(args, config) as (session, sync):
        if args.raw:
            session.select(args.folder, readonly=True)
            data = session.fetch_raw(args.uid)
            if args.json:
                print_json({"uid": args.uid, "raw": data.decode("utf-8", "replace")})
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            return 0
        sync.open(args.folder, first=0, readonly=True)
        view = sync.read(args.uid)
    return show(args, view)


def show(args: argparse.Namespace, view) -> int:
    s = view.summary
    if args.json:
        print_json({"uid": s.uid, "subject": s.subject, "from": [address_json(a) for a in s.sender],
                    "to": [address_json(a) for a in s.to], "cc": [address_json(a) for a in s.cc],
                    "date": s.date.isoformat() if s.date else None, "flags": sorted(s.flags),
                    "kind": view.kind, "text": view.text,
                    "attachments": [part_json(p) for p in view.attachments], "problems": list(view.problems)})
        return 0
    for name, value in (("From", ", ".join(a.display() for a in s.sender)),
                        ("To", ", ".join(a.display() for a in s.to)),
                        ("Cc", ", ".join(a.display() for a in s.cc)),
                        ("Date", s.date.strftime("%a, %d %b %Y %H:%M %z") if s.date else ""),
                        ("Subject", s.subject)):
        if value:
            print(f"{name}: {one_line(value, 500)}")
    print()
    print(view.text.rstrip("\n"))
    if view.attachments:
        print()
        print(f"{len(view.attachments)} attachment(s):")
        for part in view.attachments:
            print(attachment_line(part))
    for problem in view.problems:
        print(f"tuimail: note: {one_line(problem)}", file=sys.stderr)
    if getattr(view, "headers_only", False):
        print("tuimail: note: only the headers are downloaded; add --force for the whole message",
              file=sys.stderr)
    return 0
