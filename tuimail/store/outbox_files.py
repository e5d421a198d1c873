"""The outbox's file handling: atomic, fsynced writes in a private directory, and per-entry
locks that the kernel releases when the process holding them dies (even by SIGKILL)."""
from __future__ import annotations

import errno
import fcntl
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tuimail.store.durable import fsync_dir

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class OutboxError(Exception):
    """The outbox could not be read or written, or an entry cannot do what was asked. One
    line, worded for the user; the message is never lost because of it (see each raise)."""


class OutboxBusy(OutboxError):
    """Another tuimail process is sending this entry right now."""


def describe(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason += " (the outbox directory is not writable)"
    return reason


def ensure_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise OutboxError(f"cannot create the outbox {path}: {describe(exc)}") from None
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except OSError:
        pass  # read-only: reading still works, and every write says why it failed


def write_atomic(directory: Path, name: str, data: bytes) -> None:
    """Write directory/name so that a crash leaves the old file or the new one, never a part:
    a temp file (0600) written and fsynced, renamed over name, then the directory fsynced.
    OSError on failure, with the temp file removed."""
    tmp = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, _CREATE, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(tmp, directory / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)


def _open_lock(path: Path) -> int | None:
    """A descriptor on the lock file; None when it does not exist and cannot be made (then no
    process can be holding it)."""
    flags = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o600)
    except OSError:
        try:
            return os.open(path, os.O_RDONLY | flags)
        except OSError:
            return None


@contextmanager
def entry_lock(path: Path, what: str) -> Iterator[None]:
    """Hold the lock at path; OutboxBusy when another process holds it."""
    fd = _open_lock(path)
    if fd is None:
        raise OutboxError(f"cannot lock {what}: the outbox directory is not writable")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutboxBusy(f"{what} is being sent by another tuimail process right now") from None
        yield
    finally:
        os.close(fd)

