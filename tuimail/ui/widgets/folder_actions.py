"""Actions on messages for the FolderPane: flags, delete, move, copy, folder counts, and the
reader's attachment jobs (save, open with). A mixin: it uses the pane's connection, indexes
and status; every server call is a job on the connection's thread, and the index is changed
only by what the server answers (FolderSync's events), applied by FolderPane.apply_events.
The dialogs and the attachment code load when an action first needs them, not at start-up.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from tuimail.model.folder import Folder
from tuimail.model.mime import MimePart, human_size
from tuimail.model.summary import FLAGGED, SEEN, MessageSummary
from tuimail.store.folder_sync import FolderSync
from tuimail.ui.connection import JobFailed
from tuimail.ui.widgets.pane_messages import (ActionDone, FolderCounts, OpenerExited, SaveDone, SaveFailed,
                                              SaveProgress)

if TYPE_CHECKING:
    from tuimail.ui.screens.message import MessageScreen
    from tuimail.ui.widgets.folder_pane import FolderPane


def reader_on_top(app) -> "MessageScreen | None":
    """The reader when it is the top screen. Its module loads when a message is first opened,
    not at start-up: until then no reader can be on top."""
    module = sys.modules.get("tuimail.ui.screens.message")
    screen = app.screen
    return screen if module is not None and isinstance(screen, module.MessageScreen) else None


class FolderActions:
    _counts_queued = False

    # The highlighted message ------------------------------------------------------------

    def _highlighted(self: "FolderPane") -> MessageSummary | None:
        summary = self.index_widget.current()
        if summary is None:
            self._status("no message is highlighted (or it is still loading)", "info")
        return summary

    def action_toggle_seen(self: "FolderPane") -> None:
        summary = self._highlighted()
        if summary is not None:
            self._toggle(summary, SEEN)

    def action_toggle_flagged(self: "FolderPane") -> None:
        summary = self._highlighted()
        if summary is not None:
            self._toggle(summary, FLAGGED)

    def action_delete(self: "FolderPane") -> None:
        summary = self._highlighted()
        if summary is not None:
            self._delete(summary.uid)

    def action_move(self: "FolderPane") -> None:
        summary = self._highlighted()
        if summary is not None:
            self._pick_and_transfer(summary.uid, move=True)

    def action_copy(self: "FolderPane") -> None:
        summary = self._highlighted()
        if summary is not None:
            self._pick_and_transfer(summary.uid, move=False)

    # The reader's controller (ui/screens/message.py) ------------------------------------

    def toggle_seen(self: "FolderPane", screen: MessageScreen) -> None:
        self._toggle(screen.summary, SEEN)

    def toggle_flagged(self: "FolderPane", screen: MessageScreen) -> None:
        self._toggle(screen.summary, FLAGGED)

    def delete_message(self: "FolderPane", screen: MessageScreen) -> None:
        self._delete(screen.summary.uid)

    def move_message(self: "FolderPane", screen: MessageScreen) -> None:
        self._pick_and_transfer(screen.summary.uid, move=True)

    def copy_message(self: "FolderPane", screen: MessageScreen) -> None:
        self._pick_and_transfer(screen.summary.uid, move=False)

    def fetch_source(self: "FolderPane", target: object, uid: int, section: str) -> None:
        """The header views' source (ui/widgets/source_fetch.py): a job; SourceFetched comes back."""
        from tuimail.ui.widgets.source_fetch import SourceFetched, describe, imap_job

        self.connection.submit(f"fetching {describe(section)} of message {uid}", imap_job(target, uid, section),
                               failed=SourceFetched(target, uid, section, None, "the fetch failed"))

    def on_source_fetched(self: "FolderPane", message) -> None:
        from tuimail.ui.widgets.source_fetch import deliver

        message.stop()
        deliver(message)

    # Jobs -------------------------------------------------------------------------------

    def _toggle(self: "FolderPane", summary: MessageSummary, flag: str) -> None:
        uid, has = summary.uid, flag in summary.flags
        name = {SEEN: "read" if not has else "unread", FLAGGED: "flagged" if not has else "unflagged"}[flag]

        def job(sync: FolderSync) -> Message:
            sync.set_flags([uid], add=[] if has else [flag], remove=[flag] if has else [])
            return ActionDone(f"message {uid} marked {name}", sync.take_changes())

        self.connection.submit(f"marking message {uid} {name}", job)

    def _trash(self: "FolderPane") -> Folder | None:
        return next((f for f in self.folders if f.role == "trash"), None)

    def _folders_known(self: "FolderPane") -> bool:
        if not self.folders:  # the INBOX opens before the folder list is in
            self._status("the folder list is still loading; try again in a moment", "info")
        return bool(self.folders)

    def _delete(self: "FolderPane", uid: int) -> None:
        if not self._folders_known():
            return  # without it, where Trash is (and whether to ask) is unknown
        trash = self._trash()

        def job(sync: FolderSync) -> Message:
            moved_to = sync.delete([uid])
            text = f"message {uid} moved to {_display(self.folders, moved_to)}" if moved_to \
                else f"message {uid} deleted"
            return ActionDone(text, sync.take_changes(), removed=[uid], recount=(moved_to,) if moved_to else ())

        if trash is not None and trash.name != self.folder.name:
            self.connection.submit(f"deleting message {uid}", job)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.connection.submit(f"deleting message {uid}", job)

        from tuimail.ui.screens.confirm import ConfirmScreen

        where = "in Trash" if trash is not None else "with no Trash folder"
        self.app.push_screen(ConfirmScreen(f"Delete message {uid} for good? ({self.folder.display} is {where}: "
                                           "it cannot be undone)", yes="Delete", no="Keep"), confirmed)

    def _pick_and_transfer(self: "FolderPane", uid: int, move: bool) -> None:
        if not self._folders_known():
            return
        choices = [f for f in self.folders if f.selectable and f.name != self.folder.name]
        if not choices:
            self._status("no other folder to put it in", "error")
            return
        verb = "Move" if move else "Copy"

        def chosen(folder: Folder | None) -> None:
            if folder is None:
                return
            dest = folder.name

            def job(sync: FolderSync) -> Message:
                if move:
                    sync.move([uid], dest)
                    return ActionDone(f"message {uid} moved to {folder.display}", sync.take_changes(),
                                      removed=[uid], recount=(dest,))
                sync.copy([uid], dest)
                return ActionDone(f"message {uid} copied to {folder.display}", sync.take_changes(), recount=(dest,))

            self.connection.submit(f"{'moving' if move else 'copying'} message {uid} to {folder.display}", job)

        from tuimail.ui.screens.folder_picker import FolderPicker

        self.app.push_screen(FolderPicker(choices, f"{verb} message {uid} to…", self.folder_counts()), chosen)

    def folder_counts(self: "FolderPane") -> dict:
        lists = self.screen.query("FolderList")
        return dict(lists.first().counts) if lists else {}

    def on_action_done(self: "FolderPane", message: ActionDone) -> None:
        if self.apply_events(message.events, message.removed) is not None and self.view is None:
            self._title(message.text)
        screen = reader_on_top(self.app)
        if screen is not None:
            if screen.summary.uid in message.removed:
                screen.dismiss(None)
            else:
                screen.status.show(message.text, "ok")
        self._status(message.text, "ok")
        self.refresh_counts(*message.recount)

    def _reader_flags(self: "FolderPane", uid: int, flags: frozenset[str]) -> None:
        screen = reader_on_top(self.app)
        if screen is not None and screen.summary.uid == uid:
            screen.set_summary(screen.summary.with_flags(flags))

    def on_job_failed(self: "FolderPane", message: JobFailed) -> None:
        self._status(f"{message.what}: {message.reason}", "error")
        screen = reader_on_top(self.app)
        if screen is not None:
            screen.status.show(f"{message.what}: {message.reason}", "error")

    # Counts -----------------------------------------------------------------------------

    def refresh_counts(self: "FolderPane", *others: str) -> None:
        """Ask for the open folder's unseen/total counts (and others' by STATUS); requests
        for the open folder alone are merged while one is queued."""
        if not others:
            if self._counts_queued:
                return
            self._counts_queued = True

        def job(sync: FolderSync) -> Message:
            from tuimail.store.folder_views import counts

            if not others:
                self._counts_queued = False
            return FolderCounts(self.account.name, counts(sync, others))

        self.connection.submit("counting messages", job)

    # Attachments ------------------------------------------------------------------------

    def save_attachment(self: "FolderPane", screen: MessageScreen, part: MimePart) -> None:
        def chosen(directory: Path | None) -> None:
            if directory is not None:
                self._start_save(screen, part, directory)

        from tuimail.ui.screens.save import SaveDialog

        self.app.push_screen(SaveDialog(part, default_download_dir()), chosen)

    def _start_save(self: "FolderPane", screen: MessageScreen, part: MimePart, directory: Path) -> None:
        uid = screen.summary.uid
        self._cancel_save.clear()
        cancel = self._cancel_save
        screen.status.show(f"saving part {part.part_id} ({human_size(part.size)})… c cancels", "busy")
        progress = self._save_ticker(screen, part, "saving")

        def job(sync: FolderSync) -> Message:
            from tuimail.store.attachments import SaveCancelled, SaveError, save_attachment

            try:
                path = save_attachment(directory, part.filename, sync.session.iter_decoded(uid, part),
                                       on_progress=progress, cancelled=cancel.is_set)
            except SaveCancelled as exc:  # the user's own doing: no error to acknowledge
                return SaveDone(screen, str(exc), "info")
            except SaveError as exc:
                return SaveDone(screen, str(exc), "error")
            return SaveDone(screen, f"saved {path} ({human_size(path.stat().st_size)})", "ok")

        self.connection.submit(f"saving part {part.part_id}", job, failed=SaveFailed(screen))

    def _save_ticker(self: "FolderPane", screen: MessageScreen, part: MimePart, label: str):
        """on_progress for save_attachment: the decoded bytes so far, to the reader's bar, at
        most every progress.INTERVAL seconds (the decoded size is estimated from the part's)."""
        from tuimail.ui.widgets.progress import Ticker

        expected = part.size * 3 // 4 if part.encoding == "base64" else part.size  # decoded bytes
        tick = Ticker(lambda _stage, done, total: self.post_message(SaveProgress(screen, done, total, label)))
        return lambda done: tick("save", done, max(expected, done))

    def open_attachment(self: "FolderPane", screen: MessageScreen, part: MimePart) -> None:
        """Save into the session's private directory, then start the opener on it, detached."""
        uid, command, private = screen.summary.uid, self.ui.open_command, self.open_dir
        self._cancel_save.clear()
        cancel = self._cancel_save
        screen.status.show(f"fetching part {part.part_id} ({human_size(part.size)}) to open it… c cancels", "busy")
        progress = self._save_ticker(screen, part, "fetching")

        def exited(program: str, status: int) -> None:
            self.post_message(OpenerExited(screen, program, status))

        def job(sync: FolderSync) -> Message:
            from tuimail.store.attachments import SaveError, save_attachment
            from tuimail.store.opener import OpenError, launch, opener_argv

            try:
                path = save_attachment(private.path(), part.filename, sync.session.iter_decoded(uid, part),
                                       on_progress=progress, cancelled=cancel.is_set)
                argv = opener_argv(command, path)
                launch(argv, on_exit=lambda status: exited(argv[0], status))
            except (SaveError, OpenError, OSError) as exc:
                return SaveDone(screen, f"cannot open the attachment: {exc}", "error")
            return SaveDone(screen, f"opened {path.name} with {argv[0]}", "ok")

        self.connection.submit(f"opening part {part.part_id}", job, failed=SaveFailed(screen))

    def cancel_save(self: "FolderPane") -> None:
        self._cancel_save.set()

    def on_save_progress(self: "FolderPane", message: SaveProgress) -> None:
        message.screen.save_progress(message.done, message.total, message.label)

    def on_save_failed(self: "FolderPane", message: SaveFailed) -> None:
        message.screen.save_stopped()

    def on_save_done(self: "FolderPane", message: SaveDone) -> None:
        message.screen.save_finished(message.text, message.level)
        if message.level == "error":
            from tuimail.ui.screens.error import show_error

            opening = message.text.startswith("cannot open")
            show_error(self.app, "Attachment not opened" if opening else "Attachment not saved", message.text)

    def on_opener_exited(self: "FolderPane", message: OpenerExited) -> None:
        if message.status != 0:
            text = f"{message.program} exited with status {message.status}"
            self._status(text, "error")
            if message.screen.is_attached:
                message.screen.status.show(text, "error")


def _display(folders: list[Folder], name: str) -> str:
    return next((f.display for f in folders if f.name == name), name)


def default_download_dir() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.cwd()
