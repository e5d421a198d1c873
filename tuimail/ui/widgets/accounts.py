"""The account list: one row per configured account."""
from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuimail.model.config import Account
from tuimail.ui.render import inert


def account_prompt(account: Account) -> Content:
    return Content("\n").join([
        Content("").join([inert(account.name, "bold"), inert(f"  {account.protocol.value.upper()}", "dim")]),
        inert(f"  {account.email}", "dim"),
    ])


class AccountList(OptionList):
    """Option ids are account names."""

    def __init__(self, accounts: list[Account], *, id: str | None = None) -> None:
        super().__init__(*(Option(account_prompt(a), id=a.name) for a in accounts), markup=False, id=id)
        self.border_title = "Accounts"

    def highlight_account(self, name: str) -> None:
        self.highlighted = self.get_option_index(name)
