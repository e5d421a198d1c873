"""`tuimail pop3 sync|delete`: download new POP3 mail into the local store and apply the
account's keep-on-server policy, printing what was done; mark messages deleted locally."""
from __future__ import annotations

import argparse
import sys

from tuimail.commands.mailcli import CommandError, add_common, print_json, run_guarded
from tuimail.commands.pop3cli import account_of, pop3_sync
from tuimail.model.config import Config, Protocol
from tuimail.model.mime import human_size
from tuimail.model.text import one_line
from tuimail.store.pop3_keep import Item, SyncReport


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "pop3", help="POP3: download new mail, apply the keep-on-server policy",
        description="Commands for accounts with a POP3 server. The local copies live under "
                    "$XDG_DATA_HOME/tuimail/pop3/ACCOUNT/ (a Maildir plus a state file).")
    commands = parser.add_subparsers(dest="pop3_command", metavar="COMMAND", required=True)

    sync = commands.add_parser(
        "sync", help="download new messages and apply the keep policy",
        description="Download every message not stored locally yet (durably: fsynced and renamed "
                    "into place), then delete on the server what the account's policy says "
                    "(keep_on_server, delete_after_days, delete_on_server_when_deleted_locally). "
                    "Deletions are final only after the server accepts QUIT; a message is deleted "
                    "only if its UIDL is trustworthy and its local copy is intact.")
    # no --no-cache: syncing into a throwaway store with keep_on_server = false would lose mail
    add_common(sync, folder=False, cache=False, session="POP3")
    sync.add_argument("--dry-run", action="store_true",
                      help="download nothing and delete nothing: print what would happen")
    sync.set_defaults(func=run_sync)

    delete = commands.add_parser(
        "delete", help="delete messages locally (and on the server at the next sync, if configured)",
        description="Hide messages ID... (ids from `tuimail list`) from the local store. With "
                    "delete_on_server_when_deleted_locally = true the next `tuimail pop3 sync` "
                    "deletes them on the server too, keeping the local copy until it has.")
    delete.add_argument("ids", type=int, nargs="+", metavar="ID")
    add_common(delete, folder=False, cache=False, session="POP3")
    delete.set_defaults(func=run_delete)


def _pop3_account(args: argparse.Namespace, config: Config):
    account = account_of(args, config)
    if account.server(Protocol.POP3) is None:
        raise CommandError(f"account '{account.name}' has no POP3 server")
    return account


def run_sync(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_sync, args, config)


def _sync(args: argparse.Namespace, config: Config) -> int:
    account = _pop3_account(args, config)
    with pop3_sync(args, account, quit=False) as sync:
        report = sync.sync(dry_run=args.dry_run)
    if args.json:
        print_json(report.to_json())
    else:
        print_report(report)
    return 0 if report.ok else 1


def run_delete(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_delete, args, config)


def _delete(args: argparse.Namespace, config: Config) -> int:
    account = _pop3_account(args, config)
    with pop3_sync(args, account) as sync:
        for id_ in args.ids:
            sync.record(id_)  # every id must exist before any is deleted
        sync.delete(args.ids)
    later = account.delete_on_server_when_deleted_locally
    if args.json:
        print_json({"deleted_locally": args.ids, "delete_on_server_at_next_sync": later})
    else:
        where = ("; the next `tuimail pop3 sync` deletes them on the server too" if later
                 else "; they stay on the server (delete_on_server_when_deleted_locally = false)")
        print(f"deleted {len(args.ids)} message(s) locally{where}")
    return 0


def _line(mark: str, item: Item) -> str:
    number = f"#{item.number}" if item.number else ""
    text = f"  {mark} {item.id or '-':>6} {number:>7}  {human_size(item.size):>9}  {item.key}"
    if item.subject:
        text += f"  {one_line(item.subject, 60)}"
    if item.reason:
        text += f"  ({item.reason})"
    return text


def print_report(report: SyncReport) -> None:
    mode = " (dry run: nothing downloaded, nothing deleted)" if report.dry_run else ""
    print(f"pop3 sync {report.account}: {report.count} message(s) on the server; policy: {report.policy}{mode}")
    for title, mark, items in report.sections():
        if items:
            print(f"{title} {len(items)}:")
            for item in items:
                print(_line(mark, item))
    for note in report.notes:
        print(f"note: {one_line(note)}")
    summary = (f"summary: downloaded {len(report.downloaded) + len(report.adopted)}, "
               f"deleted {len(report.deleted)}, kept {report.kept}, skipped {len(report.skipped)}")
    if report.dry_run:
        summary += f"; would download {len(report.would_download)}, would delete {len(report.would_delete)}"
    print(summary)
    if report.error:
        print(f"tuimail: {one_line(report.error)}", file=sys.stderr)
