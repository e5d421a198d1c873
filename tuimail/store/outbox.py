"""The durable outbox: every message is on disk, fsynced, before anything goes on the wire.

$XDG_DATA_HOME/tuimail/outbox/ (0700) holds per entry ID.eml (the bytes sent, Bcc removed;
written once), ID.json (the state, replaced atomically on every change) and ID.lock (held by
the process sending it; the kernel drops it when that process dies, however it dies).

States: queued -> sending -> sent | failed (the server's reply; retry) | unknown (the
connection was lost after the final "."; resent only when the user forces it). After the
250 the message is filed in the IMAP Sent folder; when that fails the state is filing_failed,
and a retry files it without sending it again. An entry found "sending" with nobody holding
its lock was being sent by a process that died: it becomes unknown, never silently resent.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage, Message
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuimail.model.config import Account
from tuimail.model.outgoing import (addresses, check_address, decoded_header, message_id, strip_fields,
                                    with_required_fields)
from tuimail.model.secret import Secret
from tuimail.protocols.smtp import RecipientResult, SendProgress
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.outbox_files import (OutboxBusy, OutboxError, describe, ensure_dir, entry_lock,
                                        write_atomic)

if TYPE_CHECKING:
    from tuimail.store.sent_folder import SentFiler

__all__ = ["Outbox", "OutboxBusy", "OutboxEntry", "OutboxError", "OutboxState", "deliver",
           "default_outbox_dir"]

_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


class OutboxState(str, Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # not delivered; reply says why; retry sends it
    UNKNOWN = "unknown"  # maybe delivered; only a forced retry sends it again
    FILING_FAILED = "filing_failed"  # delivered; the Sent copy is missing; retry files only


@dataclass
class OutboxEntry:
    id: str
    account: str
    state: OutboxState
    envelope_from: str
    recipients: list[str]
    subject: str
    message_id: str
    created: float
    updated: float
    reply: str = ""  # the server's last answer (or why there was none)
    results: list[RecipientResult] = field(default_factory=list)  # RCPT answers, in order
    filing: str = ""  # where the Sent copy went, or why it did not
    filed: bool = False  # the Sent copy is done, or there is nowhere to file it
    attempts: int = 0
    size: int = 0

    @property
    def refused(self) -> list[RecipientResult]:
        return [r for r in self.results if not r.accepted]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "OutboxEntry":
        data = dict(data)
        data["state"] = OutboxState(data["state"])
        data["results"] = [RecipientResult(**r) for r in data.get("results", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def default_outbox_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tuimail" / "outbox"


class Outbox:
    def __init__(self, path: Path):
        self.path = Path(path)
        ensure_dir(self.path)
        self.problems: list[str] = []  # files entries() could not read (left in place)

    @classmethod
    def open_default(cls) -> "Outbox":
        return cls(default_outbox_dir())

    # Adding ------------------------------------------------------------------------------

    def enqueue(self, account: str, message: bytes | EmailMessage, envelope_from: str,
                recipients: list[str]) -> OutboxEntry:
        """Store message durably (file and directory fsynced) and return its queued entry.

        The Bcc header is removed from the bytes stored and sent; its addresses are added to
        recipients when missing (with no recipients given, To, Cc and Bcc are used). A
        Message-ID and a Date are added when missing. OutboxError when the outbox cannot be
        written: then nothing is left behind and the caller still has the message.
        """
        original = _as_bytes(message)
        check_address(envelope_from)
        wanted = list(recipients) or addresses(original)
        wanted += addresses(original, ("bcc", "resent-bcc"))
        rcpts: list[str] = []
        for address in wanted:
            if check_address(address) not in rcpts:
                rcpts.append(address)
        if not rcpts:
            raise ValueError("the message has no recipients")
        raw = with_required_fields(strip_fields(original), envelope_from.rpartition("@")[2])
        now = time.time()
        entry = OutboxEntry(id=self._new_id(), account=account, state=OutboxState.QUEUED,
                            envelope_from=envelope_from, recipients=rcpts,
                            subject=decoded_header(raw, "subject"), message_id=message_id(raw),
                            created=now, updated=now, size=len(raw))
        state = _dump(entry)
        try:
            write_atomic(self.path, f"{entry.id}.eml", raw)
            write_atomic(self.path, f"{entry.id}.json", state)
        except OSError as exc:
            for suffix in (".json", ".eml"):
                try:
                    (self.path / f"{entry.id}{suffix}").unlink(missing_ok=True)
                except OSError:
                    pass
            raise OutboxError(f"could not queue the message, so it was not sent: cannot write "
                              f"to the outbox {self.path}: {describe(exc)}") from None
        return entry

    def _new_id(self) -> str:
        while True:
            entry_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
            if not (self.path / f"{entry_id}.eml").exists():
                return entry_id

    # Reading -----------------------------------------------------------------------------

    def entries(self) -> list[OutboxEntry]:
        """Every entry, oldest first. Unreadable files are named in self.problems."""
        found, self.problems = [], []
        for path in sorted(self.path.glob("*.json")):
            if not _ID.match(path.stem):
                continue
            try:
                found.append(self.get(path.stem))
            except OutboxError as exc:
                self.problems.append(str(exc))
        return sorted(found, key=lambda e: (e.created, e.id))

    def get(self, entry_id: str) -> OutboxEntry:
        """The entry; one left "sending" (or sent but not filed) by a process that died is
        turned into unknown (filing_failed) here, under its lock."""
        entry = self._load(entry_id)
        if _interrupted(entry):
            try:
                with self.lock(entry_id):
                    entry = self._load(entry_id)
                    if _interrupted(entry):
                        _mark_interrupted(entry)
                        try:
                            self.save(entry)
                        except OutboxError:
                            pass  # read-only: shown as it is, written by the next retry
            except OutboxBusy:
                pass  # a live process is on it
            except OutboxError:
                _mark_interrupted(entry)  # no lock file can exist: nobody holds it
        return entry

    def raw(self, entry_id: str) -> bytes:
        try:
            return (self.path / f"{_checked(entry_id)}.eml").read_bytes()
        except OSError as exc:
            raise OutboxError(f"cannot read outbox message {entry_id}: {describe(exc)}") from None

    def _load(self, entry_id: str) -> OutboxEntry:
        path = self.path / f"{_checked(entry_id)}.json"
        try:
            return OutboxEntry.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:
            raise OutboxError(f"no outbox entry {entry_id}") from None
        except OSError as exc:
            raise OutboxError(f"cannot read outbox entry {entry_id}: {describe(exc)}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise OutboxError(f"outbox entry {entry_id} is damaged ({type(exc).__name__}); its "
                              f"message is still in {path.with_suffix('.eml')}") from None

    # Changing ----------------------------------------------------------------------------

    def lock(self, entry_id: str) -> AbstractContextManager[None]:
        """Hold the entry's lock (OutboxBusy when another process sends it now)."""
        return entry_lock(self.path / f"{_checked(entry_id)}.lock", f"outbox entry {entry_id}")

    def save(self, entry: OutboxEntry) -> None:
        """Replace the entry's state file atomically; OutboxError when it cannot be written."""
        entry.updated = time.time()
        try:
            write_atomic(self.path, f"{_checked(entry.id)}.json", _dump(entry))
        except OSError as exc:
            raise OutboxError(f"cannot record the state of outbox entry {entry.id}: "
                              f"{describe(exc)}") from None

    def drop(self, entry_id: str) -> None:
        """Remove the entry and its message (OutboxBusy while it is being sent)."""
        with self.lock(entry_id):
            self._load(entry_id)
            try:
                (self.path / f"{entry_id}.json").unlink()
                (self.path / f"{entry_id}.eml").unlink(missing_ok=True)
                (self.path / f"{entry_id}.lock").unlink(missing_ok=True)
            except OSError as exc:
                raise OutboxError(f"cannot drop outbox entry {entry_id}: {describe(exc)}") from None


def _checked(entry_id: str) -> str:
    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        raise OutboxError(f"not an outbox id: {entry_id!r}"[:120])
    return entry_id


def _dump(entry: OutboxEntry) -> bytes:
    return json.dumps(entry.to_json(), indent=1, ensure_ascii=False).encode("utf-8")


def _as_bytes(message: bytes | Message) -> bytes:
    if isinstance(message, (bytes, bytearray)):
        return bytes(message)
    if isinstance(message, Message):
        return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    raise TypeError("message must be bytes or an email.message.EmailMessage")


def _interrupted(entry: OutboxEntry) -> bool:
    return entry.state is OutboxState.SENDING or (entry.state is OutboxState.SENT and not entry.filed)


def _mark_interrupted(entry: OutboxEntry) -> None:
    if entry.state is OutboxState.SENDING:
        entry.state = OutboxState.UNKNOWN
        entry.reply = ("tuimail stopped while sending (killed or crashed): the message may or "
                       "may not have been delivered")
    else:
        entry.state = OutboxState.FILING_FAILED
        entry.filing = "tuimail stopped before filing the Sent copy"


def deliver(outbox: Outbox, entry_id: str, account: Account, password: Secret | None, *,
            file_to_sent: SentFiler | None = None, force: bool = False, timeout: float | None = None,
            trace: ProtocolTrace | None = None, progress: SendProgress | None = None) -> OutboxEntry:
    """Send a queued or failed entry (an unknown one only with force), then file it in Sent;
    for a filing_failed entry only file it. The entry with its new state; see outbox_deliver.

    file_to_sent(raw, message_id) -> note: None files over the account's IMAP server (not at
    all when it has none). OutboxBusy when another process is sending the entry; OutboxError
    when the entry cannot do this (sent already, unknown without force) or its state cannot be
    written before sending (then nothing was sent). progress hears the stages (see outbox_deliver).
    """
    from tuimail.store.outbox_deliver import Delivery

    return Delivery(outbox, entry_id, account, password, file_to_sent, force, timeout, trace, progress).run()
