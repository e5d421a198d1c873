"""`tuimail` with no command: check the config, then run the TUI.

Before Textual is imported (a third of a second or more), a HeadStart thread begins on the
INBOX of the account that will open: cached rows, password, connection, first screen.
The run's TraceBook records from before that, so the head start's connection is in the
trace panel too (and in FILE with --trace FILE).
"""
from __future__ import annotations

import gc
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tuimail.model.config import Config, ConfigError
from tuimail.protocols.trace import TraceBook, activate, deactivate
from tuimail.store.config_file import load_config
from tuimail.ui.layout import first_rows

if TYPE_CHECKING:
    from tuimail.store.head_start import HeadStart
    from tuimail.ui.app import TuimailApp


class LaunchError(Exception):
    """The config exists but cannot be used: a one-line message, exit status 2."""


_gc_paused = False
_switch_interval: float | None = None  # the interpreter's, while start-up runs with a shorter one
STARTUP_SWITCH_INTERVAL = 0.0002  # seconds (Python's default is 0.005)


def begin_startup() -> None:
    """Start-up mode, until the app's first frame with its head start done (end_startup).

    Start-up makes hundreds of thousands of objects (Textual's import alone), and each full
    collection of the cyclic GC walks them all: about 6% of the instructions to the first frame.
    It waits, unless something else turned it off.

    The head start's thread gives the GIL up at every socket read and every SQLite step while
    the main thread imports Textual and builds the screen; each time, it waited up to Python's
    switch interval (5 ms) to get it back: a POP3 window stored in the local store took 50 to
    190 ms, at random. With 0.2 ms it is 65 to 120 ms."""
    global _gc_paused, _switch_interval
    if gc.isenabled():
        gc.disable()
        _gc_paused = True
    if _switch_interval is None:
        _switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(_switch_interval, STARTUP_SWITCH_INTERVAL))


def in_startup() -> bool:
    """Between begin_startup and end_startup."""
    return _gc_paused or _switch_interval is not None


def end_startup() -> None:
    """The end of start-up mode: the GC runs again, and collects what start-up left in cycles
    at its next pass; the switch interval is the interpreter's again. Only undoes begin_startup."""
    global _gc_paused, _switch_interval
    if _gc_paused:
        _gc_paused = False
        gc.enable()
    if _switch_interval is not None:
        sys.setswitchinterval(_switch_interval)
        _switch_interval = None


def head_start(config: Config, account: str | None) -> "HeadStart | None":
    """Start preparing the INBOX that will open, or None where there is nothing to prepare."""
    from tuimail.store.head_start import HeadStart, Pop3HeadStart
    from tuimail.store.header_cache import CacheError, HeaderCache

    if not config.accounts:
        return None
    chosen = config.account(account)
    first = first_rows(shutil.get_terminal_size((80, 24)).lines)
    if Pop3HeadStart.applies_to(chosen):
        from tuimail.store.pop3_store import Pop3Store, StoreError

        try:
            store = Pop3Store.open_default(chosen.name)
        except (StoreError, OSError):
            return None  # the pane opens it again and says what is wrong
        return Pop3HeadStart(chosen, store, first).start()
    if not HeadStart.applies_to(chosen):
        return None
    try:
        cache = HeaderCache.open_default()
    except CacheError:
        return None  # the screen opens it again and says what is wrong
    return HeadStart(chosen, cache, first).start()


def build_app(config_path: Path, account: str | None = None, trace_book: TraceBook | None = None) -> "TuimailApp":
    """The app, with its head start running. LaunchError when the config is unusable;
    no config file means a first run: the app opens the account setup form. trace_book:
    where the connections record (a new one unless given)."""
    begin_startup()  # until the app's first frame (TuimailApp ends it)
    try:
        return _build(config_path, account, trace_book)
    except BaseException:
        end_startup()
        raise


def _build(config_path: Path, account: str | None, trace_book: TraceBook | None) -> "TuimailApp":
    config: Config | None = None
    if config_path.exists():
        try:
            config = load_config(config_path)
            if account is not None:
                config.account(account)
        except ConfigError as exc:
            raise LaunchError(f"config error: {exc}") from None
    elif account is not None:
        raise LaunchError(f"config error: {config_path}: no such file, so no account '{account}'")
    book = trace_book if trace_book is not None else TraceBook()
    activate(book)  # before the head start opens its connection
    early = head_start(config, account) if config is not None else None

    from tuimail.ui.app import TuimailApp  # Textual only once the config is known to be usable

    return TuimailApp(config_path, config, account=account, head_start=early, trace_book=book)


def launch(config_path: Path, account: str | None = None, trace: str | None = None) -> int:
    """Run the TUI; 2 with a one-line message when the config exists but is invalid, or the
    trace FILE cannot be written."""
    book = TraceBook()
    if trace:
        try:
            book.write_to(Path(trace))
        except OSError as exc:
            print(f"tuimail: cannot write the trace to {trace}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    try:
        try:
            app = build_app(config_path, account, trace_book=book)
        except LaunchError as exc:
            print(f"tuimail: {exc}", file=sys.stderr)
            return 2
        app.run()
        return app.return_code or 0
    finally:
        deactivate(book)
        book.close()
        if book.file_error:
            print(f"tuimail: the trace file {trace} is incomplete: {book.file_error}", file=sys.stderr)
