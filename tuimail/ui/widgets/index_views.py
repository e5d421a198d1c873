"""Views of the open folder for the FolderPane: a server-side search result and threads.

A view is a UidListIndex (rows keyed by position, each a UID) shown in the same MessageList;
its rows are fetched lazily by UID through FolderSync.summaries() (mostly from the cache),
so render_line never waits. Escape goes back to the full index where it was left.
Searching and threading load their code when first used, not at start-up.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual.message import Message

from tuimail.model.index import UidListIndex, Window
from tuimail.store.folder_sync import FolderSync
from tuimail.ui.widgets.pane_messages import RowsFailed, RowsLoaded, SearchDone, ThreadsDone

if TYPE_CHECKING:
    from tuimail.model.query import Query
    from tuimail.ui.widgets.folder_pane import FolderPane


class IndexViews:
    _last_query = ""
    _view_label: Callable[[], str] = staticmethod(lambda: "")

    def check_action(self: "FolderPane", action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.view is not None  # escape means nothing in the full index
        return True

    # Search -----------------------------------------------------------------------------

    def action_search(self: "FolderPane") -> None:
        from tuimail.store.folder_views import search
        from tuimail.ui.screens.search import SearchDialog

        def asked(query: Query | None) -> None:
            if query is None:
                return
            self._last_query = str(query)
            self._status(f"searching {self.folder.display} for {query}…", "busy")
            self.connection.submit(f"searching for {query}", lambda sync: SearchDone(query, search(sync, query)))

        self.app.push_screen(SearchDialog(self.folder.display, self._last_query), asked)

    def on_search_done(self: "FolderPane", message: SearchDone) -> None:
        index = UidListIndex(message.uids)
        query = str(message.query)
        self._show_view(index, lambda: f"search: {query} ({index.count:,} match{'es' if index.count != 1 else ''})")
        self._status(f"{index.count:,} messages match {query}", "ok")

    # Threads ----------------------------------------------------------------------------

    def action_threads(self: "FolderPane") -> None:
        from tuimail.model.threads import ThreadIndex
        from tuimail.store.folder_views import threads

        if isinstance(self.view, ThreadIndex):
            self.action_back()
            return
        self._status(f"threading {self.folder.display}…", "busy")
        self.connection.submit("threading the folder", lambda sync: ThreadsDone(threads(sync)))

    def on_threads_done(self: "FolderPane", message: ThreadsDone) -> None:
        from tuimail.model.threads import ThreadIndex

        found = message.threads
        index = ThreadIndex(found.roots)
        how = "" if found.by_server else ", threaded here"

        def label() -> str:
            if found.limited:
                return (f"threads: the newest {index.count:,} of {found.total:,} messages, "
                        f"{index.threads:,} threads{how}")
            return f"threads: {index.count:,} messages in {index.threads:,} threads{how}"

        self._show_view(index, label)
        self._status(label(), "ok")

    # Showing a view ---------------------------------------------------------------------

    def _show_view(self: "FolderPane", index: UidListIndex, label: Callable[[], str]) -> None:
        widget = self.index_widget
        if self.view is None:
            self._full_position = (widget.cursor, int(widget.scroll_offset.y))
        self.view, self._view_label = index, label
        widget.set_index(index)
        self._view_title_update()
        self.refresh_bindings()

    def _view_title_update(self: "FolderPane") -> None:
        self.view_title = self._view_label()
        self._title("")

    def action_back(self: "FolderPane") -> None:
        if self.view is None:
            return
        self.view = None
        self.index_widget.set_index(self.full, *self._full_position)
        self._title("all messages")
        self.refresh_bindings()

    def _fetch_view_rows(self: "FolderPane", index: UidListIndex, windows: list[Window], generation: int) -> None:
        for window in windows:
            wanted = index.uids_in(window)  # uid -> position, read now: the list may change

            def fetch(sync: FolderSync, wanted: dict[int, int] = wanted) -> Message:
                found = sync.summaries(list(wanted))
                rows = {pos: found[uid] for uid, pos in wanted.items() if uid in found}
                return RowsLoaded(rows, generation, index, gone=[u for u in wanted if u not in found])

            self.connection.submit(f"fetching {len(wanted)} messages", fetch, failed=RowsFailed([window], index))
