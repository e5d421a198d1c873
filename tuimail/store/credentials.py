"""Where passwords come from: the account's password_command, then the keyring.

Neither the password nor the command's output ever appears in an error message or a log.
"""
from __future__ import annotations

import subprocess

from tuimail.model.config import Account
from tuimail.model.secret import Secret
from tuimail.model.text import one_line

KEYRING_SERVICE = "tuimail"
PASSWORD_COMMAND_TIMEOUT = 60.0  # long enough for a gpg pinentry


def _keyring():
    """The keyring package, loaded on first use: most starts use a password_command."""
    import keyring
    import keyring.backends.chainer
    import keyring.backends.fail
    import keyring.errors

    return keyring


class CredentialError(Exception):
    """A password could not be read or stored; the message is one line and holds no secret."""


class KeyringUnavailable(CredentialError):
    """No usable keyring backend (typical on a headless server)."""


def lookup_password(account: Account, timeout: float = PASSWORD_COMMAND_TIMEOUT) -> Secret | None:
    """The account's password from password_command, else the keyring, else None (ask the user).

    CredentialError when password_command fails. A missing keyring backend is not an error
    here: the caller falls back to asking, and set_password() explains the problem.
    """
    if account.password_command:
        return run_password_command(account, timeout)
    keyring = _keyring()
    if not keyring_available():
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, account.name)
    except keyring.errors.KeyringError as exc:
        raise CredentialError(f"account '{account.name}': keyring lookup failed: "
                              f"{type(exc).__name__}: {one_line(str(exc))}") from None
    return Secret(value) if value else None


def run_password_command(account: Account, timeout: float = PASSWORD_COMMAND_TIMEOUT) -> Secret:
    """Run password_command through the shell; its stdout minus one trailing newline."""
    name = account.name
    try:
        result = subprocess.run(account.password_command, shell=True, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CredentialError(f"account '{name}': password_command timed out after {timeout:g} s") from None
    except OSError as exc:
        raise CredentialError(f"account '{name}': password_command could not run: {exc.strerror}") from None
    if result.returncode != 0:
        status = (f"killed by signal {-result.returncode}" if result.returncode < 0
                  else f"exit status {result.returncode}")
        raise CredentialError(f"account '{name}': password_command failed ({status})")
    try:
        text = result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(f"account '{name}': password_command output is not UTF-8") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise CredentialError(f"account '{name}': password_command printed no password")
    return Secret(text)


def keyring_available() -> bool:
    keyring = _keyring()
    backend = keyring.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return False
    if isinstance(backend, keyring.backends.chainer.ChainerBackend) and not backend.backends:
        return False
    return True


def check_keyring() -> None:
    """KeyringUnavailable, with what to do instead, when no keyring backend is usable."""
    if not keyring_available():
        raise KeyringUnavailable(
            "no keyring backend is available (common on a headless server), so tuimail cannot "
            "store passwords; set password_command in the account's config instead, "
            "e.g. password_command = \"pass show mail/work\"")


def set_password(account_name: str, password: Secret) -> None:
    keyring = _keyring()
    check_keyring()
    try:
        keyring.set_password(KEYRING_SERVICE, account_name, password.reveal())
    except keyring.errors.KeyringError as exc:
        message = one_line(str(exc)).replace(password.reveal(), "********") if password else one_line(str(exc))
        raise CredentialError(f"account '{account_name}': could not store the password in the "
                              f"keyring: {type(exc).__name__}: {message}") from None


def delete_password(account_name: str) -> bool:
    """Remove the stored password; False when there was none."""
    keyring = _keyring()
    check_keyring()
    try:
        keyring.delete_password(KEYRING_SERVICE, account_name)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as exc:
        raise CredentialError(f"account '{account_name}': could not delete the password from the "
                              f"keyring: {type(exc).__name__}: {one_line(str(exc))}") from None
    return True
