"""`tuimail reply UID [--all]`: reply to a message with the text on stdin (below the quote).

The original is fetched whole (BODY.PEEK[], so it stays unread), the reply is built with
In-Reply-To and References, queued durably in the outbox, then sent; the outbox id and the
final state are printed. Once delivered, the original is flagged \\Answered.
"""
from __future__ import annotations

import argparse

from tuimail.commands.mailcli import run_guarded
from tuimail.commands.respond import add_options, fetch_original, mark_original, read_stdin, send
from tuimail.model.compose import build_message, envelope, reply_draft
from tuimail.model.config import Config


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "reply", help="reply to a message (text on stdin)",
        description="Reply to message UID of FOLDER with the text read from stdin, placed below "
                    "the quoted original. The reply goes to Reply-To if the original has one, "
                    "else to its From; --all adds its To and Cc, without your own address. The "
                    "message is stored in the outbox before it is sent; the outbox id and the "
                    "final state are printed.")
    add_options(parser)
    parser.add_argument("--all", action="store_true", help="reply to all: the original's To and Cc too")
    parser.add_argument("--no-quote", action="store_true", help="do not quote the original")
    parser.add_argument("--also-me", metavar="ADDR", action="append", default=[],
                        help="another address of yours, left out of --all (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    original = fetch_original(args, config)
    text = read_stdin()
    draft = reply_draft(original.raw, original.account, reply_all=args.all, own_addresses=args.also_me,
                        quote_body="" if args.no_quote else None)
    if args.no_quote:
        draft.body = text
    else:
        draft.body = draft.body.rstrip("\n") + "\n\n" + text
    message = build_message(draft, original.account)
    envelope_from, recipients = envelope(draft)
    code = send(args, original, message, envelope_from, recipients, "reply")
    if code == 0:
        mark_original(args, original, "\\Answered")
    return code
