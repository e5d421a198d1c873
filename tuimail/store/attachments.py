"""Saving attachments: always a new file directly inside the chosen directory, mode 0600.

The directory is opened once and the file created relative to it with O_EXCL|O_NOFOLLOW, so a
planted symlink or a name that escapes the directory cannot redirect the write. A failed or
cancelled save removes its partial file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from tuimail.model.filenames import safe_filename

MAX_SUFFIX = 1000


class SaveError(Exception):
    pass


class SaveCancelled(SaveError):
    pass


def _create(dir_fd: int, name: str) -> tuple[int, str]:
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for n in range(MAX_SUFFIX):
        candidate = name if n == 0 else f"{stem} ({n}){dot}{ext}"
        try:
            return os.open(candidate, flags, 0o600, dir_fd=dir_fd), candidate
        except FileExistsError:
            continue
    raise SaveError(f"too many files named like {name!r}")


def save_attachment(directory: Path, filename: str | None, chunks: Iterable[bytes],
                    on_progress: Callable[[int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> Path:
    """Stream chunks into a new file in directory; returns its path. SaveError on failure."""
    name = safe_filename(filename)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SaveError(f"cannot open folder {directory}: {exc.strerror}") from None
    try:
        fd, final = _create(dir_fd, name)
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if cancelled is not None and cancelled():
                        raise SaveCancelled(f"saving {final} was cancelled")
                    out.write(chunk)
                    written += len(chunk)
                    if on_progress is not None:
                        on_progress(written)
                out.flush()
                os.fsync(out.fileno())
        except BaseException as exc:
            try:
                os.unlink(final, dir_fd=dir_fd)
            except OSError:
                pass
            if isinstance(exc, SaveError):
                raise
            if isinstance(exc, OSError):
                raise SaveError(f"could not save {final}: {exc.strerror or exc}; the partial file was removed") from None
            raise
        return Path(directory) / final
    finally:
        os.close(dir_fd)
