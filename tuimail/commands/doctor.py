"""`tuimail doctor [ACCOUNT]`: check every configured server of an account and print the report."""
from __future__ import annotations

import argparse
import getpass
import sys

from tuimail.model.config import Config, Protocol
from tuimail.model.secret import Secret
from tuimail.protocols.doctor import format_report, run_doctor
from tuimail.store.credentials import CredentialError, lookup_password


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check connections, TLS, capabilities and login for an account",
        description="Connect to each configured server of ACCOUNT (IMAP, POP3, SMTP) and report the "
                    "TLS version and cipher, the certificate, the capabilities, the AUTH mechanisms, "
                    "whether login works, and how long each step took. Exits 1 when any check fails, "
                    "with one FAIL line per failure.")
    parser.add_argument("account", nargs="?", metavar="ACCOUNT",
                        help="account to check (default: the default account)")
    parser.add_argument("-p", "--protocol", action="append", choices=[p.value for p in Protocol],
                        help="check only this protocol (repeat for more)")
    parser.add_argument("--no-login", action="store_true",
                        help="check connections and TLS only; do not look up a password or log in")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="timeout for each network operation (default: the account's timeout)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    account = config.account(getattr(args, "account", None))
    login = not getattr(args, "no_login", False)
    password, problem = None, None
    if login:
        try:
            password = lookup_password(account)
        except CredentialError as exc:
            problem = f"FAIL password: {exc}"
        if password is None and problem is None and sys.stdin.isatty():
            typed = getpass.getpass(f"Password for {account.name} ({account.username}): ")
            password = Secret(typed) if typed else None
    report = run_doctor(account, password, getattr(args, "protocol", None),
                        timeout=getattr(args, "timeout", None), login=login and problem is None)
    for line in format_report(report):
        print(line)
    if problem:
        print(problem)
        return 1
    return 0 if report.ok else 1
