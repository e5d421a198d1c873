"""The setup form's rules without the widgets: defaults from the address, and form values to an Account.

Validation reuses the config parser, so the form can never write a file `load_config` rejects.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tuimail.model.config import (ACCOUNT_NAME, DEFAULT_PORTS, DEFAULT_SECURITY, Account, Config,
                                  ConfigError, Protocol, Security, ServerConfig, dump_config,
                                  parse_config)

SERVER_PREFIX = {Protocol.IMAP: "imap", Protocol.POP3: "pop", Protocol.SMTP: "smtp"}
PROTOCOLS = (Protocol.IMAP, Protocol.POP3, Protocol.SMTP)


def domain_of(email: str) -> str:
    _, at, domain = email.strip().rpartition("@")
    return domain.strip().lower() if at else ""


def default_account_name(email: str) -> str:
    """The first label of the domain ('example' for alice@example.org), made a valid name."""
    domain = domain_of(email)
    label = domain.split(".")[0] if domain else ""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-._")[:64]
    return name or "mail"


def default_host(protocol: Protocol, email: str) -> str:
    domain = domain_of(email)
    return f"{SERVER_PREFIX[protocol]}.{domain}" if domain else ""


def default_port(protocol: Protocol, security: Security) -> int:
    return DEFAULT_PORTS[protocol][security]


def is_default_port(protocol: Protocol, text: str) -> bool:
    """True for an empty port or any default port of the protocol: safe to replace."""
    text = text.strip()
    return not text or text in {str(p) for p in DEFAULT_PORTS[protocol].values()}


@dataclass(frozen=True)
class ServerFields:
    host: str
    port: str
    security: Security


@dataclass(frozen=True)
class FormValues:
    """What the user typed, as strings; field ids are the keys of the errors returned below."""
    email: str
    name: str
    username: str
    display_name: str
    protocol: Protocol
    servers: dict[Protocol, ServerFields]
    ca_file: str = ""
    password_command: str = ""


# Which form field a ConfigError key points at.
_KEY_TO_FIELD = {"email": "email", "username": "username", "display_name": "display-name",
                 "password_command": "password-command", "ca_file": "ca-file", "protocol": "protocol"}


def field_for_key(key: str | None) -> str:
    if key is None:
        return "name"
    if key in _KEY_TO_FIELD:
        return _KEY_TO_FIELD[key]
    proto, _, sub = key.partition(".")
    if proto in ("imap", "pop3", "smtp"):
        return f"{proto}-{sub if sub in ('host', 'port', 'security') else 'host'}"
    return "email"


def build_account(values: FormValues, path: str, existing: Config | None = None
                  ) -> tuple[Account | None, dict[str, str]]:
    """The Account the form describes, or None and one message per field id that is wrong."""
    errors: dict[str, str] = {}
    email = values.email.strip()
    if not email:
        errors["email"] = "an email address is required"
    elif "@" not in email or any(c.isspace() for c in email) or not domain_of(email):
        errors["email"] = "not an email address (name@domain)"
    name = values.name.strip()
    if not ACCOUNT_NAME.match(name):
        errors["name"] = "use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit"
    elif existing is not None and name in existing.accounts:
        errors["name"] = f"there is already an account named '{name}'"
    servers: dict[Protocol, ServerConfig] = {}
    for protocol in PROTOCOLS:
        fields = values.servers[protocol]
        prefix = protocol.value
        host = fields.host.strip()
        if not host:
            if protocol is values.protocol:
                errors[f"{prefix}-host"] = f"a host is needed to read mail with {prefix.upper()}"
            continue  # an empty host leaves that server out of the config
        try:
            port = int(fields.port.strip())
        except ValueError:
            errors[f"{prefix}-port"] = f"port must be a number, not {fields.port.strip()!r}"
            continue
        if not 0 < port < 65536:
            errors[f"{prefix}-port"] = "port must be between 1 and 65535"
            continue
        servers[protocol] = ServerConfig(protocol, host, port, fields.security)
    ca_file = values.ca_file.strip()
    if ca_file and not os.path.isfile(os.path.expanduser(ca_file)):
        errors["ca-file"] = "no such file"
    if errors:
        return None, errors
    account = Account(
        name=name, email=email, username=values.username.strip() or email, protocol=values.protocol,
        display_name=values.display_name.strip(),
        password_command=values.password_command.strip() or None,
        ca_file=os.path.expanduser(ca_file) if ca_file else None,
        imap=servers.get(Protocol.IMAP), pop3=servers.get(Protocol.POP3), smtp=servers.get(Protocol.SMTP),
    )
    try:  # the parser has the last word: what it rejects is never written
        parsed = parse_config(dump_config(Config(path=path, accounts={name: account})), path)
    except ConfigError as exc:
        return None, {field_for_key(exc.key): exc.message}
    return parsed.accounts[name], {}


def default_security(protocol: Protocol) -> Security:
    return DEFAULT_SECURITY[protocol]
