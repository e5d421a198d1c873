"""What the POP3 pane's jobs send back from its connection thread (see ui/pop3_connection.py).
The rows, opening and flag messages are the folder pane's (pane_messages.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from tuimail.model.summary import MessageSummary
from tuimail.store.folder_sync import OpenedFolder
from tuimail.store.pop3_keep import SyncReport

if TYPE_CHECKING:
    from tuimail.store.message_view import MessageView  # email parsing loads on the first open


@dataclass
class MaildropListed(Message):
    """The full UIDL/LIST is in (background): every message number has its key."""
    count: int


@dataclass
class MessageRead(Message):
    """A message to show; reader: the headers-only reader it replaces, if any."""
    view: MessageView
    reader: object | None = None


@dataclass
class DeletedHere(Message):
    uid: int
    summary: MessageSummary | None  # its row now (flagged deleted), None when it is gone
    text: str


@dataclass
class SyncProgress(Message):
    """A sync's step: text for the status line; done of total messages stored (total None
    until the sync knows what it will download)."""
    text: str
    done: int = 0
    total: int | None = None


@dataclass
class DownloadProgress(Message):
    """Bytes of one big message downloaded whole (L in the reader): done of total."""
    screen: object  # the reader that asked
    done: int
    total: int


@dataclass
class DownloadFailed(Message):
    """The download the reader asked for failed (the connection's error says why)."""
    screen: object


@dataclass
class SyncFinished(Message):
    report: SyncReport
    opened: OpenedFolder | None  # the INBOX after the sync, None when it could not be reopened
    reopen_error: str = ""


@dataclass
class SyncFailed(Message):
    """The sync job could not run at all (no password, say); the job's failure says why."""
