"""The main screen's POP3 side: the pane of an account that reads with POP3, and the POP3
fallback of an IMAP account (fallback = "pop3") whose IMAP server cannot be reached.

Imported by MainScreen only when a POP3 account or a fallback needs it, so starting on an
IMAP account loads none of the POP3 code.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tuimail.model.config import Account, Protocol, with_account
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.pop3_pane import Pop3Pane, fallback_line

if TYPE_CHECKING:
    from tuimail.store.head_start import Pop3HeadStart
    from tuimail.ui.screens.main import MainScreen


def show_pop3(screen: "MainScreen", account: Account, refresh: bool = False, fallback: str = "") -> Pop3Pane:
    """The account's POP3 INBOX in the content area: the open pane, or a new one (refresh:
    always new, which also sees new mail; a POP3 session sees a snapshot)."""
    content = screen.query_one("#content")
    for pane in content.query(Pop3Pane):
        if pane.account.name == account.name and not refresh:
            if pane.is_mounted and pane.query("MessageList"):
                pane.index_widget.focus()
            return pane
    content.remove_children()
    pane = pop3_pane(screen, account, fallback=fallback)
    content.mount(pane)  # it focuses its index once mounted
    return pane


def pop3_pane(screen: "MainScreen", account: Account, fallback: str = "",
              head_start: "Pop3HeadStart | None" = None) -> Pop3Pane:
    """A new pane for the account's POP3 INBOX (composed with the screen when head_start)."""
    return Pop3Pane(account, screen._passwords.get(account.name), config_path=Path(screen.config.path),
                    ui=screen.config.ui, open_dir=screen._open_dir, passwords=screen._passwords,
                    fallback=fallback, on_account_saved=lambda saved: _remember(screen, saved),
                    head_start=head_start)


def open_pop3_account(screen: "MainScreen", account: Account, refresh: bool = False) -> None:
    """MainScreen.open_account for an account with protocol = "pop3"."""
    screen.query_one(FolderList).show_pop3_inbox()
    show_pop3(screen, account, refresh=refresh)


def fallback_to_pop3(screen: "MainScreen", account: Account, reason: str) -> bool:
    """IMAP is unreachable (reason says why): read the INBOX over POP3 if the account falls
    back to it; whether it does."""
    if account.fallback is not Protocol.POP3 or account.pop3 is None:
        return False
    screen.query_one(FolderList).show_pop3_inbox()
    show_pop3(screen, account, refresh=True, fallback=reason)
    screen.status.show(fallback_line(account.name, reason), "info")
    return True


def _remember(screen: "MainScreen", account: Account) -> None:
    """The keep policy was saved: later panes of this account use it."""
    screen.config = with_account(screen.config, account)
    app_config = getattr(screen.app, "config", None)
    if app_config is not None and account.name in app_config.accounts:
        screen.app.config = with_account(app_config, account)
