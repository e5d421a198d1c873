"""What the mail-reading subcommands share: the account and folder options, the password, an
IMAP session with the header cache, JSON and text output, and one-line errors."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from tuimail.model.config import Account, Config, Protocol
from tuimail.model.mime import MimePart, human_size
from tuimail.model.secret import Secret
from tuimail.model.summary import MessageSummary
from tuimail.model.text import one_line
from tuimail.protocols.errors import MailError
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.trace import ProtocolTrace, TraceCounters, connection_trace
from tuimail.store.credentials import CredentialError, lookup_password
from tuimail.store.folder_sync import FolderSync
from tuimail.store.header_cache import CacheError, HeaderCache
from tuimail.store.pop3_store import StoreError


class CommandError(Exception):
    """A problem to report in one line, exit status 1."""


def add_common(parser: argparse.ArgumentParser, folder: bool = True, cache: bool = True,
               session: str = "IMAP or POP3") -> None:
    # dest differs from the top-level --account (a subparser's default would override it)
    parser.add_argument("--account", dest="mail_account", metavar="NAME",
                        help="account to use (default: the default account)")
    if folder:
        parser.add_argument("--folder", "-f", default="INBOX", metavar="FOLDER",
                            help="folder, as the server names it (default: INBOX)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    if cache:
        parser.add_argument("--no-cache", action="store_true",
                            help="neither read nor write the header cache ($XDG_CACHE_HOME/tuimail)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="timeout for each network operation (default: the account's)")
    parser.add_argument("--stats", action="store_true",
                        help=f"print bytes in/out and round trips of the {session} session to stderr")


class CommandTraces:
    """The traces of the connections one command opens over one protocol: each the --trace
    book's when it records (cli.py), else a private one for --stats, else none. --stats
    prints the sum over them (none opened: zeros)."""

    def __init__(self, args: argparse.Namespace, protocol: str):
        self.protocol = protocol
        self.purpose = getattr(args, "command", None) or "cli"
        self.stats = bool(getattr(args, "stats", False))
        self.opened: list[ProtocolTrace] = []

    def new(self, account: str) -> ProtocolTrace | None:
        """The trace for a connection about to open."""
        trace = connection_trace(self.protocol, account, self.purpose)
        if trace is None and self.stats:
            trace = ProtocolTrace(self.protocol, capacity=200)
        if trace is not None:
            self.opened.append(trace)
        return trace

    def report(self) -> None:
        if not self.stats:
            return
        c = sum((t.counters() for t in self.opened), TraceCounters())
        print(f"{self.protocol}: {c.bytes_in} bytes in, {c.bytes_out} bytes out, {c.round_trips} round trips",
              file=sys.stderr)


def imap_account(args: argparse.Namespace, config: Config) -> Account:
    account = config.account(getattr(args, "mail_account", None) or getattr(args, "account", None))
    if account.server(Protocol.IMAP) is None:
        raise CommandError(f"account '{account.name}' has no IMAP server; these commands read over IMAP")
    return account


def password_for(account: Account) -> Secret:
    try:
        password = lookup_password(account)
    except CredentialError as exc:
        raise CommandError(str(exc)) from None
    if password is not None:
        return password
    if sys.stdin.isatty():
        typed = getpass.getpass(f"Password for {account.name} ({account.username}): ")
        if typed:
            return Secret(typed)
    raise CommandError(f"no password for account '{account.name}': set password_command in its config, "
                       f"or run `tuimail password set {account.name}`, or run this on a terminal")


@contextmanager
def imap_session(args: argparse.Namespace, config: Config) -> Iterator[tuple[ImapSession, FolderSync]]:
    account = imap_account(args, config)
    password = password_for(account)
    traces = CommandTraces(args, "imap")
    cache = HeaderCache.in_memory() if getattr(args, "no_cache", False) else HeaderCache.open_default()
    try:
        with ImapSession.connect(account, password, timeout=getattr(args, "timeout", None),
                                 trace=traces.new(account.name)) as session:
            yield session, FolderSync(session, cache, account.name)
    finally:
        cache.close()
        traces.report()


def run_guarded(func, args: argparse.Namespace, config: Config) -> int:
    """Run a command body, turning the expected failures into one line on stderr."""
    try:
        return func(args, config)
    except (CommandError, MailError, CacheError, StoreError, ValueError) as exc:
        print(f"tuimail: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tuimail list | head`
        return 0


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def summary_json(summary: MessageSummary, seq: int | None = None) -> dict:
    data: dict[str, Any] = {"uid": summary.uid}
    if seq is not None:
        data["seq"] = seq
    data.update({
        "date": (summary.date or summary.internal_date).isoformat() if (summary.date or summary.internal_date) else None,
        "from": [address_json(a) for a in summary.sender],
        "to": [address_json(a) for a in summary.to],
        "subject": summary.subject,
        "flags": sorted(summary.flags),
        "size": summary.size,
        "attachments": summary.has_attachments,
        "message_id": summary.message_id,
    })
    return data


def address_json(address) -> dict:
    return {"name": address.name, "email": address.email}


def part_json(part: MimePart) -> dict:
    return {"part": part.part_id, "filename": part.filename, "type": part.content_type, "size": part.size}


def summary_line(summary: MessageSummary) -> str:
    when = summary.date or summary.internal_date
    date = when.strftime("%Y-%m-%d %H:%M") if when else " " * 16
    sender = summary.sender[0] if summary.sender else None
    who = one_line((sender.name or sender.email) if sender else "", 24)
    marks = ("N" if not summary.seen else " ") + ("F" if summary.flagged else " ") + \
            ("@" if summary.has_attachments else " ")
    return f"{summary.uid:>8} {marks} {date}  {who:<24.24}  {one_line(summary.subject, 200)}"


def attachment_line(part: MimePart) -> str:
    name = one_line(part.filename or "(no name)", 120)
    return f"  [{part.part_id}] {name}  ({part.content_type}, {human_size(part.size)})"
