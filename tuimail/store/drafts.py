"""Drafts kept on this machine: one JSON file per draft under $XDG_DATA_HOME/tuimail/drafts/.

The compose screen saves every few seconds while something changed, so a crash or a closed
terminal loses at most those seconds. Each save is atomic (a temp file in the same directory,
fsynced, renamed over the old one, the directory fsynced); files are 0600 in a 0700 directory.
A file this version cannot read is skipped and reported by list(), never deleted.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

from tuimail.model.draft import AttachmentData, Draft

FORMAT = 1
MAX_DRAFT_FILE = 64 * 1024 * 1024  # a forward-as-attachment draft carries the original
_ID_CHARS = set("0123456789abcdef")


class DraftError(Exception):
    """A draft could not be written or read; one line, naming the file."""


def default_drafts_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tuimail" / "drafts"


@dataclass(frozen=True)
class ImapCopy:
    """Where the draft was last saved on the server (to replace it, or drop it once sent)."""
    account: str
    folder: str
    uid: int


@dataclass(frozen=True)
class SavedDraft:
    id: str
    saved_at: float  # seconds since the epoch
    draft: Draft
    imap_copy: ImapCopy | None = None

    @property
    def title(self) -> str:
        return self.draft.subject or "(no subject)"


def draft_to_json(draft: Draft) -> dict:
    data: dict = {}
    for spec in fields(draft):
        value = getattr(draft, spec.name)
        if spec.name == "attachments":
            value = [str(path) for path in value]
        elif spec.name == "attachment_data":
            value = [{"filename": a.filename, "content_type": a.content_type, "data": _b64(a.data)} for a in value]
        elif isinstance(value, bytes):
            value = _b64(value)
        elif isinstance(value, tuple):
            value = list(value)
        data[spec.name] = value
    return data


def draft_from_json(data: dict) -> Draft:
    known = {spec.name for spec in fields(Draft)}
    kwargs = {}
    for name, value in data.items():
        if name not in known:
            continue  # written by a newer tuimail: the rest is still worth having
        if name == "attachments":
            value = [Path(str(path)) for path in value or []]
        elif name == "attachment_data":
            value = [AttachmentData(str(a["filename"]), str(a["content_type"]), _unb64(a["data"]))
                     for a in value or []]
        elif isinstance(value, dict) and set(value) == {"base64"}:
            value = _unb64(value)
        kwargs[name] = value
    return Draft(**kwargs)


def _b64(data: bytes) -> dict:
    return {"base64": base64.b64encode(data).decode("ascii")}


def _unb64(value: dict) -> bytes:
    return base64.b64decode(value["base64"], validate=True)


class DraftStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open_default(cls) -> "DraftStore":
        return cls(default_drafts_dir())

    @staticmethod
    def new_id() -> str:
        return f"{int(time.time()):x}{secrets.token_hex(6)}"

    def _dir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        return self.root

    def path(self, draft_id: str) -> Path:
        if not draft_id or not set(draft_id) <= _ID_CHARS or len(draft_id) > 64:
            raise DraftError(f"not a draft id: {draft_id!r}")
        return self.root / f"{draft_id}.json"

    def save(self, draft_id: str, draft: Draft, imap_copy: ImapCopy | None = None) -> SavedDraft:
        """Write draft atomically under draft_id (replacing the previous save)."""
        saved = SavedDraft(draft_id, time.time(), draft, imap_copy)
        data = {"format": FORMAT, "saved_at": saved.saved_at, "draft": draft_to_json(draft)}
        if imap_copy is not None:
            data["imap_copy"] = {"account": imap_copy.account, "folder": imap_copy.folder, "uid": imap_copy.uid}
        text = json.dumps(data, ensure_ascii=False)
        target = self.path(draft_id)
        try:
            directory = self._dir()
            fd, tmp = tempfile.mkstemp(prefix=f".{draft_id}.", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    os.fchmod(handle.fileno(), 0o600)
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise DraftError(f"cannot save the draft to {target}: {exc.strerror or exc}") from None
        return saved

    def load(self, draft_id: str) -> SavedDraft:
        path = self.path(draft_id)
        try:
            if path.stat().st_size > MAX_DRAFT_FILE:
                raise DraftError(f"{path}: larger than {MAX_DRAFT_FILE} bytes")
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise DraftError(f"{path}: not a draft this tuimail can read")
            copy = data.get("imap_copy")
            imap_copy = ImapCopy(str(copy["account"]), str(copy["folder"]), int(copy["uid"])) if copy else None
            return SavedDraft(draft_id, float(data.get("saved_at", 0)), draft_from_json(data["draft"]), imap_copy)
        except OSError as exc:
            raise DraftError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise DraftError(f"{path}: damaged ({type(exc).__name__})") from None

    def list(self) -> tuple[list[SavedDraft], list[str]]:
        """Every readable draft, newest first, and a line for each file that could not be read."""
        found: list[SavedDraft] = []
        problems: list[str] = []
        if not self.root.is_dir():
            return found, problems
        for path in self.root.glob("*.json"):
            try:
                found.append(self.load(path.stem))
            except DraftError as exc:
                problems.append(str(exc))
        found.sort(key=lambda saved: saved.saved_at, reverse=True)
        return found, problems

    def delete(self, draft_id: str) -> None:
        self.path(draft_id).unlink(missing_ok=True)
