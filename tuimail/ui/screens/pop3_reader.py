"""The reader for a POP3 message: MessageScreen, plus a key to download a message that is
above the size cap (shown from its headers until then); POP3 has no folders to move to."""
from __future__ import annotations

from textual.binding import Binding

from tuimail.model.mime import human_size
from tuimail.ui.screens.message import MessageScreen


class Pop3MessageScreen(MessageScreen):
    BINDINGS = [
        Binding("L", "download_whole", "Download", id="pop3.download_whole",
                tooltip="Download the whole message (it is above max_download_size)"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "download_whole":
            return self.view.headers_only
        if action in ("move", "copy"):
            return False  # one mailbox
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        # MessageScreen's on_mount runs after this one (Textual calls each class's handler)
        if not self.view.headers_only and not self.view.problems:
            self.call_later(self.status.show, f"{self.folder}  message {self.summary.uid}: read from "
                                              f"the local copy ({human_size(self.summary.size)})")

    def action_download_whole(self) -> None:
        self.controller.download_whole(self)
