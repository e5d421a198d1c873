"""The start-up code cache (tuimail/store/code_cache.py): kept code makes the same classes,
and a file that is not trustworthy or intact is ignored, never executed."""
from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

from tuimail.store.code_cache import CodeCache, _magic

SOURCE = "def __create_fn__(x):\n def f(self):\n  return self.a + x\n return f"

PROBE = r"""
import json, sys
from tuimail.store import code_cache
cache = code_cache.install()
import collections, dataclasses

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 2
    tags: tuple = ()

Pair = collections.namedtuple("Pair", "left right")
p = Point(1)
try:
    p.x = 5
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(json.dumps({"hits": cache.hits if cache else None, "repr": repr(p), "eq": p == Point(1, 2),
                  "hash": hash(p) == hash(Point(1)), "frozen": frozen,
                  "fields": [f.name for f in dataclasses.fields(Point)],
                  "pair": repr(Pair(1, right=2)), "annotations": str(Point.__init__.__annotations__)}))
"""


def run_probe(cache_home: Path, **env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache_home), **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_second_run_uses_kept_code_and_makes_the_same_classes(tmp_path):
    first = run_probe(tmp_path)
    kept = tmp_path / "tuimail" / f"dataclass-code.{sys.implementation.cache_tag}.marshal"
    assert kept.exists() and kept.stat().st_mode & 0o077 == 0  # private
    second = run_probe(tmp_path)
    off = run_probe(tmp_path / "elsewhere", TUIMAIL_CODE_CACHE="0")
    assert first["hits"] == 0 and second["hits"] >= 5  # __init__, __repr__, __eq__, __setattr__, ... and __new__
    assert off["hits"] is None
    for key in ("repr", "eq", "hash", "frozen", "fields", "pair", "annotations"):
        assert first[key] == second[key] == off[key], key
    assert second["repr"] == "Point(x=1, y=2, tags=())" and second["frozen"] and second["eq"]
    assert not (tmp_path / "elsewhere" / "tuimail").exists()  # turned off: nothing written


def test_round_trip_and_miss(tmp_path):
    path = tmp_path / "code.marshal"
    cache = CodeCache(path)
    cache.load()  # no file: empty, no error
    code = cache.code(SOURCE)
    assert cache.added == 1 and cache.hits == 0
    cache.save()
    again = CodeCache(path)
    again.load()
    assert again.code(SOURCE) == code and again.hits == 1 and again.added == 0
    namespace: dict = {}
    exec(again.code(SOURCE), {}, namespace)
    assert namespace["__create_fn__"](10)(type("T", (), {"a": 5})()) == 15


def write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def test_untrusted_or_damaged_files_are_ignored(tmp_path):
    planted = {SOURCE: compile("def __create_fn__(x):\n return lambda self: 'planted'", "<string>", "exec")}
    cases = {
        "group-writable": (_magic + marshal.dumps(planted), 0o620),
        "world-writable": (_magic + marshal.dumps(planted), 0o602),
        "another bytecode version": (b"\0\0\r\n" + marshal.dumps(planted), 0o600),
        "corrupt": (_magic + b"\xff\x00garbage", 0o600),
        "not a table": (_magic + marshal.dumps(["x"]), 0o600),
    }
    for name, (data, mode) in cases.items():
        path = tmp_path / name
        write(path, data, mode)
        cache = CodeCache(path)
        cache.load()
        assert cache.table == {}, name
        namespace: dict = {}
        exec(cache.code(SOURCE), {}, namespace)
        assert namespace["__create_fn__"](1)(type("T", (), {"a": 1})()) == 2, name  # compiled anew
    trusted = tmp_path / "trusted"
    write(trusted, _magic + marshal.dumps(planted))
    cache = CodeCache(trusted)
    cache.load()
    assert cache.table.keys() == planted.keys()  # the same file, private: it is used


def test_unwritable_cache_dir_costs_nothing_but_speed(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    cache = CodeCache(blocked / "code.marshal")
    cache.code(SOURCE)
    cache.save()  # cannot create the directory: silently kept for the next run to retry
    assert cache.added == 1


def test_imapclient_version_without_importlib_metadata():
    code = ("import sys; import tuimail.protocols.imap, imapclient; "
            "loaded = 'importlib.metadata' in sys.modules; "
            "import importlib.metadata as m; "
            "print(loaded, imapclient.__version__ == m.version('imapclient'), "
            "imapclient.version_info[:3] == tuple(int(x) for x in m.version('imapclient').split('.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "True", "True"], done.stdout + done.stderr
