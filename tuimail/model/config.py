"""The configuration model: typed accounts parsed and validated from TOML text.

Pure: no file or network I/O. Reading and writing the file is store/config_file.py.
"""
from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from tuimail.model.keymap import KeymapError, dump_keymap, parse_keymap
from tuimail.model.limits import DEFAULT_LIMITS, LIMIT_KEYS, Limits, limit_problem


class Security(str, Enum):
    TLS = "tls"  # implicit TLS from the first byte
    STARTTLS = "starttls"  # upgrade; missing or refused STARTTLS is fatal
    PLAIN = "plain"  # only when asked for explicitly


class Protocol(str, Enum):
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"


DEFAULT_PORTS: dict[Protocol, dict[Security, int]] = {
    Protocol.IMAP: {Security.TLS: 993, Security.STARTTLS: 143, Security.PLAIN: 143},
    Protocol.POP3: {Security.TLS: 995, Security.STARTTLS: 110, Security.PLAIN: 110},
    Protocol.SMTP: {Security.TLS: 465, Security.STARTTLS: 587, Security.PLAIN: 25},
}
DEFAULT_SECURITY = {
    Protocol.IMAP: Security.TLS,
    Protocol.POP3: Security.TLS,
    Protocol.SMTP: Security.STARTTLS,
}
DEFAULT_TIMEOUT = 30.0


class ForwardMode(str, Enum):
    INLINE = "inline"  # a new message quoting the original's text
    ATTACHMENT = "attachment"  # the original carried byte for byte as message/rfc822


class ConfigError(Exception):
    """A config problem, worded for one line: file, account, key, what is wrong."""

    def __init__(self, path: str, message: str, account: str | None = None, key: str | None = None):
        self.path, self.account, self.key, self.message = path, account, key, message
        where = [path]
        if account is not None:
            where.append(f"account '{account}'")
        if key is not None:
            where.append(f"key '{key}'")
        super().__init__(": ".join(where) + ": " + message)


@dataclass(frozen=True)
class ServerConfig:
    protocol: Protocol
    host: str
    port: int
    security: Security
    allow_plaintext_auth: bool = False
    cert_fingerprint: str | None = None  # SHA-256 pin, hex; the only way past a bad certificate


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    username: str
    protocol: Protocol = Protocol.IMAP  # which one the TUI reads with
    display_name: str = ""
    password_command: str | None = None
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    imap: ServerConfig | None = None
    pop3: ServerConfig | None = None
    smtp: ServerConfig | None = None
    # POP3 (see README): what stays on the server, and how much is downloaded unasked.
    keep_on_server: bool = True  # False: DELE once the local copy is durable
    delete_after_days: int | None = None  # with keep_on_server: DELE N days after storing
    delete_on_server_when_deleted_locally: bool = False
    max_download_size: int | None = None  # bytes; bigger messages: headers only until asked
    fallback: Protocol | None = None  # an IMAP account read over POP3 when IMAP is unreachable
    # Authentication-Results from these authserv-ids (the user's own servers) are believed;
    # the rest are shown as untrusted claims.
    trusted_authserv_ids: tuple[str, ...] = ()
    limits: Limits = DEFAULT_LIMITS  # the global [limits] with this account's own on top
    own_limits: tuple[str, ...] = ()  # the keys of [accounts.NAME.limits], kept when saving

    def server(self, protocol: Protocol) -> ServerConfig | None:
        return {Protocol.IMAP: self.imap, Protocol.POP3: self.pop3, Protocol.SMTP: self.smtp}[protocol]

    def servers(self) -> list[ServerConfig]:
        return [s for s in (self.imap, self.pop3, self.smtp) if s is not None]


@dataclass(frozen=True)
class UiConfig:
    theme: str = "tuimail-dark"
    # "open with": the program and its arguments (shell-like quoting, run without a shell);
    # the attachment's path is added as the last argument. None: xdg-open (open on macOS).
    open_command: str | None = None
    forward: ForwardMode = ForwardMode.INLINE  # the forward chooser's default
    # True: after a folder's first screen, the rest of its headers go into the header cache in
    # the background (offline reading, fast scrolling). False: only what is shown is fetched.
    cache_all_headers: bool = False


@dataclass(frozen=True)
class Config:
    path: str
    accounts: dict[str, Account] = field(default_factory=dict)
    default_account: str | None = None
    ui: UiConfig = field(default_factory=UiConfig)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, for App.set_keymap
    limits: Limits = DEFAULT_LIMITS  # [limits]; each account carries its effective ones

    def account(self, name: str | None = None) -> Account:
        """The named account, or the default one; ConfigError when there is none."""
        if name is None:
            name = self.default_account or next(iter(self.accounts), None)
            if name is None:
                raise ConfigError(self.path, "no accounts are configured")
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(self.accounts) or "none"
            raise ConfigError(self.path, f"no account named '{name}' (configured: {known})") from None


ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SERVER_KEYS = {"host", "port", "security", "allow_plaintext_auth", "cert_fingerprint"}
POP3_POLICY_KEYS = ("keep_on_server", "delete_after_days", "delete_on_server_when_deleted_locally",
                    "max_download_size")
_ACCOUNT_KEYS = {"email", "username", "protocol", "display_name", "password_command", "ca_file",
                 "timeout", "imap", "pop3", "smtp", "fallback", "trusted_authserv_ids", "limits",
                 *POP3_POLICY_KEYS}
_TOP_KEYS = {"accounts", "default_account", "ui", "keymap", "limits"}
_UI_KEYS = {"theme", "open_command", "forward", "cache_all_headers"}


class _Checker:
    """Type checks that raise ConfigError naming file, account and key."""

    def __init__(self, path: str, account: str | None = None):
        self.path, self.account = path, account

    def fail(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(self.path, message, self.account, key)

    def unknown(self, table: dict, allowed: set[str], prefix: str = "") -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(prefix + key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def get(self, table: dict, key: str, kind: type | tuple, prefix: str = "", default: Any = None,
            required: bool = False) -> Any:
        if key not in table:
            if required:
                raise self.fail(prefix + key, "missing (required)")
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; never accept it as a number
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(_type_name(k) for k in kinds)
            raise self.fail(prefix + key, f"expected {names}, got {_type_name(type(value))} {value!r}")
        if isinstance(value, str) and kinds == (str,) and required and not value.strip():
            raise self.fail(prefix + key, "must not be empty")
        return value

    def enum(self, table: dict, key: str, enum: type[Enum], prefix: str, default: Enum) -> Any:
        raw = self.get(table, key, str, prefix)
        if raw is None:
            return default
        try:
            return enum(raw.lower())
        except ValueError:
            allowed = ", ".join(m.value for m in enum)
            raise self.fail(prefix + key, f"unknown value {raw!r} (expected one of: {allowed})") from None


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "a table", list: "a list"}.get(kind, kind.__name__)


def _parse_server(check: _Checker, protocol: Protocol, table: Any) -> ServerConfig:
    prefix = protocol.value + "."
    if not isinstance(table, dict):
        raise check.fail(protocol.value, f"expected a table [accounts.{check.account}.{protocol.value}]")
    check.unknown(table, _SERVER_KEYS, prefix)
    host = check.get(table, "host", str, prefix, required=True).strip()
    if any(c.isspace() or ord(c) < 32 for c in host) or "/" in host:
        raise check.fail(prefix + "host", f"not a host name: {host!r}")
    security = check.enum(table, "security", Security, prefix, DEFAULT_SECURITY[protocol])
    port = check.get(table, "port", int, prefix, default=DEFAULT_PORTS[protocol][security])
    if not 0 < port < 65536:
        raise check.fail(prefix + "port", f"{port} is not a TCP port (1-65535)")
    plaintext_auth = check.get(table, "allow_plaintext_auth", bool, prefix, default=False)
    if plaintext_auth and security is not Security.PLAIN:
        raise check.fail(prefix + "allow_plaintext_auth", "only makes sense with security = \"plain\"")
    pin = check.get(table, "cert_fingerprint", str, prefix)
    if pin is not None:
        pin = pin.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", pin):
            raise check.fail(prefix + "cert_fingerprint", "expected a SHA-256 fingerprint (64 hex digits)")
    return ServerConfig(protocol, host, port, security, plaintext_auth, pin)


def _parse_limits(check: _Checker, table: Any, base: Limits, where: str) -> tuple[Limits, tuple[str, ...]]:
    """base with the keys of a [limits] table on top, and those keys."""
    if not isinstance(table, dict):
        raise check.fail("limits", f"expected a table [{where}]")
    check.unknown(table, set(LIMIT_KEYS), "limits.")
    for key, value in table.items():
        problem = limit_problem(key, value)
        if problem is not None:
            raise check.fail("limits." + key, problem)
    values = {k: float(v) if k.endswith("_seconds") else v for k, v in table.items()}
    return replace(base, **values), tuple(k for k in LIMIT_KEYS if k in table)


def _parse_account(path: str, name: str, table: Any, limits: Limits = DEFAULT_LIMITS) -> Account:
    check = _Checker(path, name)
    if not ACCOUNT_NAME.match(name):
        raise check.fail(None, "account names use letters, digits, '.', '_' and '-' (at most 64)")
    if not isinstance(table, dict):
        raise check.fail(None, f"expected a table [accounts.{name}]")
    check.unknown(table, _ACCOUNT_KEYS)
    email = check.get(table, "email", str, required=True).strip()
    if "@" not in email or any(c.isspace() for c in email):
        raise check.fail("email", f"not an email address: {email!r}")
    servers = {p: _parse_server(check, p, table[p.value]) for p in Protocol if p.value in table}
    protocol = check.enum(table, "protocol", Protocol, "", Protocol.IMAP)
    if protocol is Protocol.SMTP:
        raise check.fail("protocol", "reading protocol must be imap or pop3")
    if protocol not in servers:
        raise check.fail(protocol.value, f"protocol = \"{protocol.value}\" needs a "
                                         f"[accounts.{name}.{protocol.value}] table with a host")
    timeout = check.get(table, "timeout", (int, float), default=DEFAULT_TIMEOUT)
    if not 0 < timeout <= 600:
        raise check.fail("timeout", "must be between 0 and 600 seconds")
    pop3 = _pop3_policy(check, table, name, Protocol.POP3 in servers, protocol)
    limits, own_limits = _parse_limits(check, table.get("limits", {}), limits, f"accounts.{name}.limits")
    return Account(
        name=name,
        email=email,
        username=check.get(table, "username", str, default=email).strip() or email,
        protocol=protocol,
        display_name=check.get(table, "display_name", str, default=""),
        password_command=check.get(table, "password_command", str),
        ca_file=check.get(table, "ca_file", str),
        timeout=float(timeout),
        imap=servers.get(Protocol.IMAP),
        pop3=servers.get(Protocol.POP3),
        smtp=servers.get(Protocol.SMTP),
        trusted_authserv_ids=_authserv_ids(check, table),
        limits=limits,
        own_limits=own_limits,
        **pop3,
    )


def _authserv_ids(check: _Checker, table: dict) -> tuple[str, ...]:
    ids = check.get(table, "trusted_authserv_ids", list, default=[])
    found: list[str] = []
    for value in ids:
        if not isinstance(value, str) or not value.strip():
            raise check.fail("trusted_authserv_ids", f"expected a list of host names, got {value!r}")
        if any(c.isspace() or ord(c) < 32 or c in ";()\"\x7f" for c in value):
            raise check.fail("trusted_authserv_ids", f"not an authserv-id: {value!r}")
        if value not in found:
            found.append(value)
    return tuple(found)


def _pop3_policy(check: _Checker, table: dict, name: str, has_pop3: bool, protocol: Protocol) -> dict:
    """The POP3 keep/download keys and fallback, checked; {} when none is set."""
    found: dict[str, Any] = {}
    for key in POP3_POLICY_KEYS + ("fallback",):
        if key in table and not has_pop3:
            raise check.fail(key, f"needs a [accounts.{name}.pop3] table with a host")
    keep = check.get(table, "keep_on_server", bool)
    if keep is not None:
        found["keep_on_server"] = keep
    days = check.get(table, "delete_after_days", int)
    if days is not None:
        if not 1 <= days <= 36_500:
            raise check.fail("delete_after_days", f"{days} is not a number of days (1 or more)")
        if keep is False:
            raise check.fail("delete_after_days", "only applies with keep_on_server = true "
                                                  "(keep_on_server = false deletes right after download)")
        found["delete_after_days"] = days
    local = check.get(table, "delete_on_server_when_deleted_locally", bool)
    if local is not None:
        found["delete_on_server_when_deleted_locally"] = local
    size = check.get(table, "max_download_size", int)
    if size is not None:
        if size < 1:
            raise check.fail("max_download_size", f"{size} is not a size in bytes (1 or more)")
        found["max_download_size"] = size
    fallback = check.get(table, "fallback", str)
    if fallback is not None:
        if fallback.lower() != Protocol.POP3.value:
            raise check.fail("fallback", f"unknown value {fallback!r} (expected: pop3)")
        if protocol is not Protocol.IMAP:
            raise check.fail("fallback", "only an account that reads with IMAP can fall back to POP3")
        found["fallback"] = Protocol.POP3
    return found


def parse_config(text: str, path: str = "config.toml") -> Config:
    """Parse and validate config text; ConfigError on the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML: {exc}") from None
    check = _Checker(path)
    check.unknown(data, _TOP_KEYS)
    limits, _ = _parse_limits(check, data.get("limits", {}), DEFAULT_LIMITS, "limits")
    accounts_table = check.get(data, "accounts", dict, default={})
    accounts = {name: _parse_account(path, name, table, limits) for name, table in accounts_table.items()}
    default = check.get(data, "default_account", str)
    if default is not None and default not in accounts:
        raise check.fail("default_account", f"names no configured account: {default!r}")
    ui_table = check.get(data, "ui", dict, default={})
    check.unknown(ui_table, _UI_KEYS, "ui.")
    ui = UiConfig(theme=check.get(ui_table, "theme", str, "ui.", default=UiConfig.theme),
                  open_command=_open_command(check, ui_table),
                  forward=check.enum(ui_table, "forward", ForwardMode, "ui.", UiConfig.forward),
                  cache_all_headers=check.get(ui_table, "cache_all_headers", bool, "ui.",
                                              default=UiConfig.cache_all_headers))
    try:
        keymap = parse_keymap(check.get(data, "keymap", dict, default={}))
    except KeymapError as exc:
        raise check.fail(exc.key, exc.message) from None
    return Config(path=path, accounts=accounts, default_account=default, ui=ui, keymap=keymap, limits=limits)


def _open_command(check: _Checker, table: dict) -> str | None:
    command = check.get(table, "open_command", str, "ui.")
    if command is None:
        return None
    if any(ord(c) < 32 or c == "\x7f" for c in command):
        raise check.fail("ui.open_command", "control characters are not allowed")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise check.fail("ui.open_command", f"cannot split into words: {exc}") from None
    if not words:
        raise check.fail("ui.open_command", "must name a program")
    return command


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    escaped = "".join(
        {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c, c)
        if ord(c) >= 32 and c != "\x7f" or c in "\n\t\r" else f"\\u{ord(c):04x}"
        for c in text
    )
    return f'"{escaped}"'


def dump_config(config: Config) -> str:
    """TOML text for config, such that parse_config(dump_config(c)) == c (path aside)."""
    lines: list[str] = ["# tuimail configuration; passwords live in the keyring or a password_command", ""]
    if config.default_account:
        lines += [f"default_account = {_toml_value(config.default_account)}", ""]
    if config.ui != UiConfig():
        lines += ["[ui]", f"theme = {_toml_value(config.ui.theme)}"]
        if config.ui.open_command is not None:
            lines.append(f"open_command = {_toml_value(config.ui.open_command)}")
        if config.ui.forward is not UiConfig.forward:
            lines.append(f"forward = {_toml_value(config.ui.forward.value)}")
        if config.ui.cache_all_headers:
            lines.append("cache_all_headers = true")
        lines.append("")
    lines += dump_keymap(config.keymap)
    changed = [k for k in LIMIT_KEYS if getattr(config.limits, k) != getattr(DEFAULT_LIMITS, k)]
    lines += _dump_limits("limits", config.limits, changed)
    for account in config.accounts.values():
        lines.append(f"[accounts.{account.name}]")
        for key in ("email", "username", "protocol", "display_name", "password_command", "ca_file", "timeout"):
            value = getattr(account, key)
            if isinstance(value, Enum):
                value = value.value
            if value not in (None, "") and not (key == "timeout" and value == DEFAULT_TIMEOUT):
                lines.append(f"{key} = {_toml_value(value)}")
        defaults = Account(account.name, account.email, account.username)
        for key in (*POP3_POLICY_KEYS, "fallback"):
            value = getattr(account, key)
            if value != getattr(defaults, key):
                lines.append(f"{key} = {_toml_value(value.value if isinstance(value, Enum) else value)}")
        if account.trusted_authserv_ids:
            ids = ", ".join(_toml_value(i) for i in account.trusted_authserv_ids)
            lines.append(f"trusted_authserv_ids = [{ids}]")
        for server in account.servers():
            lines += ["", f"[accounts.{account.name}.{server.protocol.value}]",
                      f"host = {_toml_value(server.host)}", f"port = {server.port}",
                      f"security = {_toml_value(server.security.value)}"]
            if server.allow_plaintext_auth:
                lines.append("allow_plaintext_auth = true")
            if server.cert_fingerprint:
                lines.append(f"cert_fingerprint = {_toml_value(server.cert_fingerprint)}")
        lines.append("")
        lines += _dump_limits(f"accounts.{account.name}.limits", account.limits, account.own_limits)
    return "\n".join(lines)


def _dump_limits(table: str, limits: Limits, keys) -> list[str]:
    if not keys:
        return []
    return [f"[{table}]", *(f"{k} = {_toml_value(getattr(limits, k))}" for k in keys), ""]


def with_account(config: Config, account: Account) -> Config:
    """config with account added or replaced; its limits are the global ones plus its own."""
    own = {k: getattr(account.limits, k) for k in account.own_limits}
    account = replace(account, limits=replace(config.limits, **own))
    accounts = dict(config.accounts)
    accounts[account.name] = account
    return replace(config, accounts=accounts)
