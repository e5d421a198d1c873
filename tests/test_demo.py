"""The demo (issue 9, item 7): the showcase mail is well-formed and realistic, the welcome lists keys
the UI really binds, and a run of tests/testbed/demo.sh in tmux, as a new user starts it, shows the
showcase on the first screen, opens the route view of the forward, and sends a message to alice that
comes back into the index through SMTP, Dovecot and IDLE without a key being pressed. Quitting
stops the demo servers.

tmux is a system dependency (Makefile APT_PACKAGES); without it this test fails, never skips.
"""
from __future__ import annotations

import email
import email.policy
import importlib
import inspect
import json
import os
import pkgutil
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.testbed import demo_mail
from tests.tmux_support import TmuxPane
from tests.testbed.smtp import read_spool
from tuimail.model.authres import auth_report
from tuimail.model.forensics import forward_kind
from tuimail.model.route import route_of

ROOT = Path(__file__).resolve().parent.parent
COUNT = int(re.search(r"^DEMO_MESSAGES \?= (\d+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1))
WIDTH, HEIGHT = 160, 45
END = 1_750_000_000  # a fixed fill end for the offline checks


def _showcase() -> dict[str, bytes]:
    """Subject -> bytes; the thread's replies under "Re: ... #2" and so on, oldest first."""
    out: dict[str, bytes] = {}
    for message in demo_mail.showcase(END):
        key = message.subject
        while key in out:
            key += "+"
        out[key] = message.data
    return out


def _parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


# -- the showcase, offline ------------------------------------------------------------------------

def test_the_showcase_is_deterministic_well_formed_and_dated_after_the_fill() -> None:
    first, again = demo_mail.showcase(END), demo_mail.showcase(END)
    assert [m.data for m in first] == [m.data for m in again], "same end time, different bytes"
    assert [m.subject for m in reversed(first)] == list(demo_mail.SHOWCASE_SUBJECTS)
    dates = [m.date.timestamp() for m in first]
    assert dates == sorted(dates) and END < dates[0] and dates[-1] < END + demo_mail.SPAN
    ids = set()
    for message in first:
        parsed = _parse(message.data)
        assert b"\r\n" not in message.data, "Maildir files have LF line ends"
        assert all(not part.defects for part in parsed.walk()), (message.subject, [p.defects for p in parsed.walk()])
        assert parsed["Date"].datetime.timestamp() == message.date.timestamp()
        ids.add(parsed["Message-ID"])
        route = route_of(message.data)
        assert route.hops and all(hop.parsed for hop in route.hops), message.subject
        assert not any("backwards" in odd for odd in route.oddities), (message.subject, route.oddities)
    assert len(ids) == len(first)


def test_the_forward_carries_an_original_with_a_long_authenticated_route() -> None:
    raw = _showcase()[demo_mail.FORWARD_SUBJECT]
    outer = _parse(raw)
    assert forward_kind(raw) == "attachment"
    (attached,) = [p for p in outer.walk() if p.get_content_type() == "message/rfc822"]
    original = attached.get_payload(0).as_bytes(policy=demo_mail.STORE)

    route = route_of(original)
    assert 6 <= len(route.hops) <= 8 and all(hop.parsed for hop in route.hops)
    assert [hop.tls is None for hop in route.hops].count(True) == 1, "exactly one plain hop"
    assert all(hop.from_ip and re.match(r"(192\.0\.2|198\.51\.100|203\.0\.113)\.", hop.from_ip)
               for hop in route.hops), [hop.from_ip for hop in route.hops]
    delays = [hop.delay.total_seconds() for hop in route.hops[1:]]
    assert all(0 < d < 60 for d in delays), delays
    report = auth_report(original, ["mx1.partner.example.com"])
    assert {c.method: c.result for c in report.checks} == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}
    assert report.dkim_signatures and report.dkim_signatures[0]["d"] == "shipping.example.net"
    assert report.alignment == {"dkim": "aligned", "spf": "aligned"}

    outer_route = route_of(raw)  # what the route view shows for the forward itself
    assert len(outer_route.hops) >= 5 and all(hop.parsed for hop in outer_route.hops)
    outer_report = auth_report(raw, [demo_mail.TRUSTED_AUTHSERV_ID])
    assert all(c.trusted and c.result == "pass" for c in outer_report.checks) and len(outer_report.checks) == 3


def test_the_newsletter_is_html_only_with_remote_content_nowhere_real() -> None:
    raw = _showcase()[demo_mail.NEWSLETTER_SUBJECT]
    parsed = _parse(raw)
    assert parsed.get_content_type() == "text/html" and not parsed.is_multipart()
    html = parsed.get_content()
    remote = re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)|url\(["']?(https?://[^"')]+)""", html)
    urls = [a or b for a, b in remote]
    images = [u for u in urls if re.search(r"\.(png|gif|jpg|css)\b", u)]
    assert len(images) >= 6, urls
    assert all(u.startswith("http://127.0.0.1:9/") or ".example.invalid/" in u for u in images), images
    assert "<img" in html and "url(" in html and "@import" in html


def test_the_thread_links_up_with_non_ascii_senders_as_encoded_words_and_attachments() -> None:
    mail = _showcase()
    posts = [mail[demo_mail.THREAD_SUBJECT]] + [mail["Re: " + demo_mail.THREAD_SUBJECT + "+" * i] for i in range(3)]
    parsed = [_parse(p) for p in posts]
    for i, message in enumerate(parsed[1:], 1):
        assert message["In-Reply-To"] == parsed[i - 1]["Message-ID"]
        assert message["References"].split() == [m["Message-ID"] for m in parsed[:i]]
    senders = {str(m["From"].addresses[0].display_name) for m in parsed}
    assert senders == {"Zoë Ångström", "李雷", "Antonín Dvořák"}
    for raw in posts:
        head = raw.split(b"\n\n", 1)[0]
        assert head.isascii() and b"=?utf-8?" in head, "non-ASCII headers go out as RFC 2047 encoded-words"
    attachments = {p.get_filename(): p for p in parsed[1].iter_attachments()}
    assert attachments["offsite-agenda-draft.pdf"].get_content().startswith(b"%PDF-1.4")
    assert attachments["venue-map.png"].get_content().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_look_alike_fails_dmarc_and_soft_fails_spf() -> None:
    raw = _showcase()[demo_mail.PHISH_SUBJECT]
    report = auth_report(raw, [demo_mail.TRUSTED_AUTHSERV_ID])
    results = {c.method: c.result for c in report.checks}
    assert results["dmarc"] == "fail" and results["spf"] == "softfail", results
    assert all(c.trusted for c in report.checks)
    assert report.from_domain == "northwlndbank.example"


def _bindings() -> dict[str, set[str]]:
    """Binding id -> its keys, for every Binding declared under tuimail/ui."""
    import tuimail.ui
    from textual.dom import DOMNode

    found: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(tuimail.ui.__path__, "tuimail.ui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__ == module.__name__:
                for binding in cls.__dict__.get("BINDINGS", []):
                    found[binding.id] = {key.strip() for key in binding.key.split(",")}
    return found


def test_the_welcome_lists_the_keys_the_ui_binds() -> None:
    bindings = _bindings()
    assert len(bindings) > 90, "the walk found the screens and widgets"
    for shown, what, keys in demo_mail.KEYS:
        for binding_id, key in keys.items():
            assert binding_id in bindings, f"the welcome names {binding_id!r}, which no Binding has"
            assert key in bindings[binding_id], f"{shown} ({what}): {binding_id} is bound to {bindings[binding_id]}"
    text = _parse(_showcase()[demo_mail.WELCOME_SUBJECT]).get_content()
    assert demo_mail.key_table() in text
    assert "send a message to alice@example.test (yourself)" in text.replace("\n     ", " ")
    listed = {binding_id for _, _, keys in demo_mail.KEYS for binding_id in keys}
    needed = {"index.next", "index.previous", "index.open", "index.reply", "index.reply_all", "index.forward",
              "index.compose", "index.delete", "message.save", "message.headers", "index.search", "index.first",
              "index.last", "app.quit", "message.route", "app.palette"}
    assert needed <= listed, needed - listed


# -- the demo in tmux -----------------------------------------------------------------------------

def test_make_demo_is_demo_sh_with_a_few_thousand_messages() -> None:
    """The README's first command runs what the tmux test below runs."""
    assert re.search(r"\b3,000 demo messages\b", (ROOT / "README.md").read_text()) and COUNT == 3000
    done = subprocess.run(["make", "-n", "demo", "DEMO_DIR=/nonexistent/demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f'bash tests/testbed/demo.sh ".venv/bin/python" "/nonexistent/demo" "{COUNT}"' in done.stdout, done.stdout
    assert "--demo" in (ROOT / "tests" / "testbed" / "demo.sh").read_text()


class Pane(TmuxPane):
    """The demo's window: its size in the report, and where the cursor is."""

    def __init__(self) -> None:
        super().__init__("demo")

    def cursor_row(self) -> int:
        """The terminal cursor's row: Textual puts it in the focused text field."""
        return int(self("display-message", "-p", "-t", "demo", "#{cursor_y}").strip())

    def wait_for_field(self, label: str, timeout: float = 20) -> None:
        """Until the cursor is on the row labelled label (a key typed before would go to the old field)."""
        def there(screen: str) -> bool:
            rows = [i for i, line in enumerate(screen.splitlines()) if re.match(rf" {label}(\s|$)", line)]
            return bool(rows) and self.cursor_row() == rows[0]
        self.wait(f"the cursor in the {label} field", there, timeout)

    def report(self) -> str:
        return f"last pane capture ({WIDTH}x{HEIGHT}):\n{self.last}"


def _index_order(screen: str, subjects: tuple[str, ...]) -> list[int]:
    """The screen line of each subject in turn, each below the previous; -1 once one is missing."""
    lines, found, start = screen.splitlines(), [], 0
    for subject in subjects:
        at = next((i for i in range(start, len(lines)) if subject in lines[i]), -1)
        found.append(at)
        if at < 0:
            break
        start = at + 1
    return found


def _refuses(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return False
    except OSError:
        return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_demo_in_tmux_as_a_new_user_starts_it(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: it is a test dependency (Makefile APT_PACKAGES; apt-get install tmux)")
    demo_dir, home = tmp_path / "demo", tmp_path / "home"
    pane = Pane()
    pid_file = demo_dir / "servers.pid"
    try:
        pane("new-session", "-d", "-s", "demo", "-x", str(WIDTH), "-y", str(HEIGHT), "bash", "--norc", "--noprofile")
        # A new user: nothing in the config, data or cache dirs; the command typed at a prompt.
        env = {"XDG_CONFIG_HOME": home / "config", "XDG_DATA_HOME": home / "data",
               "XDG_CACHE_HOME": home / "cache", "XDG_STATE_HOME": home / "state"}
        command = (f"cd {shlex.quote(str(ROOT))} && env "
                   + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items())
                   + f" bash tests/testbed/demo.sh {shlex.quote(sys.executable)} {shlex.quote(str(demo_dir))} {COUNT}"
                   + "; echo demo-exit=$?")
        pane.keys(command, literal=True)
        pane.keys("Enter")
        _run_demo(pane, demo_dir)
    finally:
        pane("kill-server", check=False)  # demo.sh's trap stops the servers on the hang-up too
        _stop_leftover_servers(pid_file)


def _run_demo(pane: Pane, demo_dir: Path) -> None:
    # 1. The first screen: the showcase, newest first, on top of the fill.
    screen = pane.wait_for(demo_mail.WELCOME_SUBJECT)
    screen = pane.wait("every showcase subject on the first screen, in order",
                       lambda s: min(_index_order(s, demo_mail.SHOWCASE_SUBJECTS)) >= 0, timeout=20)
    rows = _index_order(screen, demo_mail.SHOWCASE_SUBJECTS)
    assert rows == list(range(rows[0], rows[0] + len(rows))), f"the showcase is not on consecutive rows {rows}\n{screen}"
    assert f"{COUNT + len(demo_mail.SHOWCASE_SUBJECTS):,} messages" in screen, pane.report()
    for sender in ("tuimail demo", "Marta Kowalski", "Zoë Ångström", "李雷", "Antonín Dvořák"):
        assert sender in screen, f"{sender!r} is not shown decoded\n{pane.report()}"
    info = json.loads((demo_dir / "testbed.json").read_text())
    pid = int((demo_dir / "servers.pid").read_text())

    # 2. The forward, then its route view (H, message.route), then back out (Esc).
    pane.keys("j")
    pane.keys("Enter")
    pane.wait("the forward in the reader",
              lambda s: f"Subject  {demo_mail.FORWARD_SUBJECT}" in s and "message/rfc822" in s)
    pane.keys("H")
    screen = pane.wait("the route view", lambda s: "Route: " in s and "Authentication" in s and "Forwarding" in s)
    hops = int(re.search(r"Route: (\d+) hops", screen).group(1))
    hop_rows = [line for line in screen.splitlines() if re.match(r"│ \d+\s{2,}\S", line)]
    assert hops >= 5 and len(hop_rows) == hops, f"{hops} hops, rows {hop_rows}\n{pane.report()}"
    for host in ("submit.partner.example.com", "out-1.partner.example.com", "mail.example.test"):
        assert host in screen, f"{host} is not in the route\n{pane.report()}"
    assert re.search(r"DMARC\s+pass\s+partner\.example\.com.*trusted", screen), pane.report()
    assert "forwarded original as an attachment" in screen, pane.report()
    pane.keys("Escape")
    pane.wait("the reader again", lambda s: f"Subject  {demo_mail.FORWARD_SUBJECT}" in s and "Route: " not in s)
    pane.keys("Escape")
    pane.wait("the index again", lambda s: demo_mail.WELCOME_SUBJECT in s and "Subject  " not in s)
    # IDLE has its own connection, started a second after the first screen: on a loaded machine
    # it can still be logging in when the keys above are done
    pane.wait("the status line to say IDLE before the round trip", lambda s: "IDLE" in s, timeout=20)

    # 3. Compose (m) to alice, send (ctrl+s, compose.send), then no more keys.
    subject = f"Round trip {uuid.uuid4().hex[:10]}"
    # Keys go to the widget focused when they arrive, so each field is typed in once the cursor is there.
    pane.keys("m")
    pane.wait_for("ctrl+s sends")
    pane.wait_for_field("To")
    pane.keys("alice@example.test", literal=True)
    pane.keys("Tab", "Tab", "Tab")  # To -> Cc -> Bcc -> Subject
    pane.wait_for_field("Subject")
    pane.keys(subject, literal=True)
    pane.wait_for(f"Subject  {subject}", timeout=20)
    pane.keys("Tab")  # -> the body
    pane.wait("the cursor in the body", lambda s: pane.cursor_row() > next(
        i for i, line in enumerate(s.splitlines()) if line.startswith(f" Subject  {subject}")), timeout=20)
    pane.keys("Hello me: SMTP to Dovecot, then IDLE.", literal=True)
    pane.wait("the filled-in message", lambda s: re.search(r"To\s+alice@example\.test", s) is not None
              and f"Subject  {subject}" in s and "Hello me: SMTP to Dovecot, then IDLE." in s, timeout=20)
    pane.keys("C-s")
    row = re.compile(r"│.*alice@example\.test\s+" + re.escape(subject))
    screen = pane.wait(f"the sent message {subject!r} arriving in the index without a keypress",
                       lambda s: row.search(s) is not None and "ctrl+s sends" not in s)
    assert f"{COUNT + len(demo_mail.SHOWCASE_SUBJECTS) + 1:,} messages" in screen, pane.report()
    (sent,) = [s for s in read_spool(Path(info["submissions"])) if subject.encode() in s.data]
    assert sent.delivered == ("alice@example.test",) and sent.user == "alice", sent

    # 4. Quit (q): the TUI exits, demo.sh's trap stops the servers.
    pane.keys("q")
    exited = re.compile(r"^demo-exit=(\d+)\s*$", re.MULTILINE)  # the echo's output, not the typed command
    screen = pane.wait("demo.sh to exit", lambda s: exited.search(s) is not None, timeout=60)
    assert exited.search(screen).group(1) == "0", pane.report()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), f"the demo servers (pid {pid}) are still running after the TUI quit"
    for name in ("imaps_port", "imap_port", "submission_port", "pop3s_port"):
        assert _refuses(info["host"], info[name]), f"{name} {info[name]} still accepts connections after quitting"
    assert not (demo_dir / "testbed.json").exists()
    assert "testbed stopped" in (demo_dir / "servers.log").read_text()


def _stop_leftover_servers(pid_file: Path) -> None:
    """After a failure: the serve process this test started, if it outlived the tmux server."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
