"""Reading one message: its headers, the attachment list (nothing downloaded), and the text.
An attached message (message/rfc822) opens in place with v or Enter (ui/screens/attached.py).

The text is shown in a TextView (Line API, lazily wrapped), which never interprets markup; every header and
file name goes through inert(). Actions the reader asks for (save, flags) go to a controller
owned by the screen that holds the IMAP connection: attributes go down, messages come up.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tuimail.model.address import Address
from tuimail.model.filenames import safe_filename
from tuimail.model.mime import MimePart, human_size
from tuimail.model.summary import MessageSummary
from tuimail.store.message_view import MessageView
from tuimail.ui.render import inert, line
from tuimail.ui.screens.header_actions import HEADER_BINDINGS, HeaderViews
from tuimail.ui.widgets.message_list import format_date
from tuimail.ui.widgets.status import StatusLine
from tuimail.ui.widgets.text_view import TextView


class ReaderController(Protocol):
    def save_attachment(self, screen: "MessageScreen", part: MimePart) -> None: ...
    def open_attachment(self, screen: "MessageScreen", part: MimePart) -> None: ...
    def toggle_seen(self, screen: "MessageScreen") -> None: ...
    def toggle_flagged(self, screen: "MessageScreen") -> None: ...
    def delete_message(self, screen: "MessageScreen") -> None: ...
    def move_message(self, screen: "MessageScreen") -> None: ...
    def copy_message(self, screen: "MessageScreen") -> None: ...
    def cancel_save(self) -> None: ...
    def compose_message(self, screen: "MessageScreen") -> None: ...
    def reply_message(self, screen: "MessageScreen", reply_all: bool) -> None: ...
    def forward_message(self, screen: "MessageScreen") -> None: ...
    def fetch_source(self, target: object, uid: int, section: str) -> None: ...


def _addresses(addresses: tuple[Address, ...]) -> str:
    return ", ".join(a.display() for a in addresses) or "—"


def attachment_label(part: MimePart) -> str:
    name = safe_filename(part.filename, fallback=f"part-{part.part_id}")
    return f"{name}  ({part.content_type}, {human_size(part.size)}, part {part.part_id})"


HEADER_NAME = "bold $mail-header-name"  # a theme variable (ui/themes.py)
RFC822 = "message/rfc822"
VIEW_ATTACHED = Binding("v", "view_attached", "View message", id="message.view_attached",
                        tooltip="Open the attached message (message/rfc822) with its own headers, route and "
                                "attachments; Enter on it in the list does too")


class MessageScreen(HeaderViews, Screen[None]):
    CSS_PATH = "../styles/message.tcss"
    BINDINGS = [
        Binding("escape,q,i", "close", "Index", id="message.close", tooltip="Back to the message list"),
        Binding("s", "save", "Save", id="message.save", tooltip="Save the highlighted attachment"),
        Binding("o", "open_attachment", "Open with", id="message.open_attachment",
                tooltip="Open the attachment with open_command/xdg-open"),
        VIEW_ATTACHED,
        Binding("N,u", "toggle_seen", "Read/unread", id="message.toggle_seen", tooltip="Toggle the \\Seen flag"),
        Binding("F", "toggle_flagged", "Flag", id="message.toggle_flagged", tooltip="Toggle the \\Flagged flag"),
        Binding("d", "delete", "Delete", id="message.delete",
                tooltip="To Trash (expunged where there is no Trash)"),
        Binding("r", "reply", "Reply", id="message.reply", tooltip="Reply to the sender"),
        Binding("R", "reply_all", "Reply all", id="message.reply_all",
                tooltip="Reply to the sender and every other recipient"),
        Binding("f", "forward", "Forward", id="message.forward", tooltip="Forward: inline or as an attachment"),
        Binding("m", "compose", "Compose", id="message.compose", show=False, tooltip="Write a new message"),
        Binding("M", "move", "Move", id="message.move", tooltip="Move the message to another folder"),
        Binding("C", "copy", "Copy", id="message.copy", show=False, tooltip="Copy the message to another folder"),
        Binding("c", "cancel_save", "Cancel save", id="message.cancel_save", show=False,
                tooltip="Stop the download in progress"),
        Binding("tab", "focus_next", "Next pane", id="message.focus_next", show=False,
                tooltip="Move between the text and the attachments"),
        *HEADER_BINDINGS,
    ]
    attached_depth = 0  # how many attached messages deep this reader is (ui/screens/attached.py)

    def __init__(self, view: MessageView, controller: ReaderController, folder: str = "") -> None:
        super().__init__()
        self.view = view
        self.controller = controller
        self.folder = folder

    @property
    def summary(self) -> MessageSummary:
        return self.view.summary

    def compose(self) -> ComposeResult:
        s = self.summary
        with Vertical(id="headers"):
            yield Static(line(("From     ", HEADER_NAME), _addresses(s.sender)), markup=False, id="h-from")
            yield Static(line(("To       ", HEADER_NAME), _addresses(s.to)), markup=False, id="h-to")
            if s.cc:
                yield Static(line(("Cc       ", HEADER_NAME), _addresses(s.cc)), markup=False, id="h-cc")
            date = format_date(s.date) if s.date else "—"
            full = s.date.strftime("%a, %d %b %Y %H:%M:%S %z") if s.date else ""
            yield Static(line(("Date     ", HEADER_NAME), f"{full}  ({date})" if full else date),
                         markup=False, id="h-date")
            yield Static(line(("Subject  ", HEADER_NAME), (s.subject or "(no subject)", "bold")),
                         markup=False, id="h-subject")
            yield Static(self._flags_line(), markup=False, id="h-flags")
        if self.view.attachments:
            options = [Option(inert(attachment_label(p)), id=str(i)) for i, p in enumerate(self.view.attachments)]
            attachments = OptionList(*options, id="attachments", markup=False)
            attachments.border_title = f"Attachments ({len(options)}) · s saves · o opens" + (
                " · Enter/v views a message" if self.attached_messages() else "")
            yield attachments
        body = self.view.text if self.view.kind != "none" else "(this message has no text part)"
        text = TextView(body, id="body")
        text.border_title = "HTML, shown as text" if self.view.kind == "html" else None
        yield text
        yield StatusLine(id="message-status")  # with a save's or a download's bar
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#body", TextView).focus()
        problems = "; ".join(self.view.problems)
        if problems:
            self.status.show(problems, "info")
        else:
            part = self.view.part
            what = f"part {part.part_id} ({part.content_type}, {human_size(part.size)})" if part else "no text"
            self.status.show(f"{self.folder}  uid {self.summary.uid}: fetched only {what}")

    @property
    def status(self) -> StatusLine:
        return self.query_one("#message-status", StatusLine)

    def _flags_line(self):
        s = self.summary
        marks = [name for name, on in (("read", s.seen), ("flagged", s.flagged), ("answered", s.answered)) if on]
        return line(("Flags    ", HEADER_NAME), ", ".join(marks) or "unread")

    def set_summary(self, summary: MessageSummary) -> None:
        """The flags changed on the server: show them."""
        self.view = replace(self.view, summary=summary)
        self.query_one("#h-flags", Static).update(self._flags_line())

    # Attached messages ------------------------------------------------------------------

    def attached_messages(self) -> list[MimePart]:
        return [part for part in self.view.attachments if part.content_type == RFC822]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "view_attached":
            return bool(self.attached_messages())
        return True

    def action_view_attached(self) -> None:
        """The highlighted attachment when it is a message, else the only attached message."""
        part = self.highlighted_attachment()
        messages = self.attached_messages()
        if part is None or part.content_type != RFC822:
            if len(messages) != 1:
                self.status.show("highlight an attached message (message/rfc822) in the list first"
                                 if messages else "this message has no attached message", "info")
                return
            part = messages[0]
        from tuimail.ui.screens.attached import open_attached  # loads with the first attached message

        open_attached(self, part)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id != "attachments":
            return
        event.stop()
        part = self.view.attachments[event.option_index]
        if part.content_type != RFC822:
            self.status.show(f"part {part.part_id} is {part.content_type}: s saves it, o opens it with another "
                             "program (Enter opens attached messages)", "info")
            return
        from tuimail.ui.screens.attached import open_attached

        open_attached(self, part)

    # Saving -----------------------------------------------------------------------------

    def highlighted_attachment(self) -> MimePart | None:
        if not self.view.attachments:
            return None
        index = self.query_one("#attachments", OptionList).highlighted
        return self.view.attachments[index if index is not None else 0]

    def save_progress(self, done: int, total: int, label: str = "saving") -> None:
        """Bytes of an attachment being saved (or a message downloaded) so far, of total (an
        estimate for an encoded part: never shown below what is done). The reader may have
        been closed meanwhile: then there is nothing to show it on."""
        from tuimail.ui.widgets.progress import Progress

        if self.is_attached:
            self.status.set_progress("save", Progress(label, done, max(total, done, 1), "bytes"))

    def save_stopped(self) -> None:
        if self.is_attached:
            self.status.end_progress("save")

    def save_finished(self, text: str, level: str) -> None:
        if self.is_attached:
            self.status.end_progress("save")
            self.status.show(text, level)

    def action_save(self) -> None:
        part = self.highlighted_attachment()
        if part is None:
            self.status.show("this message has no attachments", "info")
            return
        self.controller.save_attachment(self, part)

    def action_open_attachment(self) -> None:
        part = self.highlighted_attachment()
        if part is None:
            self.status.show("this message has no attachments", "info")
            return
        self.controller.open_attachment(self, part)

    def action_delete(self) -> None:
        self.controller.delete_message(self)

    def action_move(self) -> None:
        self.controller.move_message(self)

    def action_copy(self) -> None:
        self.controller.copy_message(self)

    def action_cancel_save(self) -> None:
        self.controller.cancel_save()

    def action_toggle_seen(self) -> None:
        self.controller.toggle_seen(self)

    def action_toggle_flagged(self) -> None:
        self.controller.toggle_flagged(self)

    def action_compose(self) -> None:
        self.controller.compose_message(self)

    def action_reply(self) -> None:
        self.controller.reply_message(self, reply_all=False)

    def action_reply_all(self) -> None:
        self.controller.reply_message(self, reply_all=True)

    def action_forward(self) -> None:
        self.controller.forward_message(self)

    def action_close(self) -> None:
        self.dismiss(None)
