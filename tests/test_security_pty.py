"""Cases 28, 32 and 33 in a real terminal: the TUI runs in tmux against the testbed Dovecot, opens
messages whose Subject, From, body, attachment name and folder name carry OSC 52, OSC 8, a title
set, CSI 2J, C1 0x9b, NUL and DEL, and every byte the TUI writes to the pane (tmux pipe-pane) is
checked: none of those sequences may reach the terminal. An HTML message with remote images and
CSS url() is opened while a loopback listener counts connections: there must be none.

tmux is a system dependency (Makefile APT_PACKAGES); without it this test fails, never skips.
"""
from __future__ import annotations

import re
import shutil
import socket
import sys
import time
from email.header import Header
from pathlib import Path

import pytest

from tests.tmux_support import TmuxPane

ROOT = Path(__file__).resolve().parent.parent
FOREIGN = "P1\x1b]52;c;cHduZWQ=\x07P2\x1b]0;pwned\x07P3\x1b[2JP4\x9b31mP5\x00\x7fP6" \
          "\x1b]8;;http://evil.example/\x07P7\x1b]8;;\x07P8"
MARKUP = "[@click=app.quit]M1[/] [link=https://evil.example]M2[/link] [TODO] [/b]"


def _messages(port: int) -> list[bytes]:
    subject = Header(FOREIGN + " " + MARKUP, "utf-8").encode()
    plain = (f"From: =?utf-8?b?{_b64('Evil ' + FOREIGN)}?= <evil@example.test>\r\nTo: bob@example.test\r\n"
             f"Subject: {subject}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <pty1@x>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             f"{_b64('BODY ' + FOREIGN + ' ' + MARKUP)}\r\n--b\r\nContent-Type: application/octet-stream\r\n"
             f"Content-Disposition: attachment; filename*=utf-8''{_pct('a' + FOREIGN + '.txt')}\r\n\r\nx\r\n--b--\r\n")
    html = (f"From: tracker@example.test\r\nTo: bob@example.test\r\nSubject: HTMLMAIL remote content\r\n"
            "Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <pty2@x>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            f"<html><head><style>body{{background:url(http://127.0.0.1:{port}/css.png)}}</style>"
            f"<link rel=stylesheet href=http://127.0.0.1:{port}/x.css></head><body>"
            f"<p style=\"background-image:url('http://127.0.0.1:{port}/inline.png')\">HTMLBODY</p>"
            f"<img src=http://127.0.0.1:{port}/t.gif alt=logo><iframe src=http://127.0.0.1:{port}/f></iframe>"
            "</body></html>\r\n")
    return [html.encode(), plain.encode()]


def _b64(text: str) -> str:
    import base64
    return base64.b64encode(text.encode()).decode()


def _pct(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


@pytest.fixture
def tmux(tmp_path: Path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: it is a test dependency (Makefile APT_PACKAGES; apt-get install tmux)")
    session = TmuxPane("sec")
    yield session
    session("kill-server", check=False)


def test_case_32_28_33_no_foreign_sequence_reaches_the_terminal_and_nothing_is_fetched(clean_testbed, tmp_path, tmux):
    bed = clean_testbed
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    bed.deliver_files("bob", _messages(port))
    folder = bed.maildir("bob") / ".F1\x1b]52;c;Zm9sZA==\x07F2\x1b]0;pwned\x07F3"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    try:
        _run_hostile_session(bed, tmp_path, tmux, listener, port)
    finally:
        # doveadm cannot even expunge a mailbox with such a name: later tests would all fail
        shutil.rmtree(folder, ignore_errors=True)
        listener.close()


def _run_hostile_session(bed, tmp_path, tmux, listener, port) -> None:
    config = tmp_path / "config.toml"
    config.write_text(bed.config_toml("bob"))
    out, go = tmp_path / "pane.out", tmp_path / "go"
    env = {"XDG_CONFIG_HOME": tmp_path / "c", "XDG_DATA_HOME": tmp_path / "d", "XDG_CACHE_HOME": tmp_path / "k",
           "PYTHONPATH": ROOT, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    exports = " ".join(f"{k}='{v}'" for k, v in env.items())
    command = (f"cd '{ROOT}' && while [ ! -e '{go}' ]; do sleep 0.05; done; "
               f"exec env {exports} '{sys.executable}' -m tuimail --config '{config}'")
    tmux("new-session", "-d", "-s", "sec", "-x", "200", "-y", "50", "sh", "-c", command)
    tmux("pipe-pane", "-o", "-t", "sec", f"cat >> '{out}'")
    go.touch()
    tmux.wait_for("F1F2F3")
    tmux.wait_for("tracker@")
    tmux("send-keys", "-t", "sec", "Enter")  # the newest: the message with every sequence
    screen = tmux.wait_for("BODY")
    assert "P1P2P3P4P5P6P7P8" in screen.replace(" ", "") or "P1" in screen, screen
    assert "[@click=app.quit]M1[/]" in screen and "[link=https://evil.example]M2[/link]" in screen, screen
    assert "[TODO]" in screen and "[/b]" in screen, screen
    tmux("send-keys", "-t", "sec", "Escape")
    time.sleep(0.5)
    tmux("send-keys", "-t", "sec", "Down")
    time.sleep(0.3)
    tmux("send-keys", "-t", "sec", "Enter")
    screen = tmux.wait_for("HTMLBODY")
    assert "logo" in screen and f"127.0.0.1:{port}" not in screen
    time.sleep(1.0)
    tmux("send-keys", "-t", "sec", "Escape")
    time.sleep(0.5)
    tmux("send-keys", "-t", "sec", "q")
    time.sleep(1.0)
    try:
        conn, _ = listener.accept()
        conn.close()
        pytest.fail("the TUI connected to the remote-content listener")
    except BlockingIOError:
        pass
    raw = out.read_bytes()
    assert b"P1" in raw and b"P8" in raw and b"HTMLBODY" in raw and b"F1" in raw, "hostile text was never drawn"
    _assert_no_foreign_sequences(raw)


def _assert_no_foreign_sequences(raw: bytes) -> None:
    for bad, what in [(b"\x1b]52", "OSC 52 (clipboard)"), (b"\x1b]8;", "OSC 8 (hyperlink)"),
                      (b"pwned", "the title payload"), (b"\x1b[2JP4", "the message's CSI 2J"),
                      (b"cHduZWQ=", "the clipboard payload"), (b"Zm9sZA==", "the folder's clipboard payload"),
                      (b"\x00", "NUL"), (b"\x7f", "DEL")]:
        assert bad not in raw, f"{what} reached the terminal: {raw[max(raw.find(bad) - 40, 0):raw.find(bad) + 40]!r}"
    text = raw.decode("utf-8", "surrogateescape")
    assert "\x9b" not in text and "\udc9b" not in text, "a C1 CSI (0x9b) reached the terminal"
    osc = set(re.findall(r"\x1b\](\d*)", text))
    # Textual's own: 10/11 colour queries, 22 the mouse pointer shape; nothing else is expected
    assert osc <= {"10", "11", "22"}, f"unexpected OSC sequences from the TUI: {osc}"
