"""`tuimail compare`: the account's IMAP and POP3 side by side, measured on the live server."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from tuimail.commands.mailcli import CommandError, password_for, print_json, run_guarded
from tuimail.model.compare import CompareOptions
from tuimail.model.compare_render import TEXT_ROWS, text_lines
from tuimail.model.config import Config, Protocol
from tuimail.store.compare_run import run_compare


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="one account through IMAP and POP3 side by side, measured live",
        description="Connect to the account with both IMAP and POP3 and report side by side: TLS, "
                    "certificate, capabilities, AUTH mechanisms and login time; the folders and counts "
                    "IMAP shows against the POP3 maildrop; the INBOX messages matched across the two "
                    "(Message-ID, else size and Date) with their UID and UIDL; bytes, round trips and "
                    "time to list the newest 50 headers and to open one message; and what the "
                    "account's keep-on-server policy would delete (a dry run). A plain run changes "
                    "nothing on the server. --experiment also appends a test message and observes "
                    "whether a POP3 RETR sets \\Seen in IMAP, whether IMAP flags show in POP3 and "
                    "whether a POP3 DELE removes the message from IMAP, then removes it.")
    parser.add_argument("--account", dest="mail_account", metavar="NAME",
                        help="account to compare (default: the default account); it needs an "
                             "[accounts.NAME.imap] and an [accounts.NAME.pop3] table")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--experiment", action="store_true",
                        help="run the checks that change state, on a message this command appends and "
                             "removes again")
    parser.add_argument("--limit", type=_positive, default=500, metavar="N",
                        help="compare the newest N INBOX messages of each side (default: 500)")
    parser.add_argument("--rows", type=int, default=TEXT_ROWS, metavar="N",
                        help=f"match table rows in the text output (default: {TEXT_ROWS}); the exports have all")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown to FILE")
    parser.add_argument("--json-file", metavar="FILE", help="also write the report as JSON to FILE")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="timeout for each network operation (default: the account's)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_compare, args, config)


def _compare(args: argparse.Namespace, config: Config) -> int:
    account = config.account(getattr(args, "mail_account", None) or getattr(args, "account", None))
    for protocol in (Protocol.IMAP, Protocol.POP3):
        if account.server(protocol) is None:
            raise CommandError(f"account '{account.name}' has no [accounts.{account.name}.{protocol.value}] "
                               f"table; compare needs both IMAP and POP3")
    options = CompareOptions(limit=args.limit, experiment=args.experiment, timeout=args.timeout)
    report = run_compare(account, password_for(account), options)
    if args.markdown:
        _write(args.markdown, report.to_markdown())
    if args.json_file:
        _write(args.json_file, json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    if args.json:
        print_json(report.to_json())
    else:
        width = max(80, min(shutil.get_terminal_size((120, 24)).columns, 160))
        for line in text_lines(report, rows=args.rows, width=width):
            print(line)
    return 0


def _write(path: str, text: str) -> None:
    """Write an export whole: to a temporary file next to it, then renamed into place."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
