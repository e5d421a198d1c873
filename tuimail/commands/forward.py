"""`tuimail forward UID --to ADDR [--as-attachment | --inline]`: forward a message, with the
text on stdin as the note above it.

--as-attachment carries the original byte for byte as message/rfc822 (every header, Received
included); --inline quotes its text under a "Forwarded message" block, and --attachments
carries its attachments over. Without either, [ui] forward in the config decides (inline).
--redirect resends the original itself with Resent-* headers (no note). The message is queued
durably in the outbox, then sent; the outbox id and the final state are printed.
"""
from __future__ import annotations

import argparse

from tuimail.commands.mailcli import CommandError, run_guarded
from tuimail.commands.respond import add_options, fetch_original, mark_original, read_stdin, send
from tuimail.model.compose import (build_message, envelope, forward_as_attachment, forward_inline_draft,
                                   redirect_draft)
from tuimail.model.config import Config


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "forward", help="forward a message (note on stdin)",
        description="Forward message UID of FOLDER to --to addresses, with the text read from "
                    "stdin as a note above it. --as-attachment keeps the original byte for byte "
                    "(message/rfc822); --inline quotes its text. The message is stored in the "
                    "outbox before it is sent; the outbox id and the final state are printed.")
    add_options(parser)
    parser.add_argument("--to", action="append", required=True, metavar="ADDR",
                        help="recipient (repeatable, or comma-separated)")
    parser.add_argument("--cc", action="append", default=[], metavar="ADDR", help="copy to (repeatable)")
    parser.add_argument("--bcc", action="append", default=[], metavar="ADDR",
                        help="blind copy (repeatable); in the envelope only")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--as-attachment", dest="mode", action="store_const", const="attachment",
                      help="attach the original unchanged, as message/rfc822")
    mode.add_argument("--inline", dest="mode", action="store_const", const="inline",
                      help="quote the original's text in a new message")
    mode.add_argument("--redirect", dest="mode", action="store_const", const="redirect",
                      help="resend the original itself (Resent-From/To/Date); stdin is not read")
    parser.add_argument("--attachments", action="store_true",
                        help="with --inline: carry the original's attachments over")
    parser.set_defaults(func=run, mode=None)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _mode(args: argparse.Namespace, config: Config) -> str:
    if args.mode:
        return args.mode
    default = getattr(getattr(config, "ui", None), "forward", None)
    return "attachment" if getattr(default, "value", default) == "attachment" else "inline"


def _run(args: argparse.Namespace, config: Config) -> int:
    mode = _mode(args, config)
    if args.attachments and mode != "inline":
        raise CommandError("--attachments goes with --inline (an attached original keeps its own)")
    if mode == "redirect" and (args.cc or args.bcc):
        raise CommandError("--redirect sends to --to only")
    original = fetch_original(args, config)
    account = original.account
    if mode == "redirect":
        data, recipients = redirect_draft(original.raw, account, to=args.to)
        code = send(args, original, data, account.email, recipients, "redirect")
    else:
        text = read_stdin()
        if mode == "attachment":
            draft = forward_as_attachment(original.raw, account, to=args.to, note=text)
        else:
            draft = forward_inline_draft(original.raw, account, to=args.to, include_attachments=args.attachments)
            draft.body = text.rstrip("\n") + draft.body if text.strip() else draft.body.lstrip("\n")
        draft.cc, draft.bcc = list(args.cc), list(args.bcc)
        message = build_message(draft, account)
        envelope_from, recipients = envelope(draft)
        code = send(args, original, message, envelope_from, recipients, f"forward ({mode})")
    if code == 0:
        mark_original(args, original, "$Forwarded")
    return code
