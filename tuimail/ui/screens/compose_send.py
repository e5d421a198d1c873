"""Sending from the compose screen, on a worker thread: build, queue (durable), deliver; and
saving to the IMAP Drafts folder. Each step is a message posted back to the screen.

Nothing here touches a widget: Sender's methods run on the worker's thread and only post.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from tuimail.model.config import Account
from tuimail.model.draft import ComposeError, Draft
from tuimail.model.secret import Secret
from tuimail.model.text import one_line
from tuimail.protocols.errors import MailError
from tuimail.protocols.smtp import RecipientResult
from tuimail.protocols.trace import connection_trace
from tuimail.store.credentials import CredentialError, lookup_password
from tuimail.store.drafts import ImapCopy
from tuimail.store.outbox import Outbox, OutboxEntry, OutboxError, OutboxState, deliver

DRAFT_FLAGS = ("\\Draft", "\\Seen")
DELIVERED = (OutboxState.SENT, OutboxState.FILING_FAILED)


@dataclass
class SendRefused(Message):
    """Nothing was queued: the draft cannot become a message, or the outbox cannot be written."""
    reason: str


@dataclass
class SendQueued(Message):
    """The message is in the outbox, fsynced: from here on it cannot be lost."""
    entry_id: str
    text: str


@dataclass
class SendProgress(Message):
    """A stage of the delivery: text says it; done of total are bytes of DATA (total 0: not
    measured, as while connecting or filing the Sent copy)."""
    text: str
    stage: str = ""
    done: int = 0
    total: int = 0


STAGES = {"logging in": "logging in", "sending": "sending", "waiting": "waiting for the server's answer",
          "delivered": "delivered", "filing": "filing the copy in Sent"}


def stage_text(stage: str, account: Account) -> str:
    if stage == "connecting" and account.smtp is not None:
        return f"connecting to {account.smtp.host}:{account.smtp.port}"
    return STAGES.get(stage, stage)


@dataclass
class SendFinished(Message):
    """Delivered (sent, or sent with the Sent copy not filed)."""
    entry: OutboxEntry

    @property
    def entry_id(self) -> str:
        return self.entry.id

    @property
    def state(self) -> str:
        return self.entry.state.value


@dataclass
class SendFailed(Message):
    """Not delivered, or not known to be: the message stays in the outbox."""
    entry_id: str
    reason: str
    entry: OutboxEntry | None = None

    @property
    def state(self) -> str:
        return self.entry.state.value if self.entry is not None else OutboxState.QUEUED.value


@dataclass
class DraftFiled(Message):
    folder: str = ""  # as shown
    uid: int | None = None
    error: str = ""
    folder_name: str = ""  # as the server names it
    account: str = ""


def _recipient_line(result: RecipientResult) -> str:
    mark = "accepted" if result.accepted else "REFUSED"
    return f"  {result.address}: {mark} ({result.code} {one_line(result.message, 200)})"


def recipient_lines(entry: OutboxEntry) -> list[str]:
    if entry.results:
        return [_recipient_line(r) for r in entry.results]
    return [f"  {address}" for address in entry.recipients]


def success_text(message: SendFinished) -> tuple[str, str]:
    """The notification for a delivered message and its severity."""
    entry = message.entry
    refused = entry.refused
    lines = [f"Outbox {entry.id}: delivered to {len(entry.results) - len(refused)} of "
             f"{len(entry.results) or len(entry.recipients)} recipients"]
    lines += recipient_lines(entry)
    if entry.state is OutboxState.FILING_FAILED:
        lines.append(f"Not filed in Sent: {entry.filing}. It was delivered and will not be sent again; "
                     f"`tuimail outbox retry {entry.id}` files it.")
        return "\n".join(lines), "warning"
    if entry.filing:
        lines.append(entry.filing)
    return "\n".join(lines), "warning" if refused else "information"


def failure_lines(message: SendFailed) -> tuple[str, list[str], str | None]:
    """(title, lines, retry button label or None) for a send that did not go through."""
    entry, entry_id = message.entry, message.entry_id
    unknown = entry is not None and entry.state is OutboxState.UNKNOWN
    title = "Maybe not sent" if unknown else "Not sent"
    lines = [f"Reason: {one_line(message.reason, 600)}"]
    if entry is not None and entry.results:
        lines += ["Recipients:"] + recipient_lines(entry)
    if unknown:
        lines += [f"The connection was lost after the message was handed over: it may have been delivered. "
                  f"It is kept in the outbox as {entry_id} (state unknown) and is not sent again by itself.",
                  f"To send it anyway: `tuimail outbox retry {entry_id} --force`, or the button below."]
        return title, lines, "Send again (may duplicate)"
    lines += [f"The message is safe in the outbox as {entry_id} (state {message.state}).",
              f"Retry now with the button below, or later: `tuimail outbox retry {entry_id}`."]
    return title, lines, "Retry now"


@dataclass
class Sender:
    """The blocking side of sending; every dependency can be replaced (tests, other frontends)."""
    open_outbox: Callable[[], Outbox] = Outbox.open_default
    deliver: Callable[..., OutboxEntry] = deliver
    lookup: Callable[[Account], Secret | None] = lookup_password
    connect_imap: Callable | None = None
    timeout: float | None = None
    _outbox: Outbox | None = field(default=None, repr=False)

    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = self.open_outbox()
        return self._outbox

    def send(self, owner: MessagePump, draft: Draft, account: Account, password: Secret | None) -> bool:
        """Build, queue and deliver; whether it was delivered."""
        from tuimail.model.compose import build_message, envelope

        post = owner.post_message
        try:
            message = build_message(draft, account)
            envelope_from, recipients = envelope(draft)
        except ComposeError as exc:
            post(SendRefused(str(exc)))
            return False
        except OSError as exc:
            post(SendRefused(f"cannot read an attachment: {exc.strerror or exc}"))
            return False
        try:
            entry = self.outbox().enqueue(account.name, message, envelope_from, recipients)
        except (OutboxError, ValueError) as exc:
            post(SendRefused(str(exc)))
            return False
        server = account.smtp
        assert server is not None  # checked by the screen
        post(SendQueued(entry.id, f"sending through {server.host}:{server.port} ({server.security.value})…"))
        return self._deliver(post, entry.id, account, password, force=False)

    def retry(self, owner: MessagePump, entry_id: str, account: Account, password: Secret | None) -> bool:
        try:
            entry = self.outbox().get(entry_id)
        except OutboxError as exc:
            owner.post_message(SendFailed(entry_id, str(exc)))
            return False
        return self._deliver(owner.post_message, entry_id, account, password,
                             force=entry.state is OutboxState.UNKNOWN)

    def _deliver(self, post: Callable[[Message], object], entry_id: str, account: Account,
                 password: Secret | None, force: bool) -> bool:
        if password is None:
            try:
                password = self.lookup(account)
            except CredentialError as exc:
                post(SendFailed(entry_id, f"no password: {exc}", self._entry(entry_id)))
                return False
        if password is None:
            post(SendFailed(entry_id, f"no password for account '{account.name}': set a password_command "
                                      "or store one in the keyring", self._entry(entry_id)))
            return False
        from tuimail.ui.widgets.progress import Ticker

        def report(stage: str, done: int, total: int | None) -> None:  # on the sending thread
            post(SendProgress(stage_text(stage, account), stage, done, total or 0))

        try:
            entry = self.deliver(self.outbox(), entry_id, account, password, force=force, timeout=self.timeout,
                                 trace=connection_trace("smtp", account.name, "send"), progress=Ticker(report))
        except OutboxError as exc:
            entry = getattr(exc, "entry", None) or self._entry(entry_id)
            if entry is not None and entry.state in DELIVERED:
                post(SendFinished(entry))
                return True
            post(SendFailed(entry_id, str(exc), entry))
            return False
        except Exception as exc:  # a bug or a case not foreseen: the entry says what is known
            post(SendFailed(entry_id, f"unexpected {type(exc).__name__}: {exc}", self._entry(entry_id)))
            return False
        if entry.state in DELIVERED:
            post(SendFinished(entry))
            return True
        post(SendFailed(entry_id, entry.reply or entry.state.value, entry))
        return False

    def _entry(self, entry_id: str) -> OutboxEntry | None:
        try:
            return self.outbox().get(entry_id)
        except OutboxError:
            return None

    # The IMAP Drafts folder -------------------------------------------------------------

    def file_draft(self, owner: MessagePump, draft: Draft, account: Account, password: Secret | None,
                   previous: ImapCopy | None) -> None:
        """APPEND the draft to the folder marked \\Drafts (with \\Draft), then remove the copy
        this screen filed before, if the server said its UID."""
        from tuimail.model.compose import build_message, message_bytes

        post = owner.post_message
        try:
            raw = message_bytes(build_message(draft, account))
        except ComposeError as exc:
            post(DraftFiled(error=str(exc)))
            return
        except OSError as exc:
            post(DraftFiled(error=f"cannot read an attachment: {exc.strerror or exc}"))
            return
        try:
            if password is None:
                password = self.lookup(account)
            if password is None:
                post(DraftFiled(error=f"no password for account '{account.name}'"))
                return
            with self._connect(account, password) as session:
                folder = session.folder_by_role("drafts")
                if folder is None:
                    post(DraftFiled(error="the server has no folder marked \\Drafts"))
                    return
                uid = session.append(folder.name, raw, flags=DRAFT_FLAGS)
                if previous is not None and previous.folder == folder.name:
                    try:
                        session.select(folder.name)
                        session.expunge([previous.uid])
                    except MailError:
                        pass  # the old copy stays: one draft too many, nothing lost
            post(DraftFiled(folder.display, uid, folder_name=folder.name, account=account.name))
        except (MailError, CredentialError, ValueError) as exc:
            post(DraftFiled(error=str(exc)))

    def remove_draft(self, account: Account, password: Secret | None, copy: ImapCopy) -> None:
        """After the message went out: its copy in the Drafts folder is not a draft any more.
        Best effort: a copy left there is one draft too many, nothing is lost."""
        try:
            password = password if password is not None else self.lookup(account)
            if password is None:
                return
            with self._connect(account, password) as session:
                session.select(copy.folder)
                session.expunge([copy.uid])
        except (MailError, CredentialError, ValueError):
            pass

    def _connect(self, account: Account, password: Secret):
        if self.connect_imap is not None:
            return self.connect_imap(account, password)
        from tuimail.protocols.imap import ImapSession

        return ImapSession.connect(account, password, timeout=self.timeout,
                                   trace=connection_trace("imap", account.name, "drafts"))
