"""Theme files: `themes/*.toml` at the top of the repository, loaded into Textual themes.

The files are the one source of truth for tuimail's colours. An installed copy without
the directory falls back to Textual's own dark and light themes under tuimail's names,
so `ui.theme = "tuimail-dark"` keeps working everywhere.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

THEMES_DIR = Path(__file__).parents[2] / "themes"
DEFAULT_THEME = "tuimail-dark"

_COLOUR_KEYS = ("primary", "secondary", "accent", "background", "surface", "panel",
                "foreground", "success", "warning", "error", "boost")
_ALLOWED_KEYS = {"name", "dark", *_COLOUR_KEYS}
_FALLBACKS = {"tuimail-dark": "textual-dark", "tuimail-light": "textual-light"}


class ThemeError(Exception):
    """A theme file that cannot be used, worded for one line."""


@dataclass(frozen=True)
class ThemeLoad:
    themes: list[Theme]
    errors: list[str]  # one line per file that was skipped


def load_theme_file(path: Path) -> Theme:
    """The Theme described by one TOML file; ThemeError naming the file and key otherwise."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _ALLOWED_KEYS)
    if unknown:
        raise ThemeError(f"{path}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(_ALLOWED_KEYS))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path}: key 'name' must be a non-empty string")
    if "primary" not in data:
        raise ThemeError(f"{path}: key 'primary' is missing (required)")
    colours: dict[str, str] = {}
    for key in _COLOUR_KEYS:
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, str):
            raise ThemeError(f"{path}: key '{key}' must be a colour string, got {value!r}")
        try:
            Color.parse(value)
        except ColorParseError:
            raise ThemeError(f"{path}: key '{key}': not a colour: {value!r}") from None
        colours[key] = value
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path}: key 'dark' must be true or false")
    return Theme(name=name.strip(), dark=dark, **colours)


def load_themes(directory: Path = THEMES_DIR) -> ThemeLoad:
    """Every `*.toml` theme in directory, plus one error line per file that failed."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    paths = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    for path in paths:
        try:
            theme = load_theme_file(path)
        except ThemeError as exc:
            errors.append(str(exc))
            continue
        themes[theme.name] = theme
    for name, builtin in _FALLBACKS.items():
        if name not in themes:
            themes[name] = replace(BUILTIN_THEMES[builtin], name=name)
    return ThemeLoad(list(themes.values()), errors)


def install_themes(app: App, wanted: str | None, directory: Path = THEMES_DIR) -> list[str]:
    """Register the theme files with app and switch to wanted.

    Returns the problems to tell the user about once: skipped files, an unknown theme name.
    """
    loaded = load_themes(directory)
    for theme in loaded.themes:
        app.register_theme(theme)
    problems = list(loaded.errors)
    name = wanted or DEFAULT_THEME
    if name not in app.available_themes:
        problems.append(f"theme '{name}' is not known; using {DEFAULT_THEME}")
        name = DEFAULT_THEME
    app.theme = name
    return problems
