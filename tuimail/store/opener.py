"""Opening an attachment with another program ("open with").

The file is saved (save_attachment: O_EXCL, no symlinks, 0600) into a private directory of
this session, mode 0700, then handed to the configured command or the system opener as one
argv element of its own: never through a shell, so no file name can become a command. The
program runs detached, with no access to the terminal the TUI draws on.
"""
from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

DEFAULT_OPENER = "open" if sys.platform == "darwin" else "xdg-open"


class OpenError(Exception):
    pass


def opener_argv(command: str | None, path: Path) -> list[str]:
    """The command's words (shell-like quoting, no shell) and the file as the last argument."""
    words = shlex.split(command) if command else [DEFAULT_OPENER]
    if not words:
        raise OpenError("open_command is empty")
    return words + [str(path)]


class PrivateDir:
    """A directory only this user can enter, made on first use, removed by cleanup()."""

    def __init__(self, parent: Path | None = None) -> None:
        self._parent = parent
        self._path: Path | None = None
        self._lock = threading.Lock()

    def path(self) -> Path:
        with self._lock:
            if self._path is None:
                parent = self._parent or _runtime_dir()
                made = Path(tempfile.mkdtemp(prefix="tuimail-open-", dir=parent))
                info = made.lstat()
                if not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
                    raise OpenError(f"{made} is not a private directory")
                self._path = made
            return self._path

    def cleanup(self) -> None:
        with self._lock:
            if self._path is not None:
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = None


def _runtime_dir() -> Path | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime)
    return None  # tempfile's default


def launch(argv: list[str], on_exit: Callable[[int], None] | None = None) -> subprocess.Popen:
    """Start argv detached (own session, no terminal); on_exit(status) is called from a
    waiting thread when it ends. OpenError when it cannot be started."""
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError as exc:
        raise OpenError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None

    def wait() -> None:
        status = process.wait()
        if on_exit is not None:
            on_exit(status)

    threading.Thread(target=wait, name=f"wait {argv[0]}", daemon=True).start()
    return process
