"""Config parsing: the documented shape works, and every bad config gets one clear line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuimail.model.config import (ConfigError, ForwardMode, Protocol, Security, dump_config, parse_config)
from tuimail.store.config_file import config_path, load_config, save_config

GOOD = """
[accounts.work]
email = "alice@example.test"
username = "alice"
password_command = "pass show mail/work"
protocol = "imap"
ca_file = "/path/to/ca.pem"
[accounts.work.imap]
host = "imap.example.test"
port = 993
security = "tls"
[accounts.work.pop3]
host = "pop.example.test"
port = 995
security = "tls"
[accounts.work.smtp]
host = "smtp.example.test"
port = 587
security = "starttls"

[accounts.home]
email = "me@home.test"
protocol = "pop3"
[accounts.home.pop3]
host = "pop.home.test"
security = "starttls"
[accounts.home.smtp]
host = "smtp.home.test"
security = "tls"
"""


def test_the_documented_shape_parses():
    config = parse_config(GOOD, "c.toml")
    work = config.account("work")
    assert work.username == "alice" and work.password_command == "pass show mail/work"
    assert work.imap.port == 993 and work.imap.security is Security.TLS
    assert work.smtp.security is Security.STARTTLS and work.smtp.port == 587
    assert config.account().name == "work"  # the first account is the default


def test_defaults_follow_security():
    home = parse_config(GOOD, "c.toml").account("home")
    assert home.protocol is Protocol.POP3
    assert home.username == "me@home.test"
    assert (home.pop3.port, home.smtp.port) == (110, 465)
    assert home.imap is None


def test_dump_round_trips():
    config = parse_config(GOOD, "c.toml")
    assert parse_config(dump_config(config), "c.toml") == config


BAD = [
    # (what, text, words that must be in the one-line message)
    ("unknown key", GOOD.replace('username = "alice"', 'usrname = "alice"'),
     ["account 'work'", "key 'usrname'", "unknown key"]),
    ("wrong type", GOOD.replace("port = 993", 'port = "993"'),
     ["account 'work'", "key 'imap.port'", "expected an integer"]),
    ("missing host", GOOD.replace('host = "imap.example.test"', ""),
     ["account 'work'", "key 'imap.host'", "missing"]),
    ("unknown security", GOOD.replace('security = "tls"', 'security = "ssl"', 1),
     ["account 'work'", "key 'imap.security'", "'ssl'", "tls, starttls, plain"]),
    ("port out of range", GOOD.replace("port = 587", "port = 70000"),
     ["key 'smtp.port'", "70000"]),
    ("not TOML", GOOD + "\n[accounts.work\n", ["not valid TOML"]),
    ("bool as number", GOOD.replace("port = 995", "port = true"),
     ["key 'pop3.port'", "expected an integer"]),
    ("reading protocol without server", GOOD.replace('protocol = "pop3"', 'protocol = "imap"'),
     ["account 'home'", "key 'imap'"]),
    ("unknown protocol", GOOD.replace('protocol = "imap"', 'protocol = "jmap"'),
     ["key 'protocol'", "'jmap'"]),
    ("plaintext auth without plain", GOOD.replace('security = "starttls"\n\n', 'security = "starttls"\nallow_plaintext_auth = true\n\n', 1),
     ["key 'smtp.allow_plaintext_auth'"]),
    ("bad email", GOOD.replace('email = "me@home.test"', 'email = "me at home"'),
     ["account 'home'", "key 'email'"]),
    ("unknown top-level table", GOOD + "\n[acounts.x]\nemail='a@b'\n", ["key 'acounts'"]),
    ("bad default account", 'default_account = "nope"\n' + GOOD, ["key 'default_account'", "'nope'"]),
]


@pytest.mark.parametrize("what,text,words", BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_clear_line(what, text, words):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/home/u/.config/tuimail/config.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("/home/u/.config/tuimail/config.toml: ")
    for word in words:
        assert word in message, message


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "tuimail", *args], capture_output=True, text=True,
                          timeout=60, env=full_env, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("what,text,words", BAD[:6], ids=[b[0] for b in BAD[:6]])
def test_cli_reports_bad_config_without_traceback(tmp_path, what, text, words):
    path = tmp_path / "config.toml"
    path.write_text(text)
    result = _cli("--config", str(path), "accounts")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and words[-1] in lines[0], result.stderr


def test_cli_lists_accounts_from_env_config(tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text(GOOD)
    result = _cli("accounts", env={"TUIMAIL_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert "work" in result.stdout and "home" in result.stdout and "pop3" in result.stdout


def test_config_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TUIMAIL_CONFIG", raising=False)
    assert config_path() == tmp_path / "xdg" / "tuimail" / "config.toml"
    monkeypatch.setenv("TUIMAIL_CONFIG", str(tmp_path / "env.toml"))
    assert config_path() == tmp_path / "env.toml"
    assert config_path(tmp_path / "flag.toml") == tmp_path / "flag.toml"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_save_is_private_and_readable(tmp_path):
    config = parse_config(GOOD, "c.toml")
    path = tmp_path / "sub" / "config.toml"
    save_config(config, path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_config(path).accounts == config.accounts
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_open_command_parses_round_trips_and_defaults_to_none():
    assert parse_config(GOOD, "c.toml").ui.open_command is None
    text = '[ui]\nopen_command = "sh -c \'cp \\"$0\\" /tmp/x\'"\n' + GOOD
    config = parse_config(text, "c.toml")
    assert config.ui.open_command == "sh -c 'cp \"$0\" /tmp/x'"
    assert parse_config(dump_config(config), "c.toml") == config
    only = parse_config('[ui]\nopen_command = "evince"\n', "c.toml")
    assert "open_command" in dump_config(only) and parse_config(dump_config(only), "c.toml") == only


@pytest.mark.parametrize("value, why", [
    ('"sh -c \'unterminated"', "cannot split"),
    ('"   "', "must name a program"),
    ('"evince\\u0007"', "control characters"),
    ("42", "expected a string"),
])
def test_bad_open_command_is_one_line_naming_the_key(value: str, why: str):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[ui]\nopen_command = {value}\n", "c.toml")
    assert "ui.open_command" in str(caught.value) and why in str(caught.value)


def test_forward_mode_parses_defaults_to_inline_and_round_trips():
    assert parse_config(GOOD, "c.toml").ui.forward is ForwardMode.INLINE
    config = parse_config('[ui]\nforward = "Attachment"\n' + GOOD, "c.toml")
    assert config.ui.forward is ForwardMode.ATTACHMENT
    assert 'forward = "attachment"' in dump_config(config)
    assert parse_config(dump_config(config), "c.toml") == config


@pytest.mark.parametrize("value, why", [('"bounce"', "expected one of: inline, attachment"),
                                        ("true", "expected a string")])
def test_bad_forward_mode_is_one_line_naming_the_key(value: str, why: str):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[ui]\nforward = {value}\n", "c.toml")
    assert "ui.forward" in str(caught.value) and why in str(caught.value)


POP3_POLICY = """
[accounts.pop]
email = "me@home.test"
protocol = "pop3"
keep_on_server = true
delete_after_days = 14
delete_on_server_when_deleted_locally = true
max_download_size = 5000000
[accounts.pop.pop3]
host = "pop.home.test"

[accounts.both]
email = "me@work.test"
fallback = "pop3"
[accounts.both.imap]
host = "imap.work.test"
[accounts.both.pop3]
host = "pop.work.test"
"""


def test_pop3_policy_keys_parse_default_and_round_trip():
    config = parse_config(POP3_POLICY, "c.toml")
    pop = config.account("pop")
    assert (pop.keep_on_server, pop.delete_after_days, pop.delete_on_server_when_deleted_locally,
            pop.max_download_size) == (True, 14, True, 5_000_000)
    both = config.account("both")
    assert both.fallback is Protocol.POP3 and both.keep_on_server and both.delete_after_days is None
    assert not both.delete_on_server_when_deleted_locally and both.max_download_size is None
    assert parse_config(dump_config(config), "c.toml") == config
    home = parse_config(GOOD, "c.toml").account("home")
    assert home.keep_on_server and home.fallback is None
    assert "keep_on_server" not in dump_config(parse_config(GOOD, "c.toml"))  # defaults stay implicit
    off = parse_config(POP3_POLICY.replace("keep_on_server = true\ndelete_after_days = 14\n",
                                           "keep_on_server = false\n"), "c.toml")
    assert off.account("pop").keep_on_server is False
    assert parse_config(dump_config(off), "c.toml") == off


@pytest.mark.parametrize("old, new, words", [
    ("delete_after_days = 14", "delete_after_days = 0", ["key 'delete_after_days'", "1 or more"]),
    ("delete_after_days = 14", 'delete_after_days = "14"', ["key 'delete_after_days'", "expected an integer"]),
    ("keep_on_server = true", "keep_on_server = false", ["key 'delete_after_days'", "keep_on_server = true"]),
    ("keep_on_server = true", 'keep_on_server = "yes"', ["key 'keep_on_server'", "true or false"]),
    ("max_download_size = 5000000", "max_download_size = -1", ["key 'max_download_size'", "1 or more"]),
    ("delete_on_server_when_deleted_locally = true", "delete_on_server_when_deleted_locally = 1",
     ["key 'delete_on_server_when_deleted_locally'", "true or false"]),
    ('fallback = "pop3"', 'fallback = "imap"', ["account 'both'", "key 'fallback'", "expected: pop3"]),
    ('[accounts.both.pop3]\nhost = "pop.work.test"\n', "", ["account 'both'", "key 'fallback'", "pop3] table"]),
    ('protocol = "pop3"\n', 'protocol = "pop3"\nfallback = "pop3"\n', ["account 'pop'", "key 'fallback'",
                                                                     "reads with IMAP"]),
])
def test_bad_pop3_policy_is_one_line_naming_the_key(old, new, words):
    assert old in POP3_POLICY
    with pytest.raises(ConfigError) as caught:
        parse_config(POP3_POLICY.replace(old, new, 1), "c.toml")
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_trusted_authserv_ids_parse_default_to_empty_and_round_trip():
    assert parse_config(GOOD, "c.toml").account("work").trusted_authserv_ids == ()
    text = GOOD.replace('ca_file = "/path/to/ca.pem"\n',
                        'ca_file = "/path/to/ca.pem"\ntrusted_authserv_ids = ["mx.example.test", "mx2.example.test"]\n')
    config = parse_config(text, "c.toml")
    assert config.account("work").trusted_authserv_ids == ("mx.example.test", "mx2.example.test")
    assert 'trusted_authserv_ids = ["mx.example.test", "mx2.example.test"]' in dump_config(config)
    assert parse_config(dump_config(config), "c.toml") == config
    assert "trusted_authserv_ids" not in dump_config(parse_config(GOOD, "c.toml"))


@pytest.mark.parametrize("value, why", [('"mx.example.test"', "expected a list"),
                                        ('["mx.example.test", 3]', "expected a list of host names"),
                                        ('[""]', "expected a list of host names"),
                                        ('["mx example"]', "not an authserv-id")])
def test_bad_trusted_authserv_ids_is_one_line_naming_the_key(value: str, why: str):
    text = GOOD.replace('ca_file = "/path/to/ca.pem"\n', f'ca_file = "/path/to/ca.pem"\ntrusted_authserv_ids = {value}\n')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.toml")
    assert "trusted_authserv_ids" in str(caught.value) and why in str(caught.value)


# -- [keymap] ---------------------------------------------------------------------------------

def test_keymap_parses_dotted_or_quoted_ids_and_dumps_back():
    config = parse_config('[keymap]\nindex.next = "n , down"\n"app.help" = "f2"\n', "c.toml")
    assert config.keymap == {"index.next": "n,down", "app.help": "f2"}
    text = dump_config(config)
    assert '[keymap]\napp.help = "f2"\nindex.next = "n,down"\n' in text
    assert parse_config(text, "c.toml").keymap == config.keymap
    assert "[keymap]" not in dump_config(parse_config("", "c.toml"))  # nothing remapped, nothing written


@pytest.mark.parametrize("text, complaint", [
    ('[keymap]\nindex.nxt = "n"\n', "key 'keymap.index.nxt': unknown binding id (did you mean 'index.next'?"),
    ('[keymap]\nindex.next = 3\n', "key 'keymap.index.next': expected keys as a string"),
    ('[keymap]\nindex.next = "ctrl p"\n', "not a key name: 'ctrl p'"),
    ('[keymap]\nindex.next = "n,"\n', "empty key name"),
])
def test_a_bad_keymap_entry_is_one_line_naming_it(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.toml")
    message = str(caught.value)
    assert message.startswith("c.toml: ") and complaint in message and "\n" not in message
