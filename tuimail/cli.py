"""The tuimail command line: `tuimail` opens the TUI; subcommands mirror it for scripts."""
from __future__ import annotations

import argparse
import importlib
import sys

from tuimail import __version__
from tuimail.model.config import Config, ConfigError
from tuimail.store.config_file import config_path, load_config

# Subcommand modules under tuimail/commands/; each registers itself through add_parser().
COMMANDS = ("accounts", "doctor", "password", "folders", "listing", "read", "save", "search", "pop3",
            "send", "reply", "forward", "outbox", "headers")


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


def tui_arguments(argv: list[str]) -> argparse.Namespace | None:
    """--config and --account when argv names no command: the TUI, started without loading
    every command's module (what build_parser does). None: let the full parser decide."""
    if any(arg in COMMANDS or arg.startswith(("-h", "--h", "--v")) for arg in argv):
        return None
    parser = argparse.ArgumentParser(prog="tuimail", add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("--config")
    parser.add_argument("--account")
    try:
        args, rest = parser.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):  # --config without a value: the full parser says so
        return None
    return None if rest else args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    tui = tui_arguments(argv)
    if tui is not None:
        from tuimail.ui.launch import launch  # Textual is imported only for the TUI

        try:
            return launch(config_path(tui.config), account=tui.account)
        except KeyboardInterrupt:
            return 130
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from tuimail.ui.launch import launch

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
