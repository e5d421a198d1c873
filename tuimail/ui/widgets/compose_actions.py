"""Compose, reply and forward, from the index and from the reader. A mixin for the panes that
own a connection (FolderPane over IMAP, Pop3Pane over the local POP3 store).

Replying and forwarding need the original's raw bytes: a job on the pane's connection thread
fetches them (BODY.PEEK[], or the POP3 store), the draft is built from them on the way back,
and the compose screen opens on it. A new message first offers the drafts left from earlier.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message

from tuimail.model.config import Account, ForwardMode
from tuimail.model.secret import Secret
from tuimail.model.summary import ANSWERED, MessageSummary
from tuimail.ui.widgets.pane_messages import ActionDone

# Composing loads its modules (email's policy machinery, the dialogs) on first use: none of
# them is on the path to the first screen.
if TYPE_CHECKING:
    from tuimail.model.draft import Draft
    from tuimail.store.drafts import DraftStore, ImapCopy, SavedDraft
    from tuimail.ui.screens.compose import ComposeContext, ComposeOutcome
    from tuimail.ui.screens.compose_dialogs import ForwardChoice
    from tuimail.ui.screens.message import MessageScreen

REPLY, REPLY_ALL, FORWARD = "reply", "reply all", "forward"


@dataclass
class OriginalFetched(Message):
    """The raw bytes of the message to reply to or forward (None: too big to fetch unasked)."""
    uid: int
    raw: bytes | None
    purpose: str
    choice: ForwardChoice | None = None
    quote: str | None = None  # the text the reader showed, quoted in a reply


@dataclass
class DraftsListed(Message):
    store: DraftStore
    drafts: list[SavedDraft]
    problems: list[str]


def cached_addresses() -> list[tuple[str, str]]:
    """Addresses from the header cache, for completion; [] when there is no usable cache."""
    from tuimail.store.header_cache import CacheError, HeaderCache

    try:
        cache = HeaderCache.open_default()
    except CacheError:
        return []
    try:
        return cache.addresses()
    finally:
        cache.close()


class ComposeActions:
    """Needs from the pane: account, connection, _status(), _highlighted(), app.config."""

    account: Account

    # Keys in the index ------------------------------------------------------------------

    def action_compose(self) -> None:
        self.start_compose()

    def action_reply(self) -> None:
        summary = self._highlighted()
        if summary is not None:
            self._fetch_original(summary, REPLY)

    def action_reply_all(self) -> None:
        summary = self._highlighted()
        if summary is not None:
            self._fetch_original(summary, REPLY_ALL)

    def action_forward(self) -> None:
        summary = self._highlighted()
        if summary is not None:
            self._choose_forward(summary)

    # The reader's controller ------------------------------------------------------------

    def compose_message(self, screen: "MessageScreen") -> None:
        self.start_compose()

    def reply_message(self, screen: "MessageScreen", reply_all: bool) -> None:
        quote = screen.view.text if screen.view.kind != "none" and not getattr(screen.view, "headers_only", False) \
            else None
        screen.status.show(f"fetching message {screen.summary.uid} to reply…", "busy")
        self._fetch_original(screen.summary, REPLY_ALL if reply_all else REPLY, quote=quote)

    def forward_message(self, screen: "MessageScreen") -> None:
        self._choose_forward(screen.summary)

    # Steps ------------------------------------------------------------------------------

    def compose_context(self) -> "ComposeContext":
        from tuimail.ui.screens.compose import ComposeContext  # loaded on the first compose

        passwords: dict[str, Secret] = self.known_passwords()
        return ComposeContext(self.app.config, passwords, addresses=cached_addresses)

    def known_passwords(self) -> dict[str, Secret]:
        password = getattr(self, "_password", None)
        return {self.account.name: password} if password is not None else {}

    def start_compose(self) -> None:
        self._list_drafts()

    @work(thread=True, group="drafts", exit_on_error=False)
    def _list_drafts(self) -> None:
        from tuimail.store.drafts import DraftStore

        store = DraftStore.open_default()
        drafts, problems = store.list()
        self.post_message(DraftsListed(store, drafts, problems))

    def on_drafts_listed(self, message: DraftsListed) -> None:
        message.stop()
        from tuimail.store.drafts import SavedDraft
        from tuimail.ui.screens.compose_dialogs import NEW_MESSAGE, DraftChooser

        for problem in message.problems:
            self.app.notify(problem, title="Drafts", severity="warning", markup=False)
        if not message.drafts:
            self._open_compose(self._new_draft())
            return

        def chosen(choice: SavedDraft | str | None) -> None:
            if choice == NEW_MESSAGE:
                self._open_compose(self._new_draft())
            elif isinstance(choice, SavedDraft):
                self._open_compose(choice.draft, draft_id=choice.id, imap_copy=choice.imap_copy,
                                   note="resumed the draft saved on this machine")

        self.app.push_screen(DraftChooser(message.drafts, message.store), chosen)

    def _new_draft(self) -> "Draft":
        from tuimail.model.draft import Draft
        from tuimail.ui.screens.compose_fields import Identity

        return Draft(account=self.account.name, from_addr=Identity.of(self.account).address)

    def _choose_forward(self, summary: MessageSummary) -> None:
        from tuimail.ui.screens.compose_dialogs import ForwardChooser

        def chosen(choice: ForwardChoice | None) -> None:
            if choice is not None:
                self._fetch_original(summary, FORWARD, choice=choice)

        default = self.app.config.ui.forward if self.app.config is not None else ForwardMode.INLINE
        self.app.push_screen(ForwardChooser(default, summary.subject), chosen)

    def _fetch_original(self, summary: MessageSummary, purpose: str, *, choice: ForwardChoice | None = None,
                        quote: str | None = None) -> None:
        uid = summary.uid
        self._status(f"fetching message {uid} to {purpose}…", "busy")

        def job(sync: Any) -> Message:
            return OriginalFetched(uid, self._original_bytes(sync, uid), purpose, choice, quote)

        self.connection.submit(f"fetching message {uid} to {purpose}", job)

    def _original_bytes(self, sync: Any, uid: int) -> bytes | None:
        """On the connection's thread: the whole message as stored (BODY.PEEK[])."""
        return sync.session.fetch_raw(uid)

    def on_original_fetched(self, message: OriginalFetched) -> None:
        message.stop()
        from tuimail.model import compose as build  # the builders load on the first reply or forward
        from tuimail.model.draft import ComposeError
        from tuimail.ui.screens.compose_dialogs import ForwardChoice

        if message.raw is None:
            self._status(f"message {message.uid} was not downloaded (above max_download_size); "
                         "open it and press L first", "error")
            return
        config = self.app.config
        own = tuple(a.email for a in config.accounts.values())
        try:
            if message.purpose == FORWARD:
                choice = message.choice or ForwardChoice(config.ui.forward)
                if choice.mode is ForwardMode.ATTACHMENT:
                    draft = build.forward_as_attachment(message.raw, self.account)
                else:
                    draft = build.forward_inline_draft(message.raw, self.account,
                                                       include_attachments=choice.include_attachments)
            else:
                draft = build.reply_draft(message.raw, self.account, reply_all=message.purpose == REPLY_ALL,
                                          own_addresses=own, quote_body=message.quote)
        except ComposeError as exc:
            self._status(f"cannot {message.purpose} message {message.uid}: {exc}", "error")
            return
        self._status(f"writing a {message.purpose} to message {message.uid}", "info")
        self._open_compose(draft, uid=message.uid, purpose=message.purpose)

    def _open_compose(self, draft: "Draft", *, draft_id: str | None = None, note: str = "",
                      uid: int | None = None, purpose: str = "", imap_copy: ImapCopy | None = None) -> None:
        from tuimail.ui.screens.compose import ComposeScreen

        def finished(outcome: "ComposeOutcome | None") -> None:
            if outcome is None:
                return
            self._status(f"message {'sent' if outcome.sent else 'not sent'}"
                         f" (outbox {outcome.outbox_id}: {outcome.state})", "ok" if outcome.sent else "error")
            if outcome.sent and uid is not None and purpose in (REPLY, REPLY_ALL):
                self._mark_answered(uid)

        self.app.push_screen(ComposeScreen(self.compose_context(), draft, draft_id=draft_id, note=note,
                                           imap_copy=imap_copy), finished)

    def _mark_answered(self, uid: int) -> None:
        def job(sync: Any) -> Message:
            sync.set_flags([uid], add=[ANSWERED])
            return ActionDone(f"message {uid} marked answered", sync.take_changes())

        self.connection.submit(f"marking message {uid} answered", job)


class Pop3ComposeActions(ComposeActions):
    """The POP3 pane: the original comes from the local store (downloaded first if need be)."""

    def known_passwords(self) -> dict[str, Secret]:
        return self.passwords  # the session's, shared with the screen

    def _original_bytes(self, sync: Any, uid: int) -> bytes | None:
        return sync.raw(uid, force=True)

    def _mark_answered(self, uid: int) -> None:
        pass  # POP3 has no server flags; the local ones are the reader's (N, F)
