"""Actions of the Pop3Pane: flags (kept locally), delete, sync with its report, the keep-policy
settings, and the reader's controller (attachments come from the local copy). A mixin: every
store or server call is a job on the pane's Pop3Connection thread, and the index changes only
by what the jobs answer.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from tuimail.model.config import Account
from tuimail.model.mime import MimePart, human_size
from tuimail.model.summary import FLAGGED, SEEN, MessageSummary
from tuimail.model.text import one_line
from tuimail.protocols.errors import MailError
from tuimail.store.pop3_sync import Pop3Sync
from tuimail.ui.widgets.folder_actions import default_download_dir, reader_on_top
from tuimail.ui.widgets.pane_messages import ActionDone, OpenerExited, SaveDone
from tuimail.ui.widgets.pop3_messages import (DeletedHere, DownloadFailed, DownloadProgress, MessageRead,
                                              SyncFailed, SyncFinished, SyncProgress)

SYNC_PROGRESS = "pop3-sync"  # the status line's key for a sync's bar

if TYPE_CHECKING:
    from tuimail.ui.screens.message import MessageScreen  # loads with the first message opened
    from tuimail.ui.widgets.pop3_pane import Pop3Pane


class Pop3Actions:
    def _highlighted(self: "Pop3Pane") -> MessageSummary | None:
        summary = self.index_widget.current()
        if summary is None:
            self._status("no message is highlighted (or it is still loading)", "info")
        return summary

    def action_toggle_seen(self: "Pop3Pane") -> None:
        if (summary := self._highlighted()) is not None:
            self._toggle(summary, SEEN)

    def action_toggle_flagged(self: "Pop3Pane") -> None:
        if (summary := self._highlighted()) is not None:
            self._toggle(summary, FLAGGED)

    def action_delete(self: "Pop3Pane") -> None:
        if (summary := self._highlighted()) is not None:
            self._delete(summary)

    def action_sync(self: "Pop3Pane") -> None:
        self.start_sync(dry_run=False)

    def action_sync_dry_run(self: "Pop3Pane") -> None:
        self.start_sync(dry_run=True)

    # The reader's controller (ui/screens/message.py) ------------------------------------

    def toggle_seen(self: "Pop3Pane", screen: MessageScreen) -> None:
        self._toggle(screen.summary, SEEN)

    def toggle_flagged(self: "Pop3Pane", screen: MessageScreen) -> None:
        self._toggle(screen.summary, FLAGGED)

    def delete_message(self: "Pop3Pane", screen: MessageScreen) -> None:
        self._delete(screen.summary)

    def move_message(self: "Pop3Pane", screen: MessageScreen) -> None:
        screen.status.show("POP3 has only the INBOX: there is no folder to move to", "info")

    def copy_message(self: "Pop3Pane", screen: MessageScreen) -> None:
        screen.status.show("POP3 has only the INBOX: there is no folder to copy to", "info")

    def download_whole(self: "Pop3Pane", screen: MessageScreen) -> None:
        """The message is above the size cap: the user asks for it anyway. Its bytes come in
        as a bar on the reader's status line."""
        from tuimail.ui.widgets.progress import Ticker  # (progress loads when some work first reports)

        uid, connection = screen.summary.uid, self.connection
        screen.status.show(f"downloading message {uid} ({human_size(screen.summary.size)})…", "busy")
        self._status(f"opening message {uid}…", "busy")
        tick = Ticker(lambda _stage, done, total: connection.post(DownloadProgress(screen, done, total or 0)))

        def job(sync: Pop3Sync) -> Message:
            sync.on_bytes = lambda done, total: tick("RETR", done, total)
            try:
                return MessageRead(sync.read(uid, mark_seen=True, force=True), screen)
            finally:
                sync.on_bytes = None

        connection.submit(f"downloading message {uid}", job, failed=DownloadFailed(screen))

    def on_download_progress(self: "Pop3Pane", message: DownloadProgress) -> None:
        message.stop()
        message.screen.save_progress(message.done, message.total, "downloading")

    def on_download_failed(self: "Pop3Pane", message: DownloadFailed) -> None:
        message.stop()
        message.screen.save_stopped()

    def save_attachment(self: "Pop3Pane", screen: MessageScreen, part: MimePart) -> None:
        def chosen(directory: Path | None) -> None:
            if directory is not None:
                self._save_part(screen, part, directory, then_open=False)

        from tuimail.ui.screens.save import SaveDialog

        self.app.push_screen(SaveDialog(part, default_download_dir()), chosen)

    def open_attachment(self: "Pop3Pane", screen: MessageScreen, part: MimePart) -> None:
        self._save_part(screen, part, self.open_dir.path(), then_open=True)

    def cancel_save(self: "Pop3Pane") -> None:
        self._cancel_save.set()

    def fetch_source(self: "Pop3Pane", target: object, uid: int, section: str) -> None:
        """The header views' source, from the local copy (ui/widgets/source_fetch.py)."""
        from tuimail.ui.widgets.source_fetch import SourceFetched, describe, pop3_job

        self.connection.submit(f"reading {describe(section)} of message {uid}", pop3_job(target, uid, section),
                               failed=SourceFetched(target, uid, section, None, "reading the local copy failed"))

    def on_source_fetched(self: "Pop3Pane", message) -> None:
        from tuimail.ui.widgets.source_fetch import deliver

        message.stop()
        deliver(message)

    # Jobs -------------------------------------------------------------------------------

    def _toggle(self: "Pop3Pane", summary: MessageSummary, flag: str) -> None:
        uid, has = summary.uid, flag in summary.flags
        name = {SEEN: "read" if not has else "unread", FLAGGED: "flagged" if not has else "unflagged"}[flag]

        def job(sync: Pop3Sync) -> Message:
            sync.set_flags([uid], add=[] if has else [flag], remove=[flag] if has else [])
            return ActionDone(f"message {uid} marked {name}", sync.take_changes())

        self.connection.submit(f"marking message {uid} {name}", job)

    def on_action_done(self: "Pop3Pane", message: ActionDone) -> None:
        message.stop()
        for change in message.events.flags.values():
            row = self.index.row_of_uid(change.uid)
            if row is not None:
                self.apply_summary(self.index.row(row).with_flags(change.flags))
            screen = reader_on_top(self.app)
            if screen is not None and screen.summary.uid == change.uid:
                screen.set_summary(screen.summary.with_flags(change.flags))
                screen.status.show(message.text, "ok")
        self._status(message.text, "ok")

    def _delete(self: "Pop3Pane", summary: MessageSummary) -> None:
        uid = summary.uid
        if self.account.delete_on_server_when_deleted_locally:
            question = (f"Delete message {uid}? The next sync (S) deletes it on the server too; "
                        "the local copy stays until the server has.")
        else:
            question = (f"Delete the local copy of message {uid}? It stays on the server and is not "
                        "downloaded again (to delete on the server as well, turn that on with p).")

        def job(sync: Pop3Sync) -> Message:
            sync.delete([uid])
            later = " (on the server at the next sync)" if sync.account.delete_on_server_when_deleted_locally else ""
            return DeletedHere(uid, sync.summary(uid), f"message {uid} deleted here{later}")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.connection.submit(f"deleting message {uid}", job)

        from tuimail.ui.screens.confirm import ConfirmScreen  # dialogs load when first needed

        self.app.push_screen(ConfirmScreen(question, yes="Delete", no="Keep"), confirmed)

    def on_deleted_here(self: "Pop3Pane", message: DeletedHere) -> None:
        if message.summary is not None:
            self.apply_summary(message.summary)
        screen = reader_on_top(self.app)
        if screen is not None and screen.summary.uid == message.uid:
            screen.dismiss(None)
        self._status(message.text, "ok")

    def _save_part(self: "Pop3Pane", screen: MessageScreen, part: MimePart, directory: Path,
                   then_open: bool) -> None:
        uid, command, connection = screen.summary.uid, self.ui.open_command, self.connection
        self._cancel_save.clear()
        cancel = self._cancel_save
        screen.status.show(f"saving part {part.part_id} ({human_size(part.size)})…", "busy")

        def exited(program: str, status: int) -> None:
            connection.post(OpenerExited(screen, program, status))

        def job(sync: Pop3Sync) -> Message:
            from tuimail.model.message import part_bytes
            from tuimail.store.attachments import SaveError, save_attachment
            from tuimail.store.opener import OpenError, launch, opener_argv
            from tuimail.model.decode import decode_transfer
            from tuimail.ui.widgets.source_fetch import encapsulated

            raw = sync.raw(uid, force=True)  # the local copy
            if raw is None:
                data = None
            elif part.content_type == "message/rfc822":  # as it stands in the copy (part_bytes: leaves only)
                carried = encapsulated(raw, part.part_id)
                data = None if carried is None else decode_transfer(carried, part.encoding)[0]
            else:
                data = part_bytes(raw, part.part_id)
            if data is None:
                return SaveDone(screen, f"message {uid} has no part {part.part_id}", "error")
            try:
                path = save_attachment(directory, part.filename, [data], cancelled=cancel.is_set)
                if not then_open:
                    return SaveDone(screen, f"saved {path} ({human_size(path.stat().st_size)})", "ok")
                argv = opener_argv(command, path)
                launch(argv, on_exit=lambda status: exited(argv[0], status))
            except (SaveError, OpenError, OSError) as exc:
                return SaveDone(screen, f"cannot {'open' if then_open else 'save'} the attachment: {exc}", "error")
            return SaveDone(screen, f"opened {path.name} with {argv[0]}", "ok")

        connection.submit(f"{'opening' if then_open else 'saving'} part {part.part_id}", job)

    def on_save_done(self: "Pop3Pane", message: SaveDone) -> None:
        message.stop()
        message.screen.save_finished(message.text, message.level)

    def on_opener_exited(self: "Pop3Pane", message: OpenerExited) -> None:
        message.stop()
        if message.status != 0:
            text = f"{message.program} exited with status {message.status}"
            self._status(text, "error")
            if message.screen.is_attached:
                message.screen.status.show(text, "error")

    # Sync -------------------------------------------------------------------------------

    def start_sync(self: "Pop3Pane", dry_run: bool) -> None:
        if self._syncing:
            self._status("a POP3 sync is already running", "info")
            return
        self._syncing = True
        what = "dry run" if dry_run else "sync"
        name, connection = self.account.name, self.connection
        self._title(f"{what} running…")
        self._status(f"{name}: POP3 {what}: listing the maildrop…", "busy")

        from tuimail.ui.widgets.progress import Ticker

        def job(sync: Pop3Sync) -> Message:
            # messages and bytes: planned, then stored so far; the subject of the last one
            plan, done, last = [0, 0], [0, 0], [""]

            def say(_stage: str, count: int, total: int | None) -> None:
                of = f" of {plan[0]:,}" if plan[0] else ""
                size = f"{human_size(done[1])} of {human_size(plan[1])}" if plan[0] else human_size(done[1])
                connection.post(SyncProgress(f"{name}: POP3 sync: downloaded {count:,}{of} ({size})"
                                             + (f"; last: {last[0]}" if last[0] else ""), count, total))

            tick = Ticker(say)

            def planned(count: int, size: int) -> None:
                plan[:] = [count, size]
                tick("download", 0, count)

            def stored(record) -> None:
                done[0] += 1
                done[1] += record.size
                last[0] = one_line(record.summary.subject, 60) if record.summary else ""
                tick("download", done[0], plan[0] or None)

            sync.on_plan, sync.on_download = planned, stored
            try:
                report = sync.sync(dry_run=dry_run)
            finally:
                sync.on_plan = sync.on_download = None
            try:
                return SyncFinished(report, sync.open(first=connection.first))
            except MailError as exc:
                return SyncFinished(report, None, str(exc))

        connection.submit(f"POP3 {what}", job, failed=SyncFailed(), opens=True)

    def on_sync_progress(self: "Pop3Pane", message: SyncProgress) -> None:
        from tuimail.ui.widgets.progress import Progress, ProgressChanged

        self._status(message.text, "busy")
        self.post_message(ProgressChanged(SYNC_PROGRESS, Progress("POP3 sync", message.done, message.total),
                                          self.account.name))

    def _end_sync_progress(self: "Pop3Pane") -> None:
        from tuimail.ui.widgets.progress import ProgressChanged

        self.post_message(ProgressChanged(SYNC_PROGRESS, None, self.account.name))

    def on_unmount(self: "Pop3Pane") -> None:
        """A sync's end will not come now: its bar goes with the pane. Posted to the screen,
        which is still the pane's parent while it unmounts (the pane takes no more messages)."""
        if self._syncing:
            self._syncing = False
            from textual.dom import NoScreen

            from tuimail.ui.widgets.progress import ProgressChanged

            try:
                self.screen.post_message(ProgressChanged(SYNC_PROGRESS, None, self.account.name))
            except NoScreen:  # the app is going: so is the status line
                pass

    def on_sync_failed(self: "Pop3Pane", message: SyncFailed) -> None:
        self._syncing = False
        self._end_sync_progress()
        self._title("sync failed")

    def on_sync_finished(self: "Pop3Pane", message: SyncFinished) -> None:
        self._syncing = False
        self._end_sync_progress()
        report = message.report
        if message.opened is not None:
            self._show_opened(message.opened, keep_cursor=True)
            self._opened = True
        from tuimail.ui.screens.pop3_report import Pop3ReportScreen, report_summary

        summary = report_summary(report)
        self._title(("dry run: " if report.dry_run else "synced: ") + summary)
        if report.error or message.reopen_error:
            self._status(f"{self.account.name}: POP3 sync: {report.error or message.reopen_error}", "error")
        else:
            self._status(f"{self.account.name}: POP3 {'dry run' if report.dry_run else 'sync'}: {summary}", "ok")

        def closed(run_for_real: bool | None) -> None:
            if run_for_real:
                self.start_sync(dry_run=False)

        self.app.push_screen(Pop3ReportScreen(report), closed)

    # Settings ---------------------------------------------------------------------------

    def action_settings(self: "Pop3Pane") -> None:
        if self.config_path is None:
            self._status("no config file to write the policy to", "error")
            return

        def saved(account: Account | None) -> None:
            if account is None:
                return
            self.account = account
            self.connection.set_account(account)
            if self.on_account_saved is not None:
                self.on_account_saved(account)
            self._title()
            self._status(f"{account.name}: keep policy saved to {self.config_path}", "ok")

        from tuimail.ui.screens.pop3_settings import Pop3SettingsScreen

        self.app.push_screen(Pop3SettingsScreen(self.account, self.config_path), saved)
