"""The compose screen's fields: identities for From, address completion, the attachment list."""
from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr
from pathlib import Path

from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuimail.model.config import Account, Config
from tuimail.model.draft import AttachmentData, ComposeError, identity
from tuimail.model.mime import human_size
from tuimail.ui.render import inert

MAX_SUGGESTIONS_SCANNED = 5000
_SPECIALS = set('()<>@,;:\\".[]')


@dataclass(frozen=True)
class Identity:
    """One From address to send as: an account's email and display name."""
    account: str
    name: str
    email: str

    @property
    def address(self) -> str:
        try:
            return identity(self.name, self.email)
        except ComposeError:
            return formataddr((self.name, self.email)) if self.name else self.email

    @classmethod
    def of(cls, account: Account) -> "Identity":
        return cls(account.name, account.display_name, account.email)


def identities(config: Config) -> list[Identity]:
    return [Identity.of(account) for account in config.accounts.values()]


class AddressSuggester(Suggester):
    """Completes the last address of a comma-separated field from the addresses seen before.

    Typed letters are matched, case-insensitively, against the start of an email address or of
    a display name; the addresses before the last comma are kept as typed.
    """

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.known: list[tuple[str, str]] = []  # (name, email), the most frequent first

    def load(self, addresses: list[tuple[str, str]]) -> None:
        self.known = addresses[:MAX_SUGGESTIONS_SCANNED]

    async def get_suggestion(self, value: str) -> str | None:
        return self.complete(value)

    def complete(self, value: str) -> str | None:
        cut = value.rfind(",") + 1
        head, token = value[:cut], value[cut:]
        stripped = token.lstrip()
        lead = token[:len(token) - len(stripped)]
        if len(stripped) < 1:
            return None
        folded = stripped.casefold()
        for name, email in self.known:
            if email.casefold().startswith(folded) and len(email) > len(stripped):
                return head + lead + email
            if name and name.casefold().startswith(folded) and not (set(name) & _SPECIALS):
                return head + lead + f"{name} <{email}>"
        return None


class AttachmentList(OptionList):
    """The files to attach (name, size, folder) and those carried over from a forwarded
    original (name, size); x removes the highlighted one."""

    BINDINGS = [
        Binding("delete,backspace,x", "remove", "Remove attachment", id="compose.remove_attachment",
                tooltip="Take the highlighted attachment off the message"),
    ]

    @dataclass
    class Removed(Message):
        item: "Path | AttachmentData"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.paths: list[Path] = []
        self.carried: list[AttachmentData] = []

    @property
    def items(self) -> "list[Path | AttachmentData]":
        return [*self.paths, *self.carried]

    def set_paths(self, paths: list[Path], carried: list[AttachmentData] | None = None) -> None:
        self.paths = list(paths)
        if carried is not None:
            self.carried = list(carried)
        highlighted = self.highlighted
        self.clear_options()
        lines = [attachment_line(p) for p in self.paths] + [carried_line(a) for a in self.carried]
        self.add_options([Option(inert(text), id=str(i)) for i, text in enumerate(lines)])
        if lines:
            self.highlighted = min(highlighted or 0, len(lines) - 1)
        self.border_title = f"Attachments ({len(lines)}) · x removes"
        self.display = bool(lines)

    def action_remove(self) -> None:
        items = self.items
        if self.highlighted is not None and items:
            self.post_message(self.Removed(items[self.highlighted]))


def attachment_line(path: Path) -> str:
    try:
        size = human_size(path.stat().st_size)
    except OSError as exc:
        size = f"unreadable: {exc.strerror or exc}"
    return f"{path.name}  ({size})  {path.parent}"


def carried_line(item: AttachmentData) -> str:
    return f"{item.filename}  ({human_size(len(item.data))})  from the forwarded message"
