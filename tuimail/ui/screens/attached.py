"""An attached message (a message/rfc822 part: a forward as attachment) opened in place, with
its own headers, text and attachments, and the reader's header views (h, U, H, T) fed from its
bytes rather than the outer message's.

The bytes are fetched once through the outer reader (BODY.PEEK[part] over IMAP: the carried
message as it was sent; from the local copy for POP3) and kept in its source cache; parsing
runs on a thread. Flags, delete, move, reply and forward belong to the outer message, so they
are not offered here; a nested attached message opens another level, up to mime_depth.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from tuimail.model.decode import decode_transfer
from tuimail.model.limits import DEFAULT_LIMITS, Limits, over
from tuimail.model.mime import MimePart, display_part, human_size
from tuimail.model.summary import SEEN, MessageSummary
from tuimail.model.text import one_line
from tuimail.protocols.errors import ProtocolError
from tuimail.store.message_view import MessageView
from tuimail.ui.render import line
from tuimail.ui.screens.message import HEADER_NAME, RFC822, MessageScreen
from tuimail.ui.widgets.source_fetch import (SourceFetched, attached_section, deliver, describe, encapsulated,
                                             from_raw)

if TYPE_CHECKING:
    from tuimail.ui.screens.message import ReaderController


def limits_of(reader: MessageScreen) -> Limits:
    account = getattr(reader.controller, "account", None)
    return getattr(account, "limits", None) or DEFAULT_LIMITS


def attached_view(raw: bytes, uid: int, limits: Limits) -> MessageView:
    """What the reader shows of a carried message's bytes (slow on a hostile one: a thread's job)."""
    from tuimail.model.message import parse_message  # looked up per call, as the MIME tree does
    from tuimail.model.pop3 import parse_date

    parsed = parse_message(raw, limits)
    summary = MessageSummary(
        uid=uid, subject=parsed.header("Subject"), sender=parsed.addresses("From"), to=parsed.addresses("To"),
        cc=parsed.addresses("Cc"), reply_to=parsed.addresses("Reply-To"), date=parse_date(parsed.header("Date")),
        message_id=one_line(parsed.header("Message-ID"), 998), flags=frozenset({SEEN}), size=len(raw),
        structure=parsed.root)
    return MessageView(summary, parsed.body, parsed.body_kind, display_part(parsed.root), tuple(parsed.attachments),
                       parsed.problems)


def open_attached(reader: MessageScreen, part: MimePart) -> None:
    """Fetch the message that part carries (once per reader), parse it off the loop, show it."""
    limits = limits_of(reader)
    depth = reader.attached_depth + 1
    if depth > limits.mime_depth:
        reader.status.show(f"attached messages nest deeper than {limits.mime_depth} levels here "
                           "(limits.mime_depth): not opened", "error")
        return
    if part.size > limits.message_bytes:
        reader.status.show(over(f"the message attached as part {part.part_id}", "message_bytes",
                                limits.message_bytes) + ": s saves it", "error")
        return
    reader.status.show(f"fetching the message attached as part {part.part_id} ({human_size(part.size)})…", "busy")
    reader.request_source(attached_section(part.part_id), _Opener(reader, part, depth, limits))


class _Opener:
    """Waits (as a source target of the outer reader) for the carried bytes, then parses them."""

    def __init__(self, reader: MessageScreen, part: MimePart, depth: int, limits: Limits) -> None:
        self.reader, self.part, self.depth, self.limits = reader, part, depth, limits

    @property
    def is_attached(self) -> bool:
        return self.reader.is_attached

    def source_arrived(self, fetched: SourceFetched) -> None:
        if fetched.data is None:
            self.reader.status.show(f"cannot fetch {describe(fetched.section)}: {fetched.error}", "error")
            return
        self.reader.status.show(f"reading the attached message ({human_size(len(fetched.data))})…", "busy")
        self.reader.run_worker(partial(self._parse, fetched.data), thread=True, group="attached-open",
                               exclusive=True, exit_on_error=False)

    def _parse(self, data: bytes) -> None:
        data = decode_transfer(data, self.part.encoding)[0]  # none, unless the sender broke RFC 2046
        view = attached_view(data, self.reader.summary.uid, self.limits)
        self.reader.app.call_from_thread(self._show, view, data)

    def _show(self, view: MessageView, data: bytes) -> None:
        reader = self.reader
        if not reader.is_attached:
            return
        if reader.app.screen is not reader:  # the user went elsewhere meanwhile; the bytes stay cached
            reader.status.show(f"the message attached as part {self.part.part_id} is read: v opens it", "info")
            return
        reader.status.show(f"opened the message attached as part {self.part.part_id}", "ok")
        outer = getattr(reader.controller, "outer", reader.controller)
        trail = getattr(reader, "trail", "") or f"message {reader.summary.uid} ({one_line(reader.summary.subject, 50)})"
        reader.app.push_screen(AttachedMessageScreen(view, MemorySource(data, outer), self.part, self.depth,
                                                     f"{trail} › part {self.part.part_id}"))


class MemorySource:
    """The attached reader's controller for its header views: every section (the whole, the
    header block, a part, a nested attached message) served from the bytes in memory, on a
    thread; compose goes to the outer reader's controller."""

    def __init__(self, raw: bytes, outer: "ReaderController") -> None:
        self.raw = raw
        self.outer = outer

    @property
    def account(self):
        return getattr(self.outer, "account", None)

    def fetch_source(self, target: MessageScreen, uid: int, section: str) -> None:
        target.run_worker(partial(self._serve, target, uid, section), thread=True, group="attached-source",
                          exit_on_error=False)

    def _serve(self, target: MessageScreen, uid: int, section: str) -> None:
        try:
            data = from_raw(self.raw, section)
            error = "" if data is not None else f"the attached message has no part {section}"
        except ProtocolError as exc:
            data, error = None, str(exc)
        target.app.call_from_thread(deliver, SourceFetched(target, uid, section, data, error))

    def compose_message(self, screen: MessageScreen) -> None:
        self.outer.compose_message(screen)

    def part_content(self, part: MimePart, limits: Limits) -> bytes | None:
        """What saving part writes: an attached message as it stands, else the decoded payload."""
        if part.content_type == RFC822:
            data = encapsulated(self.raw, part.part_id)
            return None if data is None else decode_transfer(data, part.encoding)[0]
        from tuimail.model.message import part_bytes

        return part_bytes(self.raw, part.part_id, limits)


class AttachedMessageScreen(MessageScreen):
    # the outer message's own actions: they would act on it, not on this one
    OUTER_ONLY = frozenset({"toggle_seen", "toggle_flagged", "delete", "move", "copy", "reply", "reply_all",
                            "forward", "cancel_save"})

    def __init__(self, view: MessageView, source: MemorySource, carrier: MimePart, depth: int, trail: str) -> None:
        super().__init__(view, source, folder="")
        self.source = source
        self.carrier = carrier  # the message/rfc822 part of the message one level up
        self.attached_depth = depth
        self.trail = trail  # where it sits: "message 17 (Fwd: …) › part 2"

    @property
    def raw(self) -> bytes:
        return self.source.raw

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.OUTER_ONLY:
            return False
        return super().check_action(action, parameters)

    def _flags_line(self):
        return line(("Attached ", HEADER_NAME), self.trail)

    def on_mount(self) -> None:
        # MessageScreen's on_mount runs after this one; its status line would name a fetched part
        if not self.view.problems:
            self.call_later(self.status.show, f"attached message ({human_size(len(self.raw))}, read once): "
                                              "h headers · U source · H route · T MIME tree · escape back")

    # Saving and opening its attachments, from the bytes in memory ------------------------

    def action_save(self) -> None:
        part = self.highlighted_attachment()
        if part is None:
            self.status.show("this message has no attachments", "info")
            return
        from tuimail.ui.screens.save import SaveDialog
        from tuimail.ui.widgets.folder_actions import default_download_dir

        def chosen(directory: Path | None) -> None:
            if directory is not None:
                self.status.show(f"saving part {part.part_id} ({human_size(part.size)})…", "busy")
                self._save(part, directory, False)

        self.app.push_screen(SaveDialog(part, default_download_dir()), chosen)

    def action_open_attachment(self) -> None:
        part = self.highlighted_attachment()
        if part is None:
            self.status.show("this message has no attachments", "info")
            return
        private = getattr(self.source.outer, "open_dir", None)
        if private is None:
            self.status.show("no directory to open attachments from", "error")
            return
        self.status.show(f"opening part {part.part_id} ({human_size(part.size)})…", "busy")
        self._save(part, None, True)

    @work(thread=True, group="attached-save", exit_on_error=False)
    def _save(self, part: MimePart, directory: Path | None, then_open: bool) -> None:
        from tuimail.store.attachments import SaveError, save_attachment
        from tuimail.store.opener import OpenError, launch, opener_argv

        name = part.filename or f"part-{part.part_id}" + (".eml" if part.content_type == RFC822 else "")
        verb = "open" if then_open else "save"
        try:
            data = self.source.part_content(part, limits_of(self))
            if data is None:
                raise SaveError(f"the attached message has no part {part.part_id}")
            if directory is None:
                directory = self.source.outer.open_dir.path()
            path = save_attachment(directory, name, [data])
            if then_open:
                argv = opener_argv(getattr(getattr(self.source.outer, "ui", None), "open_command", None), path)
                launch(argv, on_exit=lambda status: self._exited(argv[0], status))
                text, level = f"opened {path.name} with {argv[0]}", "ok"
            else:
                text, level = f"saved {path} ({human_size(path.stat().st_size)})", "ok"
        except (SaveError, OpenError, OSError) as exc:
            text, level = f"cannot {verb} the attachment: {exc}", "error"
        self.app.call_from_thread(self._saved, text, level, verb)

    def _saved(self, text: str, level: str, verb: str) -> None:
        self.save_finished(text, level)
        if level == "error":
            from tuimail.ui.screens.error import show_error

            show_error(self.app, f"Attachment not {'opened' if verb == 'open' else 'saved'}", text)

    def _exited(self, program: str, status: int) -> None:
        if status == 0:
            return
        try:
            self.app.call_from_thread(self.save_finished, f"{program} exited with status {status}", "error")
        except RuntimeError:  # the app has gone meanwhile
            pass
