"""The tuimail command line: `tuimail` opens the TUI; subcommands mirror it for scripts."""
from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING

from tuimail import __version__
from tuimail.store import code_cache

if TYPE_CHECKING:
    import argparse

code_cache.install()  # before the first dataclass is made: tuimail's and Textual's start faster

from tuimail.model.config import Config, ConfigError  # noqa: E402
from tuimail.store.config_file import config_path, load_config  # noqa: E402

# Subcommand modules under tuimail/commands/; each registers itself through add_parser().
COMMANDS = ("accounts", "doctor", "password", "folders", "listing", "read", "save", "search", "pop3",
            "send", "reply", "forward", "outbox", "headers")


def build_parser() -> argparse.ArgumentParser:
    import argparse  # not for the TUI: tui_arguments reads its two options by hand

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


def tui_arguments(argv: list[str]) -> SimpleNamespace | None:
    """--config and --account when argv names no command: the TUI, started without loading
    argparse and every command's module (what build_parser does). None: anything else, even a
    missing value, is for the full parser to accept or explain."""
    found = {"config": None, "account": None}
    position = 0
    while position < len(argv):
        name, equals, value = argv[position].partition("=")
        if name not in ("--config", "--account"):
            return None
        if not equals:
            position += 1
            if position == len(argv) or argv[position].startswith("-"):
                return None
            value = argv[position]
        found[name[2:]] = value
        position += 1
    return SimpleNamespace(**found)


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
