"""`tuimail accounts`: list the configured accounts and their servers."""
from __future__ import annotations

import argparse
import json

from tuimail.model.config import Config


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("accounts", help="list configured accounts",
                                   description="List the configured accounts and their servers.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    rows = []
    for account in config.accounts.values():
        rows.append({
            "name": account.name,
            "email": account.email,
            "protocol": account.protocol.value,
            "default": account.name == (config.default_account or next(iter(config.accounts))),
            "servers": {s.protocol.value: f"{s.host}:{s.port} {s.security.value}" for s in account.servers()},
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no accounts in {config.path}")
        return 0
    for row in rows:
        mark = "*" if row["default"] else " "
        servers = "  ".join(f"{p}={v}" for p, v in row["servers"].items())
        print(f"{mark} {row['name']:<12} {row['email']:<28} reads with {row['protocol']:<5} {servers}")
    return 0
