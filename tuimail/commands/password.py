"""`tuimail password set|delete ACCOUNT`: keep an account's password in the system keyring."""
from __future__ import annotations

import argparse
import getpass
import sys

from tuimail.model.config import Config
from tuimail.model.secret import Secret
from tuimail.store.credentials import CredentialError, delete_password, set_password


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "password", help="store or delete an account's password in the keyring",
        description="Store or delete an account's password in the system keyring (service "
                    "\"tuimail\", user ACCOUNT). An account's password_command, when set, is used "
                    "instead of the keyring.")
    actions = parser.add_subparsers(dest="password_action", metavar="ACTION", required=True)
    store = actions.add_parser(
        "set", help="store the password (asks for it; reads one line from stdin when not a terminal)",
        description="Store ACCOUNT's password in the keyring. On a terminal it is asked for twice "
                    "without echo; otherwise the first line of stdin is the password.")
    store.add_argument("account", metavar="ACCOUNT", help="account name from the config")
    remove = actions.add_parser("delete", help="delete the stored password",
                                description="Delete ACCOUNT's password from the keyring.")
    remove.add_argument("account", metavar="ACCOUNT", help="account name from the config")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    account = config.account(args.account)  # ConfigError names the known accounts
    try:
        if args.password_action == "delete":
            if delete_password(account.name):
                print(f"deleted the password for account '{account.name}' from the keyring")
            else:
                print(f"no password stored for account '{account.name}'")
            return 0
        password = _read_password(account.name)
        if password is None:
            return 1
        set_password(account.name, password)
    except CredentialError as exc:
        print(f"tuimail: {exc}", file=sys.stderr)
        return 1
    print(f"stored the password for account '{account.name}' in the keyring")
    if account.password_command:
        print(f"note: account '{account.name}' has a password_command, which is used instead")
    return 0


def _read_password(name: str) -> Secret | None:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != first:
            print("tuimail: the passwords differ; nothing stored", file=sys.stderr)
            return None
    else:
        first = sys.stdin.readline()
        first = first[:-2] if first.endswith("\r\n") else first.removesuffix("\n")
    if not first:
        print("tuimail: empty password; nothing stored", file=sys.stderr)
        return None
    return Secret(first)
