"""Finding, reading and writing the config file."""
from __future__ import annotations

import os
from pathlib import Path

from tuimail.model.config import Config, ConfigError, dump_config, parse_config


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    """--config beats TUIMAIL_CONFIG beats $XDG_CONFIG_HOME/tuimail/config.toml."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("TUIMAIL_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tuimail" / "config.toml"


def load_config(path: Path) -> Config:
    """The parsed config at path; ConfigError (one line) when missing or invalid."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file (run tuimail to set up an account)") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not UTF-8 text") from None
    return parse_config(text, str(path))


def save_config(config: Config, path: Path) -> None:
    """Write atomically with mode 0600: a crash leaves the old file or the new one."""
    text = dump_config(config)
    parse_config(text, str(path))  # never write what we could not read back
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
