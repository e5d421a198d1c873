"""Credentials: password_command, the real keyrings.alt PlaintextKeyring, and no keyring at all."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.core
import pytest

from tuimail.model.config import Account, ServerConfig, Protocol, Security
from tuimail.model.secret import Secret
from tuimail.store.credentials import (CredentialError, KeyringUnavailable, delete_password,
                                       keyring_available, lookup_password, run_password_command,
                                       set_password)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-Pässword with spaces"


def account(name: str = "work", password_command: str | None = None) -> Account:
    return Account(name=name, email="alice@example.test", username="alice",
                   password_command=password_command,
                   imap=ServerConfig(Protocol.IMAP, "127.0.0.1", 993, Security.TLS))


def use_backend(monkeypatch, tmp_path: Path, backend: str) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    keyring.core.init_backend()  # keyring reads the variable when a backend is chosen
    return data


@pytest.fixture
def restore_keyring():
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def plaintext_keyring(monkeypatch, tmp_path, restore_keyring) -> Path:
    return use_backend(monkeypatch, tmp_path, "keyrings.alt.file.PlaintextKeyring")


@pytest.fixture
def no_keyring(monkeypatch, tmp_path, restore_keyring) -> None:
    use_backend(monkeypatch, tmp_path, "keyring.backends.fail.Keyring")


# ---------------------------------------------------------------- password_command

def test_password_command_output_minus_one_newline():
    assert lookup_password(account(password_command="printf 'pw\\n'")) == Secret("pw")
    assert run_password_command(account(password_command="printf 'pw\\n\\n'")) == Secret("pw\n")
    assert run_password_command(account(password_command="printf 'pw\\r\\n'")) == Secret("pw")
    assert run_password_command(account(password_command="printf ' pw '")) == Secret(" pw ")


def test_password_command_runs_through_the_shell(tmp_path):
    vault = tmp_path / "vault"
    vault.write_text(SECRET + "\n")
    found = lookup_password(account(password_command=f"cat '{vault}' | head -n 1"))
    assert found.reveal() == SECRET


def test_password_command_failure_names_account_and_status_never_output():
    with pytest.raises(CredentialError) as caught:
        lookup_password(account(password_command=f"echo '{SECRET}'; echo oops >&2; exit 3"))
    message = str(caught.value)
    assert "'work'" in message and "exit status 3" in message
    assert SECRET not in message and "oops" not in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_password_command_not_found_is_exit_127():
    with pytest.raises(CredentialError, match="exit status 127"):
        lookup_password(account(password_command="/nonexistent/pass-helper show mail"))


def test_password_command_timeout():
    with pytest.raises(CredentialError, match="timed out after 0.5 s"):
        run_password_command(account(password_command="sleep 5"), timeout=0.5)


def test_password_command_empty_output_is_an_error():
    with pytest.raises(CredentialError, match="printed no password"):
        lookup_password(account(password_command="true"))


def test_password_command_beats_the_keyring(plaintext_keyring):
    set_password("work", Secret("from-keyring"))
    assert lookup_password(account(password_command="echo from-command")) == Secret("from-command")
    assert lookup_password(account()) == Secret("from-keyring")


# ---------------------------------------------------------------- keyring

def test_keyring_set_get_delete(plaintext_keyring):
    assert keyring_available()
    assert lookup_password(account()) is None
    set_password("work", Secret(SECRET))
    assert lookup_password(account()) == Secret(SECRET)
    assert lookup_password(account("other")) is None
    # the real backend wrote its file under XDG_DATA_HOME, under service "tuimail", user "work"
    stored = list(plaintext_keyring.rglob("*.cfg"))
    assert stored and "[tuimail]" in stored[0].read_text()
    assert keyring.get_password("tuimail", "work") == SECRET
    assert delete_password("work") is True
    assert lookup_password(account()) is None
    assert delete_password("work") is False


def test_no_keyring_backend(no_keyring):
    assert not keyring_available()
    assert lookup_password(account()) is None  # the TUI will ask
    with pytest.raises(KeyringUnavailable) as caught:
        set_password("work", Secret(SECRET))
    message = str(caught.value)
    assert "no keyring backend" in message and "password_command" in message
    assert SECRET not in message
    with pytest.raises(KeyringUnavailable):
        delete_password("work")


def test_password_command_works_without_a_keyring(no_keyring):
    assert lookup_password(account(password_command="echo pw")) == Secret("pw")


# ---------------------------------------------------------------- `tuimail password`

def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuimail", *args], input=stdin, text=True,
                          capture_output=True, env=env, cwd=ROOT, timeout=60)


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text('[accounts.work]\nemail = "alice@example.test"\nusername = "alice"\n'
                      '[accounts.work.imap]\nhost = "127.0.0.1"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON_KEYRING", "TUIMAIL"))}
    env.update(TUIMAIL_CONFIG=str(config), XDG_DATA_HOME=str(tmp_path / "data"),
               PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring")
    return env


def test_cli_password_set_and_delete(cli_env, plaintext_keyring):
    done = _cli(["password", "set", "work"], cli_env, stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert "stored the password for account 'work'" in done.stdout
    assert SECRET not in done.stdout + done.stderr
    assert lookup_password(account()) == Secret(SECRET)  # same backend and XDG_DATA_HOME
    done = _cli(["password", "delete", "work"], cli_env)
    assert done.returncode == 0 and "deleted" in done.stdout
    assert lookup_password(account()) is None


def test_cli_password_errors(cli_env):
    done = _cli(["password", "set", "nosuch"], cli_env, stdin="x\n")
    assert done.returncode == 2 and "no account named 'nosuch'" in done.stderr
    done = _cli(["password", "set", "work"], cli_env, stdin="")
    assert done.returncode == 1 and "empty password" in done.stderr
    cli_env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    done = _cli(["password", "set", "work"], cli_env, stdin=SECRET + "\n")
    assert done.returncode == 1
    assert "no keyring backend" in done.stderr and "password_command" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr + done.stdout
