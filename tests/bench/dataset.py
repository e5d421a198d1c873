"""The benchmark mailbox: N generated messages plus one newest message with a 10 MB attachment.

The Maildir is cached on disk under .bench/mail-N/ (with Dovecot's own index files inside it),
and each run's private Dovecot reaches it through a symlink at the user's ~/Maildir. A stamp
file records what was built; a missing or different stamp, or a message count that does not
match, means a refill (about 15 s on tmpfs, somewhat longer on disk; only the first time).
"""
from __future__ import annotations

import base64
import email.utils
import imaplib
import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.testbed import Testbed
from tests.testbed.dovecot import MAIL_GID, MAIL_UID

USER, PASSWORD = "bench", "benchpw4711"  # alphanumeric: it goes into aerc's source URL
FORMAT = 1  # bump when the content changes, to invalidate caches
SEED = 4711
BIG_SUBJECT = "Quarterly archive with 10 MB attachment (bench zq7)"
SUBJECT_NEEDLE = "(bench zq7)"  # on the first screen of every client once the index is drawn
BODY_NEEDLE = "bench-body-zq7"  # in the text part of the big message only
BIG_BYTES = 10 * 1024 * 1024


@dataclass
class Dataset:
    messages: int  # generated ones; the folder holds messages + 1
    big_uid: int
    maildir: str
    cached: bool  # True when a previous run's Maildir was reused
    setup_seconds: float
    warmup_select_seconds: float
    subject_needle: str = SUBJECT_NEEDLE
    body_needle: str = BODY_NEEDLE

    def to_json(self) -> dict:
        return asdict(self)


def big_message(date: float) -> bytes:
    """A multipart/mixed message: a short text part, then 10 MB of base64 attachment."""
    blob = base64.encodebytes(random.Random(SEED).randbytes(BIG_BYTES)).decode()
    text = (f"Hello Bench,\n\n{BODY_NEEDLE}: here is the quarterly archive you asked for.\n"
            "The attachment is large; save it only if you need it.\n\n-- \nArchive Bot\n")
    boundary = "bench-boundary-zq7"
    return (f"From: Archive Bot <archive@example.org>\n"
            f"To: Bench <bench@example.test>\n"
            f"Subject: {BIG_SUBJECT}\n"
            f"Date: {email.utils.formatdate(date)}\n"
            f"Message-ID: <bench-big-zq7@example.org>\n"
            f"MIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
            f"Content-Transfer-Encoding: 7bit\n\n{text}\n"
            f"--{boundary}\nContent-Type: application/octet-stream; name=\"archive.bin\"\n"
            f"Content-Disposition: attachment; filename=\"archive.bin\"\n"
            f"Content-Transfer-Encoding: base64\n\n{blob}--{boundary}--\n").encode()


def imap_login(bed: Testbed) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(bed.host, bed.imaps_port, ssl_context=bed.client_context(),
                             timeout=120)
    conn.login(USER, PASSWORD)
    return conn


def _folder_status(bed: Testbed) -> tuple[int, int]:
    """(MESSAGES, UIDNEXT) of INBOX."""
    conn = imap_login(bed)
    try:
        typ, data = conn.status("INBOX", "(MESSAGES UIDNEXT)")
        words = data[0].decode().replace("(", " ").replace(")", " ").split()
        return int(words[words.index("MESSAGES") + 1]), int(words[words.index("UIDNEXT") + 1])
    finally:
        conn.logout()


def _link_maildir(bed: Testbed, cache: Path) -> None:
    """Point the bench user's ~/Maildir in this Dovecot at the cached Maildir."""
    path = Path(bed.doveadm("mailbox", "path", "-u", USER, "INBOX").stdout.strip())
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)  # a fresh, empty Maildir Dovecot may have made on first access
    path.symlink_to(cache, target_is_directory=True)


def prepare(bed: Testbed, messages: int, cache_root: Path, *, refill: bool = False,
            log=print) -> Dataset:
    """Link (or build) the cached Maildir, check it, and run the discarded warm-up SELECT."""
    started = time.monotonic()
    cache_root.mkdir(parents=True, exist_ok=True)
    cache_root.chmod(0o755)  # the mail uid must traverse it
    cache = (cache_root / f"mail-{messages}").resolve()
    stamp_path = cache_root / f"mail-{messages}.json"
    wanted = {"format": FORMAT, "messages": messages, "seed": SEED}
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    cached = (not refill and cache.is_dir()
              and {k: stamp.get(k) for k in wanted} == wanted and "big_uid" in stamp)
    if cached:
        settle(cache)
        _link_maildir(bed, cache)
        bed.doveadm("index", "-u", USER, "INBOX")  # a no-op when nothing changed
        count, uidnext = _folder_status(bed)
        if count != messages + 1 or uidnext - 1 != stamp["big_uid"]:
            log(f"bench: cached Maildir has {count} messages, expected {messages + 1}: refilling")
            cached = False
    if not cached:
        stamp_path.unlink(missing_ok=True)
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(mode=0o700)
        os.chown(cache, MAIL_UID, MAIL_GID)
        _link_maildir(bed, cache)
        log(f"bench: generating {messages} messages into {cache} (cached for later runs)")
        end = time.time() - 3600
        fill_started = time.monotonic()
        bed.fill(USER, messages, seed=SEED, end=end)
        bed.deliver_files(USER, [big_message(end + 60)])
        count, uidnext = _folder_status(bed)
        if count != messages + 1:
            raise RuntimeError(f"filled INBOX has {count} messages, expected {messages + 1}")
        stamp_path.write_text(json.dumps({**wanted, "big_uid": uidnext - 1,
                                          "built": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        log(f"bench: filled in {time.monotonic() - fill_started:.1f}s")
        stamp = {"big_uid": uidnext - 1}
    warmup = warm_up(bed)
    return Dataset(messages, stamp["big_uid"], str(cache), cached,
                   time.monotonic() - started, warmup)


def warm_up(bed: Testbed) -> float:
    """One SELECT (slow right after a bulk load while Dovecot builds its cache), discarded."""
    started = time.monotonic()
    conn = imap_login(bed)
    try:
        conn.select("INBOX", readonly=True)
        conn.fetch("*", "(UID FLAGS ENVELOPE BODYSTRUCTURE)")
    finally:
        conn.logout()
    return time.monotonic() - started


def settle(maildir: Path) -> None:
    """Put cur/'s mtime back behind dovecot-uidlist's. Setting or clearing a flag renames a
    file in cur/; while cur/ is newer than the uidlist, Dovecot 2.3 re-reads the 7.5 MB uidlist
    and rescans cur/ on every SELECT (130-450 ms at 100k here) and never writes the uidlist to
    end it, since nothing changed. A client would then pay for the previous client's flags."""
    uidlist = maildir / "dovecot-uidlist"
    if uidlist.exists():
        stamp = uidlist.stat().st_mtime - 1
        os.utime(maildir / "cur", (stamp, stamp))


def restore(bed: Testbed, dataset: Dataset) -> None:
    """Undo what opening the big message did (\\Seen), so every run starts from the same state."""
    conn = imap_login(bed)
    try:
        conn.select("INBOX")
        conn.uid("STORE", str(dataset.big_uid), "-FLAGS.SILENT", r"(\Seen)")
    finally:
        conn.logout()
    settle(Path(dataset.maildir))
    warm_up(bed)  # Dovecot's one rescan after the mtime moved, paid here, not by the next client
