"""Editing a message body in the user's own editor ($VISUAL, else $EDITOR, else vi).

The text goes to a file of mode 0600 in a directory only this user can enter (PrivateDir),
the editor runs on the terminal (the caller suspends the TUI), and the file is read back and
removed. The command is split shell-like and run without a shell; the file is its last argument.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tuimail.store.opener import PrivateDir

MAX_BODY_BYTES = 32 * 1024 * 1024


class EditorError(Exception):
    """The editor could not be run, or failed; one line."""


def editor_argv(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    command = env.get("VISUAL") or env.get("EDITOR") or "vi"
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise EditorError(f"cannot split the editor command {command!r}: {exc}") from None
    if not words:
        raise EditorError("$VISUAL/$EDITOR names no program")
    return words


@dataclass
class EditSession:
    """One round trip: prepare() writes the file, run() starts the editor on the terminal,
    result() reads the text back and removes the file."""

    text: str
    argv: list[str]
    private: PrivateDir
    path: Path | None = None

    def prepare(self) -> Path:
        directory = self.private.path()
        path = directory / "message.txt"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.text)
        self.path = path
        return path

    def run(self) -> int:
        assert self.path is not None
        try:
            return subprocess.call([*self.argv, str(self.path)])
        except OSError as exc:
            raise EditorError(f"cannot run {self.argv[0]!r}: {exc.strerror or exc}") from None

    def result(self, status: int) -> str:
        assert self.path is not None
        try:
            if status != 0:
                raise EditorError(f"{self.argv[0]} exited with status {status}; the body was not changed")
            if self.path.stat().st_size > MAX_BODY_BYTES:
                raise EditorError(f"the edited body is larger than {MAX_BODY_BYTES} bytes; not taken")
            return self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise EditorError(f"cannot read the edited body back: {exc.strerror or exc}") from None
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self.private.cleanup()


def edit_text(text: str, argv: list[str] | None = None, private: PrivateDir | None = None) -> str:
    """text edited by the editor (blocking, on the current terminal); EditorError on failure."""
    session = EditSession(text, argv or editor_argv(), private or PrivateDir())
    session.prepare()
    try:
        status = session.run()
    except EditorError:
        session.cleanup()
        raise
    return session.result(status)
