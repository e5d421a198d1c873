"""The tuimail command line: `tuimail` opens the TUI; subcommands mirror it for scripts."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
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
            "send", "reply", "forward", "outbox", "headers", "compare")


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
    parser.add_argument("--trace", dest="trace_file", metavar="FILE", help=TRACE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tuimail.commands.{name}").add_parser(subparsers)
    _add_trace(subparsers)
    return parser


TRACE_HELP = ("write the protocol trace of every connection to FILE (mode 0600): time, connection, "
              "C/S and the line; passwords and AUTH data as ***, literals and bodies as {N bytes}")


def _add_trace(subparsers: argparse._SubParsersAction) -> None:
    """--trace after any command's name too (`tuimail list --trace FILE`), nested ones included.
    SUPPRESS: when not given there, the value given before the command name stands."""
    import argparse

    for parser in set(subparsers.choices.values()):
        parser.add_argument("--trace", dest="trace_file", metavar="FILE", default=argparse.SUPPRESS,
                            help=TRACE_HELP)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_trace(action)


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(args.config))


def tui_arguments(argv: list[str]) -> SimpleNamespace | None:
    """--config, --account and --trace when argv names no command: the TUI, started without
    loading argparse and every command's module (what build_parser does). None: anything else,
    even a missing value, is for the full parser to accept or explain."""
    found = {"config": None, "account": None}  # and "trace" when given
    position = 0
    while position < len(argv):
        name, equals, value = argv[position].partition("=")
        if name not in ("--config", "--account", "--trace"):
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
            return launch(config_path(tui.config), account=tui.account, trace=getattr(tui, "trace", None))
        except KeyboardInterrupt:
            return 130
    parser = build_parser()
    args = parser.parse_args(argv)
    book = None
    try:
        if args.command is None:
            from tuimail.ui.launch import launch

            return launch(config_path(args.config), account=args.account, trace=args.trace_file)
        if args.trace_file:
            book = _trace_book(args.trace_file)
            if book is None:
                return 2
        config = None if getattr(args, "no_config", False) else _load(args)
        return args.func(args, config)
    except ConfigError as exc:
        print(f"tuimail: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tuimail: interrupted", file=sys.stderr)
        return 130
    finally:
        if book is not None:
            _close_trace(book)


def _trace_book(path: str):
    """A TraceBook writing to path and recording this process's connections; None (and a
    line on stderr) when the file cannot be written."""
    from tuimail.protocols import trace

    book = trace.TraceBook()
    try:
        book.write_to(Path(path))
    except OSError as exc:
        print(f"tuimail: cannot write the trace to {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    trace.activate(book)
    return book


def _close_trace(book) -> None:
    from tuimail.protocols import trace

    trace.deactivate(book)
    book.close()
    if book.file_error:
        print(f"tuimail: the trace file {book.path} is incomplete: {book.file_error}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
