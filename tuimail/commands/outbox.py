"""`tuimail outbox [list | retry ID [--force] | drop ID]`: what is waiting or went wrong in the
durable outbox ($XDG_DATA_HOME/tuimail/outbox), a retry, or removing an entry. Also the
delivery and report that `tuimail send` shares."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from tuimail.commands.mailcli import CommandError, CommandTraces, add_common, password_for, print_json, run_guarded
from tuimail.model.config import Account, Config, Security
from tuimail.model.secret import Secret
from tuimail.model.text import one_line

if TYPE_CHECKING:  # the outbox and SMTP load when a command uses them, not on every start
    from tuimail.store.outbox import Outbox, OutboxEntry

DELIVERED = ("sent", "filing_failed")  # the server said 250 (filing_failed: no Sent copy yet)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "outbox", help="list, retry or drop messages in the outbox",
        description="Every message is stored in the outbox before it is sent. `list` shows each "
                    "entry and its state: queued, sending, sent, failed (retry sends it again), "
                    "unknown (the connection was lost after the message was sent: it may have "
                    "arrived, so only `retry --force` sends it again) or filing_failed (delivered; "
                    "retry only files the copy in Sent). Exit status 0 when a retry ends sent.")
    parser.add_argument("action", nargs="?", choices=("list", "retry", "drop"), default="list")
    parser.add_argument("id", nargs="?", metavar="ID", help="the entry (see `tuimail outbox list`)")
    parser.add_argument("--force", action="store_true",
                        help="retry an entry whose delivery is unknown (its recipients may get it twice)")
    add_common(parser, folder=False, cache=False, session="SMTP")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    from tuimail.store.outbox import OutboxError

    outbox = open_outbox()
    if args.action == "list":
        return _list(args, outbox)
    if not args.id:
        raise CommandError(f"`tuimail outbox {args.action}` needs the entry's ID")
    try:
        if args.action == "drop":
            outbox.drop(args.id)
            print_json({"id": args.id, "dropped": True}) if args.json else print(f"{args.id} dropped")
            return 0
        entry = outbox.get(args.id)
    except OutboxError as exc:
        raise CommandError(str(exc)) from None
    account = config.account(entry.account)
    entry, failure = deliver_and_report(args, outbox, entry, account)
    return 0 if entry.state.value == "sent" and not failure else 1


def open_outbox() -> Outbox:
    from tuimail.store.outbox import Outbox, OutboxError

    try:
        return Outbox.open_default()
    except OutboxError as exc:
        raise CommandError(str(exc)) from None


def _list(args: argparse.Namespace, outbox: Outbox) -> int:
    entries = [e for e in outbox.entries() if not args.mail_account or e.account == args.mail_account]
    if args.json:
        print_json({"entries": [entry_json(e) for e in entries], "problems": outbox.problems})
        return 0
    for entry in entries:
        when = datetime.fromtimestamp(entry.created).strftime("%Y-%m-%d %H:%M")
        first = entry.recipients[0] if entry.recipients else ""
        more = f" +{len(entry.recipients) - 1}" if len(entry.recipients) > 1 else ""
        print(f"{entry.id}  {entry.state.value:<13} {when}  {entry.account}  {one_line(first, 40)}{more}  "
              f"{one_line(entry.subject, 80)}")
    if not entries:
        print("tuimail: the outbox is empty", file=sys.stderr)
    for problem in outbox.problems:
        print(f"tuimail: note: {one_line(problem)}", file=sys.stderr)
    return 0


def password_of(account: Account) -> Secret | None:
    """The password, when sending or filing can use one. Plain SMTP never sends it, so there
    a missing password only keeps the Sent copy from being filed."""
    server = account.smtp
    if server is not None and server.security is Security.PLAIN:
        if account.imap is None:
            return None
        try:
            return password_for(account)
        except CommandError:
            return None
    return password_for(account)


def deliver_and_report(args: argparse.Namespace, outbox: Outbox, entry: OutboxEntry,
                       account: Account, password: Secret | None = None,
                       extra: dict | None = None) -> tuple[OutboxEntry, str]:
    """Deliver the entry (or file it, for filing_failed), print its id, final state and each
    recipient's answer; the entry as it ended, and what the outbox refused or failed at.
    password: when already known (else looked up); extra: more keys for --json."""
    from tuimail.store.outbox import OutboxBusy, OutboxError, deliver

    if account.smtp is None:
        raise CommandError(f"account '{account.name}' has no SMTP server to send with")
    password = password or password_of(account)
    traces = CommandTraces(args, "smtp")
    failure = ""
    try:
        entry = deliver(outbox, entry.id, account, password, force=getattr(args, "force", False),
                        timeout=args.timeout, trace=traces.new(account.name))
    except OutboxBusy as exc:
        raise CommandError(str(exc)) from None
    except OutboxError as exc:
        failure = str(exc)
        entry = getattr(exc, "entry", None) or outbox.get(entry.id)
    traces.report()
    report(args, entry, failure, extra)
    return entry, failure


def entry_json(entry: OutboxEntry, failure: str = "") -> dict:
    return {**entry.to_json(), "error": failure or None}


def report(args: argparse.Namespace, entry: OutboxEntry, failure: str = "", extra: dict | None = None) -> None:
    if args.json:
        print_json({**entry_json(entry, failure), **(extra or {})})
        return
    print(f"{entry.id} {entry.state.value}")
    for r in entry.results:
        verdict = "accepted" if r.accepted else "refused "
        print(f"  {verdict} {one_line(r.address, 200)}: {r.code} {one_line(r.message, 200)}")
    if entry.reply:
        print(f"  server: {one_line(entry.reply, 300)}")
    if entry.filing:
        print(f"  sent copy: {one_line(entry.filing, 300)}")
    if failure:
        print(f"tuimail: {one_line(failure, 500)}", file=sys.stderr)
    hint = {
        "failed": f"kept in the outbox; `tuimail outbox retry {entry.id}` sends it again",
        "unknown": f"delivery unknown, so it is not sent again unless you ask: "
                             f"`tuimail outbox retry {entry.id} --force`",
        "filing_failed": f"delivered, but not filed in Sent; `tuimail outbox retry "
                                   f"{entry.id}` files it without sending it again",
        "queued": f"kept in the outbox; `tuimail outbox retry {entry.id}` sends it",
    }.get(entry.state.value)
    if hint:
        print(f"tuimail: {hint}", file=sys.stderr)
