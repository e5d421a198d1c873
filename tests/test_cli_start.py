"""`tuimail` with no command starts the TUI without loading every command's module."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tuimail.cli import COMMANDS, tui_arguments


def test_tui_arguments_only_when_no_command_is_named() -> None:
    assert vars(tui_arguments([])) == {"config": None, "account": None}
    assert vars(tui_arguments(["--config", "a.toml", "--account", "bob"])) == {"config": "a.toml", "account": "bob"}
    assert tui_arguments(["--config=a.toml"]).config == "a.toml"
    assert vars(tui_arguments(["--account=x", "--config", "a", "--config", "b"])) == {"config": "b", "account": "x"}
    assert tui_arguments(["--config", "--account", "x"]) is None  # a missing value: the full parser says so
    for argv in (["list"], ["--config", "a.toml", "send"], ["--help"], ["-h"], ["--version"],
                 ["--config"], ["--bogus"], ["extra"]):
        assert tui_arguments(argv) is None, argv
    assert all(tui_arguments([name]) is None for name in COMMANDS)


def test_a_bad_config_fails_fast_without_the_command_modules(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("this is = = not toml\n")
    code = ("import sys; from tuimail.cli import main; rc = main(['--config', sys.argv[1]]); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('tuimail.commands')), "
            "'textual' in sys.modules, 'argparse' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split()[0] == "2", done.stdout + done.stderr
    assert "[] False False" in done.stdout  # no command module, and neither Textual nor argparse loaded
    assert "config error" in done.stderr
