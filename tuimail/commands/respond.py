"""What `tuimail reply` and `tuimail forward` share: the original's raw bytes (IMAP BODY.PEEK[],
or the POP3 store), the text from stdin, and handing the message to the outbox, which stores
it durably before sending and reports the final state."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from email.message import EmailMessage

from tuimail.commands.mailcli import CommandError, imap_account, password_for
from tuimail.commands.pop3cli import account_of, pop3_sync, reads_pop3
from tuimail.model.config import Account, Config, Protocol
from tuimail.model.secret import Secret
from tuimail.model.text import one_line
from tuimail.protocols.errors import ConnectError, MailError, MailTimeout
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.trace import connection_trace

MAX_STDIN_CHARS = 10_000_000


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uid", type=int, metavar="UID", help="the original's UID (see `tuimail list`)")
    parser.add_argument("--account", dest="mail_account", metavar="NAME",
                        help="account to use (default: the default account)")
    parser.add_argument("--folder", "-f", default="INBOX", metavar="FOLDER",
                        help="the original's folder (default: INBOX)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="timeout for each network operation (default: the account's)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the message that would be sent; queue and send nothing")


@dataclass
class Original:
    account: Account
    raw: bytes
    password: Secret | None  # known already when IMAP needed it
    imap: bool


def fetch_original(args: argparse.Namespace, config: Config) -> Original:
    """The original's bytes as stored: BODY.PEEK[] (it stays unread), or the POP3 store's copy."""
    account = account_of(args, config)
    if reads_pop3(account):
        return _from_pop3(args, account)
    account = imap_account(args, config)
    password = password_for(account)
    try:
        trace = connection_trace("imap", account.name, getattr(args, "command", None) or "reply")
        with ImapSession.connect(account, password, timeout=args.timeout, trace=trace) as session:
            session.select(args.folder, readonly=True)
            raw = session.fetch_raw(args.uid)
    except (ConnectError, MailTimeout) as exc:
        if account.fallback is not Protocol.POP3:
            raise
        print(f"tuimail: note: {exc}; reading over POP3 instead (fallback = \"pop3\"); "
              f"ids are the POP3 store's", file=sys.stderr)
        return _from_pop3(args, account, password)
    if not raw:
        raise CommandError(f"no message with UID {args.uid} in {args.folder!r}")
    return Original(account, raw, password, imap=True)


def _from_pop3(args: argparse.Namespace, account: Account, password: Secret | None = None) -> Original:
    with pop3_sync(args, account) as sync:
        raw = sync.raw(args.uid, force=True)
    if not raw:
        raise CommandError(f"no message {args.uid} in the POP3 store of '{account.name}'")
    return Original(account, raw, password, imap=False)


def read_stdin() -> str:
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        print("tuimail: type the text, then Ctrl-D on a line of its own", file=sys.stderr)
    text = sys.stdin.read(MAX_STDIN_CHARS + 1)
    if len(text) > MAX_STDIN_CHARS:
        raise CommandError(f"the text on stdin is over {MAX_STDIN_CHARS} characters")
    return text


def send(args: argparse.Namespace, original: Original, message: EmailMessage | bytes, envelope_from: str,
         recipients: list[str], kind: str) -> int:
    """Queue (stored and fsynced first), deliver, print the outbox id and the final state."""
    if args.dry_run:
        from tuimail.model.compose import message_bytes  # loaded when a command sends, not at every start

        data = message if isinstance(message, bytes) else message_bytes(message)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    from tuimail.commands.outbox import DELIVERED, deliver_and_report
    from tuimail.store.outbox import Outbox, OutboxError

    account = original.account
    if account.server(Protocol.SMTP) is None:
        raise CommandError(f"account '{account.name}' has no SMTP server to send with")
    outbox = Outbox.open_default()
    try:
        entry = outbox.enqueue(account.name, message, envelope_from, recipients)
    except OutboxError as exc:
        raise CommandError(str(exc)) from None
    entry, _ = deliver_and_report(args, outbox, entry, account, original.password, {"kind": kind})
    return 0 if entry.state.value in DELIVERED else 1


def mark_original(args: argparse.Namespace, original: Original, flag: str) -> None:
    """\\Answered or $Forwarded on the original once delivered; a failure is only a note."""
    if not original.imap or args.dry_run:
        return
    try:
        trace = connection_trace("imap", original.account.name, "flag-original")
        with ImapSession.connect(original.account, original.password or password_for(original.account),
                                 timeout=args.timeout, trace=trace) as session:
            session.select(args.folder)
            session.set_flags([args.uid], add=[flag])
    except (MailError, CommandError) as exc:
        print(f"tuimail: note: sent, but could not flag the original {flag}: {one_line(str(exc), 200)}",
              file=sys.stderr)
