"""`--trace FILE` on the command line, run as a user would (a subprocess, every XDG directory in
tmp), against the real Dovecot and submission server: the file is 0600 and readable, it holds
every connection's commands, and never the password, its base64 or the SASL PLAIN blob, for
IMAP LOGIN and AUTHENTICATE PLAIN, POP3 AUTH PLAIN and USER/PASS, SMTP AUTH PLAIN and LOGIN."""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imap_support import message as rich_message
from tests.pop3_support import FakePop3, message
from tests.smtp_support import FakeSmtp, pki  # noqa: F401 (pki is a fixture)
from tuimail.cli import COMMANDS, build_parser
from tuimail.model.config import parse_config
from tuimail.model.secret import Secret
from tuimail.protocols.connect import close_imap, open_imap
from tuimail.protocols.pop3 import Pop3Session
from tuimail.protocols.trace import TraceBook
from tuimail.protocols.wire import ImapLimits, ImapWire

ROOT = Path(__file__).resolve().parents[1]
USER = "bob"
LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (imap|pop3|smtp)#\d+ \S+ \S+ (C|S): .*$|^\d\d:\d\d:\d\d\.\d{3} "
                  r"(imap|pop3|smtp)#\d+ \S+ \S+ -- new connection$|^# .*$")


def forbidden(user: str, password: str) -> list[bytes]:
    """Everything that would give the password away: itself, its base64, the SASL PLAIN
    blob with and without an authorization identity (each alone and inside a line)."""
    pw = password.encode()
    blobs = [b"\0" + user.encode() + b"\0" + pw, user.encode() + b"\0" + user.encode() + b"\0" + pw]
    return [pw, base64.b64encode(pw)] + [base64.b64encode(blob) for blob in blobs]


def assert_no_secret(path: Path, user: str, password: str) -> str:
    data = path.read_bytes()
    for secret in forbidden(user, password):
        assert secret not in data, (secret, data.decode(errors="replace"))
    return data.decode()


def assert_readable(path: Path) -> list[str]:
    """Mode 0600, and every line a comment or `time connection direction: line`."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert lines and all(LINE.match(line) for line in lines), [x for x in lines if not LINE.match(x)]
    return lines


@pytest.fixture
def cli(testbed, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))

    def run(*args: str, code: int | None = 0, config: str | None = None, stdin: str = "",
            **overrides) -> subprocess.CompletedProcess:
        path = tmp_path / "config.toml"
        path.write_text(config or testbed.config_toml(USER, timeout=10, **overrides))
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(path), *args],
                              capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
                              input=stdin)
        if code is not None:
            assert done.returncode == code, done.stderr
        return done

    testbed.clear(USER)
    return run


# ---------------------------------------------------------------------- the option itself

def _parsers(parser: argparse.ArgumentParser, path: str = "tuimail"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_takes_trace_before_and_after_its_name():
    parser = build_parser()
    found = dict(_parsers(parser))
    assert {f"tuimail {name}" for name in ("list", "read", "send", "pop3", "pop3 sync", "outbox")} <= set(found)
    assert all(name in {p.split(" ")[1] for p in found if " " in p} for name in ("accounts", "doctor", "headers"))
    missing = [path for path, sub in found.items() if "--trace" not in sub._option_string_actions]
    assert missing == []
    before = parser.parse_args(["--trace", "a.log", "list", "--limit", "3"])
    after = parser.parse_args(["list", "--limit", "3", "--trace", "b.log"])
    both = parser.parse_args(["--trace", "a.log", "pop3", "sync", "--trace", "c.log"])
    assert (before.trace_file, after.trace_file, both.trace_file) == ("a.log", "b.log", "c.log")
    assert parser.parse_args(["list"]).trace_file is None
    assert len(COMMANDS) >= 14


# ---------------------------------------------------------------------- IMAP

def test_imap_login_before_and_after_the_command_name_with_literals_as_sizes(cli, testbed, tmp_path):
    testbed.deliver_files(USER, [rich_message("traced", attachments=[("a.bin", b"\x01" * 3000, "application/x")])])
    listed = cli("--trace", str(tmp_path / "list.log"), "list", "--json", "--stats")
    (summary,) = json.loads(listed.stdout)["messages"]
    text = assert_no_secret(tmp_path / "list.log", USER, testbed.users[USER])
    lines = assert_readable(tmp_path / "list.log")
    assert re.search(r"imap#1 bob list C: \S+ LOGIN bob \*\*\*$", text, re.M)
    assert re.search(r"imap#1 bob list S: \S+ OK .*Logged in", text)
    assert re.search(r"imap#1 bob list C: \S+ FETCH 1:1 \(UID FLAGS ENVELOPE", text)
    assert "imap: " in listed.stderr  # --stats still counts
    assert lines[0].startswith("# tuimail protocol trace")

    cli("read", str(summary["uid"]), "--raw", "--trace", str(tmp_path / "read.log"))
    text = assert_no_secret(tmp_path / "read.log", USER, testbed.users[USER])
    assert_readable(tmp_path / "read.log")
    assert re.search(r"C: \S+ UID FETCH \d+ \(BODY\.PEEK\[\]\)", text)
    # the whole message came as one literal: shown as its size, not its 4 KB of bytes
    assert f"S: {{{summary['size']} bytes}} " in text
    assert "\x01" * 200 not in text and len(text) < summary["size"] + 3000


def test_a_failing_login_still_writes_its_trace(cli, testbed, tmp_path):
    wrong = "wrong-pw-4711"
    config = testbed.config_toml(USER, timeout=10, password_command=f"echo {wrong}")
    done = cli("list", "--trace", str(tmp_path / "fail.log"), code=1, config=config)
    assert "login" in done.stderr.lower() or "auth" in done.stderr.lower()
    text = assert_no_secret(tmp_path / "fail.log", USER, wrong)
    assert_readable(tmp_path / "fail.log")
    assert re.search(r"C: \S+ LOGIN bob \*\*\*$", text, re.M)
    assert re.search(r"S: \S+ NO \[AUTHENTICATIONFAILED\]", text)


def test_imap_authenticate_plain_on_the_real_server_is_redacted(testbed, tmp_path):
    """The client logs in with LOGIN; AUTHENTICATE PLAIN (with and without an authorization
    identity) is driven here on the same wire, against the real Dovecot, into a book's file."""
    account = parse_config(testbed.config_toml(USER, timeout=10)).account(USER)
    password = testbed.users[USER]
    book = TraceBook()
    book.write_to(tmp_path / "auth.log")
    for authzid in (None, USER):
        trace = book.open("imap", USER, "authenticate")
        trace.add_secret(Secret(password))  # as ImapSession.connect does
        client = open_imap(account, account.imap)
        try:
            ImapWire(getattr(client, "_imap"), 10, trace, ImapLimits.of(account.limits)).install()
            client.plain_login(USER, password, authorization_identity=authzid)
            assert client.noop()
        finally:
            close_imap(client)
    book.close()
    text = assert_no_secret(tmp_path / "auth.log", USER, password)
    assert_readable(tmp_path / "auth.log")
    assert len(re.findall(r"C: \S+ AUTHENTICATE PLAIN$", text, re.M)) == 2
    assert len(re.findall(r"C: \*\*\*$", text, re.M)) == 2  # the continuation line with the blob
    assert len(re.findall(r"S: \S+ OK .*Logged in", text)) == 2
    assert re.search(r"C: \S+ NOOP$", text, re.M)  # back to plain recording after the exchange


# ---------------------------------------------------------------------- POP3

def test_pop3_auth_plain_from_the_cli(cli, testbed, tmp_path):
    testbed.deliver_files(USER, [message(1), message(2)])
    cli("list", "--trace", str(tmp_path / "pop.log"), protocol="pop3")
    text = assert_no_secret(tmp_path / "pop.log", USER, testbed.users[USER])
    assert_readable(tmp_path / "pop.log")
    assert re.search(r"pop3#1 bob list C: AUTH PLAIN \*\*\*$", text, re.M)
    assert re.search(r"pop3#1 bob list C: STAT$", text, re.M)
    assert re.search(r"pop3#1 bob list S: \{\d+ bytes\} ", text)  # TOP's header block, as a size


def test_pop3_user_pass_on_the_real_server_is_redacted(testbed, tmp_path):
    """Dovecot offers SASL PLAIN and USER; with SASL hidden the session logs in with USER/PASS."""
    account = parse_config(testbed.config_toml(USER, protocol="pop3", timeout=10)).account(USER)
    password = testbed.users[USER]
    book = TraceBook()
    book.write_to(tmp_path / "user.log")
    with Pop3Session.connect(account, Secret(password), trace=book.open("pop3", USER, "user-pass"),
                             disable={"SASL"}) as session:
        assert session.stat()[0] >= 0
    book.close()
    text = assert_no_secret(tmp_path / "user.log", USER, password)
    assert re.search(r"C: USER bob$", text, re.M) and re.search(r"C: PASS \*\*\*$", text, re.M)
    assert re.search(r"S: \+OK Logged in", text) and not re.search(r"C: AUTH", text)


def test_pop3_user_pass_from_the_cli_against_a_scripted_server(cli, tmp_path):
    password = "fake-pop-pw-99"
    server = FakePop3([(b"U1", message(1))])  # offers USER, no SASL
    config = f"""
[accounts.fake]
email = "bob@example.test"
username = "bob"
protocol = "pop3"
timeout = 5
password_command = "echo {password}"

[accounts.fake.pop3]
host = "127.0.0.1"
port = {server.port}
security = "plain"
allow_plaintext_auth = true
"""
    cli("--trace", str(tmp_path / "fake.log"), "list", config=config)
    server.wait()
    assert b"PASS " + password.encode() in server.log  # it did go over the wire
    text = assert_no_secret(tmp_path / "fake.log", "bob", password)
    assert_readable(tmp_path / "fake.log")
    assert re.search(r"pop3#1 fake list C: USER bob$", text, re.M)
    assert re.search(r"pop3#1 fake list C: PASS \*\*\*$", text, re.M)


# ---------------------------------------------------------------------- SMTP

def test_smtp_auth_plain_and_the_sent_copy_from_the_cli(cli, testbed, tmp_path):
    testbed.clear_submissions()
    body = "Hello Alice, this is the traced body.\n" * 40
    cli("send", "--to", testbed.address("alice"), "--subject", "traced send", "--stats",
        "--trace", str(tmp_path / "send.log"), stdin=body)
    (submitted,) = testbed.submissions()
    text = assert_no_secret(tmp_path / "send.log", USER, testbed.users[USER])
    assert_readable(tmp_path / "send.log")
    assert re.search(r"smtp#1 bob send C: AUTH PLAIN \*\*\*$", text, re.M)
    assert re.search(r"smtp#1 bob send S: 235 ", text, re.M)
    assert re.search(r"smtp#1 bob send C: RCPT TO:<alice@", text, re.M)
    assert re.search(r"smtp#1 bob send C: \{\d+ bytes\} ", text)  # the message after DATA
    assert "traced body.\\x0d\\x0aHello Alice, this is the traced body." not in text  # a preview only
    assert re.search(r"imap#2 bob file-sent C: \S+ LOGIN bob \*\*\*$", text, re.M)
    assert re.search(r"imap#2 bob file-sent C: \S+ APPEND ", text, re.M)
    assert submitted.user == USER


def test_smtp_auth_login_from_the_cli_against_a_scripted_server(cli, testbed, tmp_path, pki):  # noqa: F811
    password = testbed.users[USER]
    with FakeSmtp(starttls=pki["server"], caps_tls=(b"8BITMIME", b"AUTH LOGIN")) as server:
        config = testbed.config_toml(USER, protocol="pop3", timeout=10, imap=None, ca_file=str(pki["ca_pem"]),
                                     smtp={"host": "127.0.0.1", "port": server.port, "security": "starttls"})
        cli("send", "--to", "alice@example.test", "--subject", "login", "--trace", str(tmp_path / "login.log"),
            config=config, stdin="Hi.\n")
        assert len(server.delivered) == 1
        wire = server.client_bytes("auth") + server.client_bytes("tls")
    assert base64.b64encode(password.encode()) in wire  # what the trace must not show went over
    text = assert_no_secret(tmp_path / "login.log", USER, password)
    assert_readable(tmp_path / "login.log")
    assert re.search(r"smtp#1 bob send C: AUTH LOGIN( \*\*\*)?$", text, re.M)
    assert re.search(r"smtp#1 bob send S: 334 ", text, re.M)
    assert re.search(r"smtp#1 bob send C: \*\*\*$", text, re.M)
    assert re.search(r"smtp#1 bob send C: MAIL FROM:<bob@", text, re.M)


def test_a_trace_file_that_cannot_be_written_is_a_clean_error(cli, tmp_path):
    done = cli("accounts", "--trace", str(tmp_path / "no" / "such" / "dir" / "t.log"), code=2)
    assert "cannot write the trace" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------- the doctor

def _doctor_lines(text: str, protocol: str) -> list[str]:
    """The entries (not the "new connection" lines) of the doctor's connections of protocol."""
    return [line for line in text.splitlines()
            if re.match(rf"^\S+ {protocol}#\d+ bob doctor [CS]: ", line)]


@pytest.mark.parametrize("before", [False, True], ids=["after-the-name", "before-the-name"])
def test_the_doctor_traces_each_of_its_connections(cli, testbed, tmp_path, before):
    log = str(tmp_path / "doctor.log")
    args = ("--trace", log, "doctor") if before else ("doctor", "--trace", log)
    done = cli(*args)
    assert done.stdout.splitlines()[-1] == "all checks passed", done.stdout
    text = assert_no_secret(tmp_path / "doctor.log", USER, testbed.users[USER])
    assert_readable(tmp_path / "doctor.log")
    # one labelled connection each, numbered in the order the doctor checks them
    assert re.findall(r"^\S+ (\w+#\d+ bob doctor) -- new connection$", text, re.M) == [
        "imap#1 bob doctor", "pop3#2 bob doctor", "smtp#3 bob doctor"]

    imap = "\n".join(_doctor_lines(text, "imap"))
    assert re.search(r"imap#1 bob doctor S: \* OK \[CAPABILITY [^]]*AUTH=PLAIN", imap)  # the TLS greeting
    assert re.search(r"imap#1 bob doctor C: \S+ LOGIN bob \*\*\*$", imap, re.M)
    assert re.search(r"imap#1 bob doctor S: \S+ OK .*Logged in", imap)
    assert re.search(r"imap#1 bob doctor C: \S+ LOGOUT$", imap, re.M)

    pop3 = "\n".join(_doctor_lines(text, "pop3"))
    assert re.search(r"pop3#2 bob doctor S: \+OK ", pop3)  # the TLS greeting
    assert re.search(r"pop3#2 bob doctor C: CAPA$", pop3, re.M)
    # CAPA's listing as one entry, as the POP3 session records multi-line answers
    assert re.search(r"pop3#2 bob doctor S: \{\d+ bytes\} .*SASL PLAIN", pop3)
    assert re.search(r"pop3#2 bob doctor C: USER bob$", pop3, re.M)
    assert re.search(r"pop3#2 bob doctor C: PASS \*\*\*$", pop3, re.M)
    assert re.search(r"pop3#2 bob doctor S: \+OK Logged in", pop3)
    assert re.search(r"pop3#2 bob doctor C: QUIT$", pop3, re.M)

    smtp = "\n".join(_doctor_lines(text, "smtp"))
    assert re.search(r"smtp#3 bob doctor C: EHLO \S+$", smtp, re.M)  # after STARTTLS
    assert re.search(r"smtp#3 bob doctor S: 250[- ]AUTH .*PLAIN", smtp)
    assert re.search(r"smtp#3 bob doctor C: AUTH PLAIN \*\*\*$", smtp, re.M)
    assert re.search(r"smtp#3 bob doctor S: 235 ", smtp, re.M)
    assert re.search(r"smtp#3 bob doctor C: QUIT$", smtp, re.M)
    assert "STARTTLS" not in smtp  # said before TLS: not in the trace, as for the send session


def test_the_doctor_over_starttls_traces_the_capabilities_asked_after_tls(cli, testbed, tmp_path):
    """With STARTTLS the greeting came in plain text and is left out; the CAPABILITY and CAPA
    the doctor asks over TLS are in."""
    cli("doctor", "--no-login", "--trace", str(tmp_path / "starttls.log"),
        imap={"security": "starttls"}, pop3={"security": "starttls"})
    text = assert_no_secret(tmp_path / "starttls.log", USER, testbed.users[USER])
    assert_readable(tmp_path / "starttls.log")
    imap = _doctor_lines(text, "imap")
    assert re.search(r" C: \S+ CAPABILITY$", imap[0]), imap  # nothing before it: not the greeting
    assert any(re.search(r" S: \* CAPABILITY .*AUTH=PLAIN", line) for line in imap), imap
    assert not any("STARTTLS" in line for line in imap), imap
    pop3 = _doctor_lines(text, "pop3")
    assert pop3[0].endswith(" C: CAPA"), pop3
    assert any(re.search(r" S: \{\d+ bytes\} .*USER", line) for line in pop3), pop3
    assert not any(" C: USER" in line or " C: PASS" in line or " C: LOGIN" in line for line in text.splitlines())


def test_the_doctor_with_a_wrong_password_redacts_it_in_every_protocol(cli, testbed, tmp_path):
    wrong = "wrong-doctor-pw-4712"
    config = testbed.config_toml(USER, timeout=10, password_command=f"echo {wrong}")
    done = cli("doctor", "--trace", str(tmp_path / "wrong.log"), code=1, config=config)
    assert done.stdout.count("FAIL") >= 3, done.stdout
    text = assert_no_secret(tmp_path / "wrong.log", USER, wrong)
    assert re.search(r"imap#1 bob doctor S: \S+ NO \[AUTHENTICATIONFAILED\]", text)
    assert re.search(r"pop3#2 bob doctor C: PASS \*\*\*$", text, re.M)
    assert re.search(r"pop3#2 bob doctor S: -ERR ", text)
    assert re.search(r"smtp#3 bob doctor C: AUTH PLAIN \*\*\*$", text, re.M)
    assert re.search(r"smtp#3 bob doctor S: 535 ", text)
    # aiosmtplib then tries AUTH LOGIN: its base64 password line is redacted too
    assert re.search(r"smtp#3 bob doctor C: AUTH LOGIN( \*\*\*)?$", text, re.M)
    assert re.search(r"smtp#3 bob doctor C: \*\*\*$", text, re.M)
