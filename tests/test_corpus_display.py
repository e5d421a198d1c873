"""Every corpus message, delivered into the real Dovecot, shows through the TUI's display path:
BODYSTRUCTURE, the one text part fetched and decoded, then the message screen drawn."""
from __future__ import annotations

import time

from tests.corpus_support import corpus_messages as _messages, needs_corpus
from tuimail.model.config import parse_config
from tuimail.model.index import Window
from tuimail.protocols.imap import ImapSession
from tuimail.store.folder_sync import FolderSync
from tuimail.store.header_cache import HeaderCache
from tuimail.store.credentials import lookup_password
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.themes import ThemedApp

FOLDER = "Corpus"


class _Reader:
    """The reader controller, for screens shown without a connection: actions are not tested here."""

    def save_attachment(self, screen, part) -> None: ...
    def toggle_seen(self, screen) -> None: ...
    def toggle_flagged(self, screen) -> None: ...
    def cancel_save(self) -> None: ...


@needs_corpus
async def test_every_corpus_message_displays_through_imap(clean_testbed) -> None:
    testbed = clean_testbed
    paths = _messages()
    delivered = testbed.deliver_files("bob", paths, folder=FOLDER)
    assert delivered == len(paths)
    account = parse_config(testbed.config_toml("bob")).account("bob")
    views = []
    with ImapSession.connect(account, lookup_password(account)) as session:
        sync = FolderSync(session, HeaderCache.in_memory(), "bob")
        opened = sync.open(FOLDER)
        assert opened.count == len(paths)
        rows = sync.rows(Window(1, opened.count))
        assert len(rows) == len(paths)
        started = time.monotonic()
        for seq in sorted(rows):
            views.append(sync.read(rows[seq].uid))
        print(f"read {len(views)} messages in {time.monotonic() - started:.1f} s")
    assert all(view.kind in ("plain", "html", "none") for view in views)
    assert sum(view.kind != "none" for view in views) > len(views) * 0.9

    started = time.monotonic()
    app = ThemedApp()  # the reader's stylesheets use tuimail's theme variables
    async with app.run_test(size=(120, 40)) as pilot:
        for view in views:
            screen = MessageScreen(view, _Reader(), folder=FOLDER)
            await app.push_screen(screen)
            await pilot.pause()
            body = screen.query_one("#body")
            assert body.text == view.text or view.kind == "none"
            assert not any("\x1b" in "".join(s.text for s in body.render_line(y)) for y in range(body.size.height))
            app.pop_screen()
        await pilot.pause()
    print(f"drew {len(views)} message screens in {time.monotonic() - started:.1f} s")
