"""Compiled code of generated dataclass and namedtuple methods, kept from one run to the next.

Python 3.11's dataclasses module writes the source of each generated method (__init__,
__repr__, __eq__, and for frozen classes __setattr__, __delattr__, __hash__) and compiles it
with exec() every time a class is created. tuimail's and Textual's hundred-odd dataclasses
cost 40-50 ms of compiling at every start: most of what a fast start may spend beyond
Textual's own import. The text is the same from run to run, so, as Python's __pycache__ does
for modules, the compiled code is kept: keyed by the exact source text, in one private file
per bytecode version. exec() then runs the kept code object; a text not seen before is
compiled as usual and kept at exit. The resulting classes are the same: same source, same
compiler flags, same globals and locals at exec time.

The file is trusted only when it is the user's own and nobody else can write to it (like
the header cache next to it); namedtuple's generated __new__ (compiled by eval() in the
collections module) is kept the same way. Anything wrong with it (unreadable, corrupt, another Python,
too big) means it is ignored and written anew. TUIMAIL_CODE_CACHE=0 turns all this off.
"""
from __future__ import annotations

import atexit
import builtins
import marshal
import os
import stat
import sys
from pathlib import Path

MAX_ENTRIES = 4_000  # far above what tuimail creates; stops a runaway class factory growing it
MAX_FILE_BYTES = 8 * 1024 * 1024
FILE_MODE = 0o600

_magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER  # the bytecode version
_builtin_exec, _builtin_eval = builtins.exec, builtins.eval


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tuimail" / f"dataclass-code.{sys.implementation.cache_tag}.marshal"


class CodeCache:
    """Source text -> code object, loaded from and saved to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.table: dict[str, object] = {}
        self.added = 0
        self.hits = 0

    def load(self) -> None:
        """Read the file if it is trustworthy and intact; otherwise start empty."""
        try:
            with open(self.path, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not _private(info) or info.st_size > MAX_FILE_BYTES:
                    return
                data = handle.read()
        except OSError:
            return
        if not data.startswith(_magic):
            return
        try:
            table = marshal.loads(data[len(_magic):])
        except (ValueError, EOFError, TypeError):
            return
        if isinstance(table, dict) and all(type(k) is str for k in table):
            self.table = table

    def code(self, source: str, mode: str = "exec"):
        key = source if mode == "exec" else f"\0{mode}\0{source}"  # no source text holds a NUL
        found = self.table.get(key)
        if found is not None:
            self.hits += 1
            return found
        # dont_inherit: compiled exactly as the library's own exec()/eval() would (no __future__ of ours)
        compiled = compile(source, "<string>", mode, dont_inherit=True)
        if len(self.table) < MAX_ENTRIES:
            self.table[key] = compiled
            self.added += 1
        return compiled

    def save(self) -> None:
        """Write the table if it grew: to a temporary file, then renamed over the old one."""
        if not self.added:
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = _magic + marshal.dumps(self.table)
            if len(data) > MAX_FILE_BYTES:
                return
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(temporary, self.path)
            self.added = 0
        except (OSError, ValueError):
            pass  # only a start-up speed-up: the next run compiles again


def _private(info: os.stat_result) -> bool:
    owner = getattr(os, "getuid", None)
    return (stat.S_ISREG(info.st_mode) and (owner is None or info.st_uid == owner())
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


_installed: CodeCache | None = None


def install(path: Path | None = None) -> CodeCache | None:
    """Make the dataclasses and collections modules run kept code (once per process); None when
    turned off."""
    global _installed
    if _installed is not None:
        return _installed
    if os.environ.get("TUIMAIL_CODE_CACHE", "1").strip().lower() in ("0", "off", "no", "false"):
        return None
    import collections
    import dataclasses

    cache = CodeCache(path or cache_file())
    cache.load()

    def cached_exec(source, globals=None, locals=None, /):
        if type(source) is str:
            source = cache.code(source)
        return _builtin_exec(source, globals, locals)

    def cached_eval(source, globals=None, locals=None, /):
        if type(source) is str:
            source = cache.code(source, "eval")
        return _builtin_eval(source, globals, locals)

    # module globals: found before the builtins, by these two modules only
    dataclasses.exec = cached_exec
    collections.eval = cached_eval
    atexit.register(cache.save)
    _installed = cache
    return cache
