"""A window of a private tmux server (tmux -L, no config file), for the tests that run the
real TUI in a terminal: keys in, text out, and every failure shows the last capture."""
from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable

import pytest


class TmuxPane:
    def __init__(self, session: str) -> None:
        self.session = session  # the name new-session -s gives it, the target of keys and captures
        self.socket = f"tuimail-{session}-{uuid.uuid4().hex[:8]}"
        self.last = ""

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=20)
        if check and done.returncode != 0:
            pytest.fail(f"tmux {' '.join(args)}: {done.stderr.strip()}\n{self.report()}")
        return done.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        self.last = self("capture-pane", "-p", "-t", self.session, check=False) or self.last
        return self.last

    def wait(self, what: str, test: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.2)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{self.report()}")

    def wait_for(self, text: str, timeout: float = 60) -> str:
        return self.wait(repr(text), lambda screen: text in screen, timeout)

    def report(self) -> str:
        return f"last pane capture:\n{self.last}"
