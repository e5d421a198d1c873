"""The tuimail command line: `tuimail` opens the TUI; subcommands mirror it for scripts."""
from __future__ import annotations

import argparse
import importlib
import sys

from tuimail import __version__
from tuimail.model.config import Config, ConfigError
from tuimail.store.config_file import config_path, load_config

# Subcommand modules under tuimail/commands/; each registers itself through add_parser().
COMMANDS = ("accounts", "doctor", "password", "folders", "listing", "read", "save", "search", "pop3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuimail",
        description="A terminal mail client. With no command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"tuimail {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $TUIMAIL_CONFIG, else $XDG_CONFIG_HOME/tuimail/config.toml)")
    parser.add_argument("--account", metavar="NAME", help="account to open in the TUI")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tuimail.commands.{name}").add_parser(subparsers)
    return parser


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(args.config))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from tuimail.ui.launch import launch  # Textual is imported only for the TUI

            return launch(config_path(args.config), account=args.account)
        config = None if getattr(args, "no_config", False) else _load(args)
        return args.func(args, config)
    except ConfigError as exc:
        print(f"tuimail: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tuimail: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
