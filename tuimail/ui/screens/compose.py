"""Writing a message: From, To, Cc, Bcc, Subject, attachments and the body; sending it through
the durable outbox; drafts kept on this machine every few seconds and, on request, in the
account's IMAP Drafts folder.

Sending never blocks the screen: a thread worker builds the message, writes it to the outbox
(fsynced: from then on it cannot be lost), and delivers it; its steps come back as messages.
Text from the network (a quoted original, its subject) is shown by widgets that never read markup.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Select, Static, TextArea

from tuimail.model.draft import AttachmentData, Draft
from tuimail.model.config import Account, Config
from tuimail.model.mime import human_size
from tuimail.model.secret import Secret
from tuimail.model.text import one_line, strip_controls
from tuimail.store.drafts import DraftError, DraftStore, ImapCopy
from tuimail.store.editor import EditorError, EditSession, editor_argv
from tuimail.store.opener import PrivateDir
from tuimail.ui.render import inert
from tuimail.ui.screens.compose_dialogs import LEAVE_DISCARD, LEAVE_KEEP, AttachDialog, LeaveDialog, SendReport
from tuimail.ui.screens.error import REPORT_RETRY, show_error
from tuimail.ui.screens.compose_fields import AddressSuggester, AttachmentList, Identity, identities
from tuimail.ui.screens.compose_send import (DraftFiled, SendFailed, SendFinished, SendProgress, SendQueued,
                                             SendRefused, Sender, failure_lines, success_text)
from tuimail.ui.widgets.status import StatusLine

AUTOSAVE_SECONDS = 3.0
ADDRESS_FIELDS = ("to", "cc", "bcc")


@dataclass
class ComposeContext:
    """What the screen needs from the rest of the app, passed down rather than looked up."""
    config: Config
    passwords: dict[str, Secret] = field(default_factory=dict)  # known this session; shared
    drafts: DraftStore = field(default_factory=DraftStore.open_default)
    addresses: Callable[[], list[tuple[str, str]]] | None = None  # completion source, blocking
    sender: Sender = field(default_factory=Sender)


@dataclass(frozen=True)
class ComposeOutcome:
    """How the screen ended: sent (delivered to the server) or not, and the outbox entry."""
    sent: bool
    outbox_id: str | None = None
    state: str = ""
    draft: Draft | None = None


@dataclass
class DraftKept(Message):
    error: str = ""


@dataclass
class AddressesLoaded(Message):
    addresses: list[tuple[str, str]]


class ComposeScreen(Screen["ComposeOutcome | None"]):
    CSS_PATH = "../styles/compose.tcss"
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="compose.send", priority=True,
                tooltip="Queue the message in the outbox and send it now"),
        Binding("ctrl+o", "editor", "Editor", id="compose.editor", priority=True,
                tooltip="Edit the body in $VISUAL / $EDITOR"),
        Binding("ctrl+t", "attach", "Attach", id="compose.attach", priority=True,
                tooltip="Attach a file: type a path or pick one"),
        Binding("ctrl+b", "save_drafts", "To Drafts", id="compose.save_drafts", priority=True,
                tooltip="Save the message in the account's IMAP Drafts folder"),
        Binding("escape", "leave", "Leave", id="compose.leave",
                tooltip="Close; asks first when there are unsaved changes"),
        Binding("q", "leave", "Leave", id="compose.leave_q", show=False,
                tooltip="Close (outside the text fields); asks first when there are unsaved changes"),
    ]

    def __init__(self, context: ComposeContext, draft: Draft, *, draft_id: str | None = None,
                 note: str = "", imap_copy: ImapCopy | None = None) -> None:
        super().__init__()
        self.context = context
        self.identities = identities(context.config)
        self.draft = _clean(draft)
        self.draft_id = draft_id or DraftStore.new_id()
        self.resumed = draft_id is not None
        self.note = note
        self.attachments: list[Path] = list(self.draft.attachments)
        self.carried: list[AttachmentData] = list(self.draft.attachment_data)  # from a forwarded original
        self.suggester = AddressSuggester()
        self._baseline: tuple = ()
        self._autosaved: tuple = ()
        self._clean_state: tuple = ()
        self._queued: str | None = None  # the outbox id once the message is in the outbox
        self._busy = False
        self.imap_copy: ImapCopy | None = imap_copy  # our copy in the Drafts folder, if any
        self._outcome: ComposeOutcome | None = None
        # A local save in flight must not bring back a draft that was just sent or discarded.
        self._drafts_lock = threading.Lock()
        self._draft_done = False

    # Layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        d = self.draft
        choices = [(inert(i.address + f"  ({i.account})"), i.account) for i in self.identities]
        current = d.account if any(i.account == d.account for i in self.identities) else self.identities[0].account
        with Vertical(id="compose-headers"):
            with Horizontal(classes="compose-row"):
                yield Label("From", classes="compose-label")
                yield Select(choices, value=current, allow_blank=False, id="compose-from", compact=True)
            for name, value in (("to", d.to), ("cc", d.cc), ("bcc", d.bcc)):
                with Horizontal(classes="compose-row"):
                    yield Label(name.capitalize(), classes="compose-label")
                    yield Input(", ".join(value), id=f"compose-{name}", suggester=self.suggester,
                                placeholder="name@example.org, …", compact=True)
            with Horizontal(classes="compose-row"):
                yield Label("Subject", classes="compose-label")
                yield Input(d.subject, id="compose-subject", compact=True)
        yield AttachmentList(id="compose-attachments")
        if d.forward_raw is not None:
            yield Static(inert(f"The original message goes along as an attachment (message/rfc822, "
                               f"{human_size(len(d.forward_raw))}), every header as received."),
                         markup=False, id="compose-forwarded")
        yield TextArea(d.body, id="compose-body", soft_wrap=True, tab_behavior="focus")
        yield StatusLine(id="compose-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(AttachmentList).set_paths(self.attachments, self.carried)
        self._baseline = self._autosaved = self._clean_state = self._snapshot()
        body = self.query_one(TextArea)
        if self.draft.to:
            body.focus()
            body.move_cursor(body.document.end)  # below the quote
        else:
            self.query_one("#compose-to").focus()
        self.status.show(self.note or "ctrl+s sends · ctrl+o edits in $EDITOR · ctrl+t attaches · "
                                      "a draft is kept on this machine as you write")
        self.set_interval(AUTOSAVE_SECONDS, self._autosave)
        if self.context.addresses is not None:
            self._load_addresses(self.context.addresses)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#compose-status", StatusLine)

    # The draft as typed -----------------------------------------------------------------

    def identity(self) -> Identity:
        chosen = self.query_one("#compose-from", Select).value
        return next((i for i in self.identities if i.account == chosen), self.identities[0])

    def current_draft(self) -> Draft:
        identity = self.identity()
        typed = {name: self.query_one(f"#compose-{name}", Input).value.strip() for name in ADDRESS_FIELDS}
        fields = {name: [value] if value else [] for name, value in typed.items()}  # parsed by the builder
        return replace(self.draft, account=identity.account, from_addr=identity.address,
                       subject=self.query_one("#compose-subject", Input).value,
                       body=self.query_one(TextArea).text, attachments=list(self.attachments),
                       attachment_data=list(self.carried), **fields)

    def _snapshot(self) -> tuple:
        values = tuple(self.query_one(f"#compose-{name}", Input).value for name in (*ADDRESS_FIELDS, "subject"))
        return (self.query_one("#compose-from", Select).value, *values, self.query_one(TextArea).text,
                tuple(self.attachments), len(self.carried))

    @property
    def changed(self) -> bool:
        return self._snapshot() != self._clean_state

    # Autosave ---------------------------------------------------------------------------

    def _autosave(self) -> None:
        if self._queued is not None or self._busy:
            return
        snapshot = self._snapshot()
        if snapshot == self._autosaved or (snapshot == self._baseline and not self.resumed
                                           and self._autosaved == self._baseline):
            return
        self._autosaved = snapshot
        self._save_locally(self.current_draft())

    @work(thread=True, exclusive=True, group="autosave", exit_on_error=False)
    def _save_locally(self, draft: Draft, then_leave: bool = False) -> None:
        try:
            with self._drafts_lock:
                if self._draft_done:
                    return
                self.context.drafts.save(self.draft_id, draft, self.imap_copy)
        except DraftError as exc:
            self.post_message(DraftKept(str(exc)))
            return
        if then_leave:
            self.post_message(DraftKept())

    def on_draft_kept(self, message: DraftKept) -> None:
        if message.error:
            self.status.show(f"the draft could not be kept: {message.error}", "error")
            return
        self.dismiss(self._outcome)

    @work(thread=True, group="addresses", exit_on_error=False)
    def _load_addresses(self, source: Callable[[], list[tuple[str, str]]]) -> None:
        try:
            found = source()
        except Exception:  # completion is a convenience: a broken cache must not stop writing
            return
        self.post_message(AddressesLoaded(found))

    def on_addresses_loaded(self, message: AddressesLoaded) -> None:
        self.suggester.load(message.addresses)

    # Attachments and the editor ---------------------------------------------------------

    def action_attach(self) -> None:
        if self._queued is not None:
            return
        start = self.attachments[-1].parent if self.attachments else Path.home()

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path in self.attachments:
                self.status.show(f"{path.name} is attached already", "info")
                return
            self.attachments.append(path)
            self.query_one(AttachmentList).set_paths(self.attachments)
            self.status.show(f"attached {path.name} ({human_size(path.stat().st_size)})", "ok")

        self.app.push_screen(AttachDialog(start), chosen)

    def attach(self, path: Path) -> None:
        """Attach path as if picked in the dialog (the typed-path route without the dialog)."""
        if path not in self.attachments:
            self.attachments.append(path)
            self.query_one(AttachmentList).set_paths(self.attachments)

    def on_attachment_list_removed(self, message: AttachmentList.Removed) -> None:
        if self._queued is not None:
            return
        item = message.item
        if isinstance(item, Path):
            self.attachments = [p for p in self.attachments if p != item]
        else:
            self.carried = [a for a in self.carried if a is not item]
        self.query_one(AttachmentList).set_paths(self.attachments, self.carried)
        self.status.show(f"removed {item.name if isinstance(item, Path) else item.filename}", "ok")
        if not (self.attachments or self.carried):
            self.query_one(TextArea).focus()

    def action_editor(self) -> None:
        if self._queued is not None:
            return
        from textual.app import SuspendNotSupported

        body = self.query_one(TextArea)
        try:
            session = EditSession(body.text, editor_argv(), PrivateDir())
            session.prepare()
        except (EditorError, OSError) as exc:
            self.status.show(f"cannot start the editor: {exc}", "error")
            return
        try:
            with self.app.suspend():
                status = session.run()
            text = session.result(status)
        except SuspendNotSupported:
            session.cleanup()
            self.status.show("this terminal cannot hand the screen to an editor", "error")
            return
        except EditorError as exc:
            session.cleanup()
            self.status.show(str(exc), "error")
            return
        body.load_text(text)
        self.refresh()
        self.status.show(f"body taken from {session.argv[0]} ({len(text):,} characters)", "ok")

    # Sending ----------------------------------------------------------------------------

    def _account(self, draft: Draft) -> Account:
        return self.context.config.accounts[draft.account]

    def action_send(self) -> None:
        if self._busy or self._queued is not None:
            return
        draft = self.current_draft()
        if not (draft.to or draft.cc or draft.bcc):
            self.status.show("no recipient: fill in To, Cc or Bcc", "error")
            self.query_one("#compose-to").focus()
            return
        account = self._account(draft)
        if account.smtp is None:
            self.status.show(f"account {account.name} has no [accounts.{account.name}.smtp] server to send with",
                             "error")
            return
        self._busy = True
        self.status.show("building the message…", "busy")
        self._send(draft, account)

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def _send(self, draft: Draft, account: Account) -> None:
        password = self.context.passwords.get(account.name)
        if self.context.sender.send(self, draft, account, password):
            self._drop_filed_draft(account, password)

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def _retry(self, entry_id: str, account: Account) -> None:
        password = self.context.passwords.get(account.name)
        if self.context.sender.retry(self, entry_id, account, password):
            self._drop_filed_draft(account, password)

    def _drop_filed_draft(self, account: Account, password: Secret | None) -> None:
        """On the worker's thread, once delivered: the copy saved with ctrl+b goes."""
        copy = self.imap_copy
        if copy is not None and copy.account == account.name:
            self.context.sender.remove_draft(account, password, copy)

    def on_send_refused(self, message: SendRefused) -> None:
        self._busy = False
        self.status.show(f"not sent: {message.reason}", "error")
        show_error(self.app, "Not sent", message.reason)

    def on_send_queued(self, message: SendQueued) -> None:
        self._queued = message.entry_id
        self._clean_state = self._snapshot()
        self._forget_draft()  # the outbox holds it now, durably
        for widget in self.query("Input, TextArea, Select"):
            widget.disabled = True
        self.status.show(f"in the outbox as {message.entry_id}; {message.text}", "busy")

    def on_send_progress(self, message: SendProgress) -> None:
        """The bar beside the status: bytes of DATA while sending, "…" for the other stages."""
        from tuimail.ui.widgets.progress import Progress

        total = message.total or None
        self.status.set_progress("send", Progress(message.text, message.done if total else 0, total, "bytes"))

    def on_send_finished(self, message: SendFinished) -> None:
        self._busy = False
        self.status.end_progress("send")
        self._outcome = ComposeOutcome(True, message.entry_id, message.state, self.current_draft())
        text, level = success_text(message)
        self.app.notify(text, title="Sent", severity=level, markup=False, timeout=10)
        self.dismiss(self._outcome)

    def on_send_failed(self, message: SendFailed) -> None:
        self._busy = False
        self.status.end_progress("send")
        self._outcome = ComposeOutcome(False, message.entry_id, message.state, self.current_draft())
        title, lines, retry = failure_lines(message)
        self.status.show(" ".join([title] + lines[:2]), "error")

        def answered(choice: str | None) -> None:
            if choice == REPORT_RETRY and message.entry_id is not None:
                self._busy = True
                self.status.show(f"sending {message.entry_id} again…", "busy")
                self._retry(message.entry_id, self._account(self.current_draft()))
                return
            self.dismiss(self._outcome)

        self.app.push_screen(SendReport(title, lines, retry), answered)

    # The IMAP Drafts folder -------------------------------------------------------------

    def action_save_drafts(self) -> None:
        if self._busy or self._queued is not None:
            return
        draft = self.current_draft()
        account = self._account(draft)
        if account.imap is None:
            self.status.show(f"account {account.name} reads with POP3: it has no IMAP Drafts folder; "
                             "the draft is kept on this machine", "error")
            return
        self._busy = True
        self.status.show(f"saving to the Drafts folder of {account.name}…", "busy")
        previous = self.imap_copy if self.imap_copy is not None and self.imap_copy.account == account.name else None
        self._file_draft(draft, account, previous)

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def _file_draft(self, draft: Draft, account: Account, previous: ImapCopy | None) -> None:
        self.context.sender.file_draft(self, draft, account, self.context.passwords.get(account.name), previous)

    def on_draft_filed(self, message: DraftFiled) -> None:
        self._busy = False
        if message.error:
            self.status.show(f"not saved to Drafts: {message.error}", "error")
            show_error(self.app, "Not saved to Drafts", message.error)
            return
        if message.uid is not None:
            self.imap_copy = ImapCopy(message.account, message.folder_name, message.uid)
        self._clean_state = self._autosaved = self._snapshot()
        self._save_locally(self.current_draft())  # remembers where the server copy is
        self.status.show(f"saved to {message.folder}", "ok")

    # Leaving ----------------------------------------------------------------------------

    def action_leave(self) -> None:
        if self._busy:
            self.status.show("wait for the server to answer", "info")
            return
        if self._queued is not None or not self.changed:
            self.dismiss(self._outcome)
            return

        def answered(choice: str | None) -> None:
            if choice == LEAVE_KEEP:
                self._busy = True
                self._save_locally(self.current_draft(), then_leave=True)
            elif choice == LEAVE_DISCARD:
                self._forget_draft()
                self.dismiss(None)

        self.app.push_screen(LeaveDialog(), answered)

    def _forget_draft(self) -> None:
        with self._drafts_lock:
            self._draft_done = True
            try:
                self.context.drafts.delete(self.draft_id)
            except OSError as exc:
                self.status.show(f"the local draft could not be removed: {exc.strerror or exc}", "error")

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()


def _clean(draft: Draft) -> Draft:
    """Header fields with their control characters gone (CR and LF never reach a header from
    a quoted original); the body keeps its line breaks and tabs."""
    return replace(draft, subject=one_line(draft.subject, 998),
                   to=[one_line(a, 998) for a in draft.to], cc=[one_line(a, 998) for a in draft.cc],
                   bcc=[one_line(a, 998) for a in draft.bcc], body=strip_controls(draft.body))
