"""The reader's header inspection (a mixin of MessageScreen): the full-headers toggle, and the
raw source, MIME tree and route screens. Source is fetched on demand through the controller
(a job on the pane's connection) and kept for the life of the reader, so the header block
crosses the wire once however often the views are opened.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.binding import Binding

from tuimail.model.mime import MimePart
from tuimail.ui.widgets.source_fetch import HEADER, WHOLE, SourceFetched, describe, header_block
from tuimail.ui.widgets.text_view import TextView

if TYPE_CHECKING:
    from tuimail.ui.screens.message import MessageScreen

HEADER_BINDINGS = [
    Binding("h", "headers", "Headers", id="message.headers",
            tooltip="Full headers, decoded; again for the raw form; again for the short block"),
    Binding("ctrl+u,U", "raw", "Source", id="message.raw",
            tooltip="The raw source of the message (p in it: of the highlighted part)"),
    Binding("T", "mime", "MIME tree", id="message.mime", show=False,
            tooltip="Each part's section, type, encoding, size and file name"),
    Binding("H", "route", "Route", id="message.route",
            tooltip="The Received route as a table and timeline, and SPF/DKIM/DMARC"),
]
HEADER_MODES = ("short", "decoded", "raw")


class HeaderViews:
    header_mode = "short"

    # Fetching, once per section ---------------------------------------------------------

    def _source_state(self: "MessageScreen") -> tuple[dict[str, bytes], dict[str, list[Callable]]]:
        if not hasattr(self, "_sources"):
            self._sources: dict[str, bytes] = {}
            self._waiting: dict[str, list[Callable[[SourceFetched], None]]] = {}
        return self._sources, self._waiting

    def request_source(self: "MessageScreen", section: str, target) -> None:
        """target.source_arrived(SourceFetched) gets section of this message, now or when fetched."""
        sources, waiting = self._source_state()
        uid = self.summary.uid
        data = sources.get(section)
        if data is None and section == HEADER and WHOLE in sources:
            data = sources[HEADER] = header_block(sources[WHOLE])
        if data is not None:
            target.source_arrived(SourceFetched(target, uid, section, data))
            return
        first = section not in waiting
        waiting.setdefault(section, []).append(target.source_arrived)
        if first:
            self.controller.fetch_source(self, uid, section)

    def source_arrived(self: "MessageScreen", fetched: SourceFetched) -> None:
        """The controller's answer: keep it, and hand it to every screen that waits for it."""
        sources, waiting = self._source_state()
        if fetched.data is not None:
            sources[fetched.section] = fetched.data
        for deliver in waiting.pop(fetched.section, []):
            owner = getattr(deliver, "__self__", None)
            if owner is None or owner is self or owner.is_attached:
                deliver(fetched)

    def source_part(self: "MessageScreen") -> MimePart | None:
        """The part 'p' shows: the highlighted attachment, else the displayed text part."""
        return self.highlighted_attachment() or self.view.part

    # Full headers -----------------------------------------------------------------------

    def action_headers(self: "MessageScreen") -> None:
        mode = HEADER_MODES[(HEADER_MODES.index(self.header_mode) + 1) % len(HEADER_MODES)]
        self.header_mode = mode
        if mode == "short":
            self._show_header_block(None)
            return
        self.status.show("fetching the header block…", "busy")
        self.request_source(HEADER, _HeaderTarget(self))

    def _show_header_block(self: "MessageScreen", data: bytes | None) -> None:
        from tuimail.ui.screens.source import full_headers_text

        short = self.query_one("#headers")
        found = self.query("#full-headers")
        if data is None or self.header_mode == "short":
            short.display = True
            if found:
                found.first().display = False
            return
        raw = self.header_mode == "raw"
        text = full_headers_text(data, raw=raw)
        if found:
            view = found.first(TextView)
            view.load(text)
        else:
            view = TextView(text, id="full-headers")
            self.mount(view, after=short)
        view.display = True
        short.display = False
        view.border_title = ("Headers as sent (raw)" if raw else "All headers, decoded") + " · h: " + (
            "short" if raw else "raw")
        view.scroll_home(animate=False)
        count = text.count("\n") + 1
        self.status.show(f"{count} header lines ({'raw' if raw else 'decoded'}); h switches", "ok")

    # The other views --------------------------------------------------------------------

    def action_raw(self: "MessageScreen") -> None:
        from tuimail.ui.screens.source import RawSourceScreen

        self.app.push_screen(RawSourceScreen(self, WHOLE))

    def action_mime(self: "MessageScreen") -> None:
        from tuimail.ui.screens.source import MimeTreeScreen

        self.app.push_screen(MimeTreeScreen(self, self.summary.structure))

    def action_route(self: "MessageScreen") -> None:
        from tuimail.ui.screens.route import RouteScreen

        account = getattr(self.controller, "account", None)
        trusted = getattr(account, "trusted_authserv_ids", ()) or ()
        self.app.push_screen(RouteScreen(self, trusted, self.summary.size, self.summary.structure))


class _HeaderTarget:
    """The reader itself waiting for its header block (a target with its own is_attached)."""

    def __init__(self, screen: "MessageScreen") -> None:
        self.screen = screen

    @property
    def is_attached(self) -> bool:
        return self.screen.is_attached

    def source_arrived(self, fetched: SourceFetched) -> None:
        if fetched.data is None:
            self.screen.header_mode = "short"
            self.screen.status.show(f"cannot fetch {describe(fetched.section)}: {fetched.error}", "error")
            return
        self.screen._show_header_block(fetched.data)
