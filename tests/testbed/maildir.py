"""Writing messages straight into a Dovecot Maildir: the fast way to fill a mailbox.

Each file goes to tmp/ and is renamed into cur/ with its flags in the name, its mtime set to the
message date (Dovecot's INTERNALDATE) and its owner set to the mail uid. `doveadm index`
afterwards assigns UIDs (in file-name order, which starts with the date) and builds the index.
"""
from __future__ import annotations

import email.utils
import itertools
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .dovecot import MAIL_GID, MAIL_UID
from .mailgen import GeneratedMessage

NEWLINE = b"\n"
_sequence = itertools.count(1)  # unique file names within this process
_DATE = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.MULTILINE | re.IGNORECASE)


@dataclass
class FillSummary:
    """What a fill put into the mailbox, for assertions."""
    count: int = 0
    unseen: int = 0
    flagged: int = 0
    answered: int = 0
    with_attachment: int = 0
    replies: int = 0
    bytes: int = 0


def ensure_maildir(folder: Path) -> None:
    for sub in ("", "cur", "new", "tmp"):
        path = folder / sub
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chown(path, MAIL_UID, MAIL_GID)


def header_date(data: bytes, default: float) -> float:
    """Epoch seconds of the Date header in the message's header block, else default."""
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
    match = _DATE.search(head)
    if match:
        try:
            return email.utils.parsedate_to_datetime(
                match.group(1).decode("ascii", "replace").strip()).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return default


class MaildirWriter:
    def __init__(self, folder: Path):
        ensure_maildir(folder)
        self.tmp, self.cur = folder / "tmp", folder / "cur"
        self._tag = f"P{os.getpid()}R{secrets.token_hex(4)}"

    def write(self, data: bytes, date: float, flags: str = "", lf_only: bool = False) -> Path:
        seq = next(_sequence)
        # Dovecot sorts new files by the seconds, then the M microseconds, before giving UIDs.
        base = f"{int(date)}.M{seq % 1_000_000}{self._tag}Q{seq}.tuimail-testbed,S={len(data)}"
        if lf_only:  # W= is the size with CRLF line ends; only exact when every end is LF
            base += f",W={len(data) + data.count(NEWLINE)}"
        tmp_path = self.tmp / base
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, MAIL_UID, MAIL_GID)
            os.utime(fd, (date, date))
        finally:
            os.close(fd)
        final = self.cur / f"{base}:2,{''.join(sorted(set(flags)))}"
        os.rename(tmp_path, final)
        return final

    def write_generated(self, messages: Iterable[GeneratedMessage]) -> FillSummary:
        # Sequential on purpose: a writer thread made it slower, since each short system call
        # then waits for the generating thread to give up the GIL.
        summary = FillSummary()
        for message in messages:
            self.write(message.data, message.date, message.flags, lf_only=True)
            self._count(summary, message)
        return summary

    @staticmethod
    def _count(summary: FillSummary, message: GeneratedMessage) -> None:
        summary.count += 1
        summary.unseen += "S" not in message.flags
        summary.flagged += "F" in message.flags
        summary.answered += "R" in message.flags
        summary.with_attachment += message.has_attachment
        summary.replies += message.is_reply
        summary.bytes += len(message.data)

    def write_raw(self, messages: Iterable[bytes], flags: str = "") -> int:
        count = 0
        now = time.time()
        for data in messages:
            self.write(data, header_date(data, now), flags)
            count += 1
        return count
