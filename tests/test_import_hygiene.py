"""Layering: nothing below ui/ imports Textual, and imports only point downward."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tuimail"

# What each layer may import from inside tuimail.
ALLOWED = {
    "model": {"model"},
    "protocols": {"model", "protocols"},
    "store": {"model", "protocols", "store"},
    "commands": {"model", "protocols", "store", "commands"},
    "ui": {"model", "protocols", "store", "ui"},
}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def test_the_package_has_every_layer():
    layers = {name.split(".")[1] for name in _modules() if name.count(".") >= 1}
    assert {"model", "protocols", "store", "ui", "commands"} <= layers


def test_nothing_below_ui_imports_textual():
    below_ui = [m for m in _modules() if not m.startswith("tuimail.ui") and m != "tuimail.__main__"]
    assert "tuimail.cli" in below_ui and "tuimail.model.config" in below_ui
    script = (
        "import importlib, json, sys\n"
        f"for name in {below_ui!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_ui_layer_does_import_textual():
    """The check above would pass vacuously if the subprocess could not see Textual at all."""
    out = subprocess.run([sys.executable, "-c", "import tuimail.ui.app, sys; print('textual' in sys.modules)"],
                         capture_output=True, text=True, timeout=60, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "True", out.stderr


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_layers_import_downward_only():
    violations = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        layer = rel.parts[0] if len(rel.parts) > 1 else None
        if layer not in ALLOWED:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "textual" and layer != "ui":
                violations.append(f"{rel}: imports {name}")
            if parts[0] == "imapclient" and layer != "protocols":
                violations.append(f"{rel}: imports {name} (imapclient stays in protocols/)")
            if parts[0] == "tuimail" and len(parts) > 1:
                target = parts[1]
                if target in {"cli", "__main__"} or (target in ALLOWED and target not in ALLOWED[layer]):
                    violations.append(f"{rel}: imports {name}")
    assert violations == []
