"""`tuimail send --to ... --subject ... [--attach FILE]...` with the text on stdin, or
`tuimail send --eml FILE`: the message is stored in the outbox (fsynced) before anything goes
on the wire, then sent; the outbox id, the final state and each recipient's answer are printed."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuimail.commands.mailcli import CommandError, add_common, run_guarded
from tuimail.commands.outbox import DELIVERED, deliver_and_report, open_outbox
from tuimail.commands.respond import read_stdin
from tuimail.model.config import Config

MAX_EML_BYTES = 100 * 1024 * 1024


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "send", help="send a message (text on stdin, or --eml FILE)",
        description="Send a new message from the account's address, with the text read from "
                    "stdin. Bcc recipients get it without appearing in it. With --eml, the file "
                    "is sent as it is (a Bcc header in it is removed, its addresses kept), to "
                    "--to/--cc/--bcc if given, else to its own To, Cc and Bcc. The message is "
                    "stored in the outbox before it is sent, filed in the IMAP Sent folder after; "
                    "exit status 0 when it was delivered.")
    for name in ("to", "cc", "bcc"):
        parser.add_argument(f"--{name}", action="append", default=[], metavar="ADDR",
                            help=f"{name.capitalize()} recipient, or a comma-separated list (repeatable)")
    parser.add_argument("--subject", metavar="TEXT", help="the subject (required without --eml)")
    parser.add_argument("--attach", action="append", default=[], type=Path, metavar="FILE",
                        help="attach a file (repeatable)")
    parser.add_argument("--eml", metavar="FILE", help="send this message file as it is ('-': stdin)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the message that would be sent; queue and send nothing")
    add_common(parser, folder=False, cache=False, session="SMTP")
    parser.set_defaults(func=run, force=False)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    from tuimail.model.compose import Draft, build_message, envelope, message_bytes
    from tuimail.model.draft import identity, parse_fields
    from tuimail.store.outbox import OutboxError

    account = config.account(args.mail_account)
    if account.smtp is None:
        raise CommandError(f"account '{account.name}' has no SMTP server to send with")
    if args.eml:
        if args.subject is not None or args.attach:
            raise CommandError("--eml sends the file as it is: --subject and --attach do not apply")
        message: bytes = _read_eml(args.eml)
        envelope_from = account.email
        recipients = [a.addr_spec for a in parse_fields([*args.to, *args.cc, *args.bcc], "recipient")]
    else:
        if not (args.to or args.cc or args.bcc):
            raise CommandError("no recipients: give --to, --cc or --bcc (or --eml FILE)")
        if args.subject is None:
            raise CommandError("--subject is required (or send a whole message with --eml FILE)")
        draft = Draft(account=account.name, from_addr=identity(account.display_name, account.email),
                      to=args.to, cc=args.cc, bcc=args.bcc, subject=args.subject, body=read_stdin(),
                      attachments=list(args.attach))
        message = message_bytes(build_message(draft, account))
        envelope_from, recipients = envelope(draft)
    if args.dry_run:
        sys.stdout.buffer.write(message)
        sys.stdout.flush()
        return 0
    outbox = open_outbox()
    try:
        entry = outbox.enqueue(account.name, message, envelope_from, recipients)
    except OutboxError as exc:
        raise CommandError(str(exc)) from None
    if not args.json:
        print(f"tuimail: queued as {entry.id}", file=sys.stderr)
    entry, _ = deliver_and_report(args, outbox, entry, account)
    return 0 if entry.state.value in DELIVERED else 1


def _read_eml(name: str) -> bytes:
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_EML_BYTES + 1)
        else:
            with open(name, "rb") as handle:
                data = handle.read(MAX_EML_BYTES + 1)
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror}") from None
    if len(data) > MAX_EML_BYTES:
        raise CommandError(f"{name} is over {MAX_EML_BYTES // (1024 * 1024)} MiB")
    if not data.strip():
        raise CommandError(f"{name} is empty")
    return data
