"""`tuimail list|read|save` for accounts that read with POP3 (protocol = "pop3", or an IMAP
account with fallback = "pop3" whose IMAP server cannot be reached).

Ids are the local store's (stable across sessions; POP3 message numbers are not). list goes
the lazy way (STAT plus one pipelined window); read and save use the local copy when there is
one and need no network then. Nothing here deletes on the server: that is `tuimail pop3 sync`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tuimail.commands.mailcli import (CommandError, CommandTraces, password_for, print_json,
                                      summary_json, summary_line)
from tuimail.model.config import Account, Config, Protocol
from tuimail.model.index import Window
from tuimail.model.message import parse_message, part_bytes
from tuimail.model.pop3 import show_key
from tuimail.protocols.errors import ConnectError, MailTimeout
from tuimail.protocols.pop3 import Pop3Session
from tuimail.store.attachments import SaveError, save_attachment
from tuimail.store.pop3_store import Pop3Store
from tuimail.store.pop3_sync import Pop3Sync


def account_of(args: argparse.Namespace, config: Config) -> Account:
    return config.account(getattr(args, "mail_account", None) or getattr(args, "account", None))


def reads_pop3(account: Account) -> bool:
    return account.protocol is Protocol.POP3


def with_fallback(args: argparse.Namespace, config: Config, imap_run: Callable[[], int],
                  pop3_run: Callable[[Account], int]) -> int:
    """POP3 accounts go to pop3_run; an IMAP account with fallback = "pop3" too, when its
    IMAP server cannot be reached (never on a login or certificate failure)."""
    account = account_of(args, config)
    if reads_pop3(account):
        return pop3_run(account)
    if account.fallback is not Protocol.POP3:
        return imap_run()
    try:
        return imap_run()
    except (ConnectError, MailTimeout) as exc:
        print(f"tuimail: note: {exc}; reading over POP3 instead (fallback = \"pop3\"); "
              f"ids are the POP3 store's", file=sys.stderr)
        return pop3_run(account)


@contextmanager
def pop3_sync(args: argparse.Namespace, account: Account, quit: bool = True) -> Iterator[Pop3Sync]:
    """A Pop3Sync on the account's local store; the server is contacted only when needed."""
    if account.server(Protocol.POP3) is None:
        raise CommandError(f"account '{account.name}' has no POP3 server")
    folder = getattr(args, "folder", "INBOX") or "INBOX"
    if folder.upper() != "INBOX":
        raise CommandError(f"POP3 has only INBOX; account '{account.name}' has no folder {folder!r}")
    traces = CommandTraces(args, "pop3")
    scratch = tempfile.TemporaryDirectory(prefix="tuimail-pop3-") if getattr(args, "no_cache", False) else None
    store = Pop3Store(Path(scratch.name)) if scratch else Pop3Store.open_default(account.name)

    def connect() -> Pop3Session:
        return Pop3Session.connect(account, password_for(account), trace=traces.new(account.name),
                                   timeout=getattr(args, "timeout", None))

    sync = Pop3Sync(store, account, connect=connect)
    try:
        yield sync
    finally:
        try:
            if quit and sync.connected:
                sync.close()
        finally:
            store.close()
            if scratch is not None:
                scratch.cleanup()
            traces.report()


def list_pop3(args: argparse.Namespace, account: Account) -> int:
    with pop3_sync(args, account) as sync:
        if getattr(args, "offline", False):
            cached = sync.cached(limit=args.limit + args.offset)
            count = cached.count if cached else 0
            hi = count - args.offset
            rows = {n: r for n, r in (cached.rows if cached else {}).items() if n <= hi}
        elif args.offset == 0:
            opened = sync.open(first=args.limit)
            count, rows = opened.count, opened.rows
        else:
            count = sync.open(first=0).count
            hi = count - args.offset
            rows = sync.rows(Window(max(1, hi - args.limit + 1), hi)) if hi > 0 else {}
        ordered = [(n, rows[n]) for n in sorted(rows, reverse=True)]
        keys = {row.uid: show_key(sync.record(row.uid).key) for _, row in ordered}
    if args.json:
        print_json({"folder": "INBOX", "protocol": "pop3", "count": count,
                    "messages": [summary_json(row, n) | {"uidl": keys[row.uid]} for n, row in ordered]})
        return 0
    for _, row in ordered:
        print(summary_line(row))
    return 0


def read_pop3(args: argparse.Namespace, account: Account, show) -> int:
    with pop3_sync(args, account) as sync:
        if args.raw:
            data = sync.raw(args.uid, force=args.force)
            if data is None:
                raise CommandError(f"message {args.uid} is above max_download_size; add --force to download it")
            if args.json:
                print_json({"uid": args.uid, "raw": data.decode("utf-8", "replace")})
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            return 0
        view = sync.read(args.uid, force=args.force)
    return show(args, view)


def save_pop3(args: argparse.Namespace, account: Account, directory: Path) -> tuple[dict, str | None]:
    """Save one part; returns the JSON facts and the part's own file name."""
    with pop3_sync(args, account) as sync:
        raw = sync.raw(args.uid, force=True)  # saving is asking for the message
    limits = account.limits  # the numbering must match what `read` showed
    part = next((p for p in parse_message(raw, limits).root.walk() if p.part_id == args.part
                 and not p.is_multipart), None)
    data = part_bytes(raw, args.part, limits) if part is not None else None
    if part is None or data is None:
        raise CommandError(f"message {args.uid} has no part {args.part!r}; `tuimail read {args.uid}` lists them")
    try:
        path = save_attachment(directory, part.filename, [data])
    except SaveError as exc:
        raise CommandError(str(exc)) from None
    return {"uid": args.uid, "part": part.part_id, "filename": part.filename, "path": str(path),
            "bytes": path.stat().st_size}, part.filename
