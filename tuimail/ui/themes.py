"""Theme files: `themes/*.toml` at the top of the repository, loaded into Textual themes.

The files are the one source of truth for tuimail's colours. `tuimail/themes` links to the
top-level directory so the wheel ships them as package data; users add their own in
$XDG_CONFIG_HOME/tuimail/themes. Without any file, Textual's own dark and light themes stand
in under tuimail's names, so `ui.theme = "tuimail-dark"` keeps working everywhere.

Mail-specific colours are theme variables (MAIL_VARIABLES): a theme file may set them in a
[variables] table; otherwise they derive from the theme's base colours.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

THEMES_DIR = Path(__file__).parents[1] / "themes"  # a link to the repository's themes/
DEFAULT_THEME = "tuimail-dark"

_COLOUR_KEYS = ("primary", "secondary", "accent", "background", "surface", "panel",
                "foreground", "success", "warning", "error", "boost")
_ALLOWED_KEYS = {"name", "dark", "ansi", "variables", *_COLOUR_KEYS}

# name -> (what it colours, the base colour it defaults to, how far that fades to the background)
MAIL_VARIABLES: dict[str, tuple[str, str, float]] = {
    "mail-unread": ("unread rows in the index", "foreground", 0.0),
    "mail-flagged": ("flagged rows in the index", "warning", 0.0),
    "mail-deleted": ("rows marked deleted", "foreground", 0.5),
    "mail-quote-1": ("quoted text, one level deep (>)", "primary", 0.0),
    "mail-quote-2": ("quoted text, two levels deep (> >)", "accent", 0.0),
    "mail-quote-3": ("quoted text, three or more levels deep", "foreground", 0.4),
    "mail-header-name": ("header names in the reader (From, To, ...)", "primary", 0.0),
    "mail-route-bar": ("route timeline: the delay bars", "accent", 0.0),
    "mail-route-backwards": ("route timeline: a clock that goes backwards", "error", 0.0),
}


def user_themes_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tuimail" / "themes"


def mail_variable_defaults(theme: Theme) -> dict[str, str]:
    """MAIL_VARIABLES derived from theme's base colours (a theme's [variables] wins over these)."""
    base = theme.to_color_system().generate()
    found = {}
    for name, (_, source, fade) in MAIL_VARIABLES.items():
        colour = Color.parse(base[source])
        if fade and colour.ansi is None:  # ANSI colours are the terminal's: they cannot be blended
            colour = colour.blend(Color.parse(base["background"]), fade)
        found[name] = colour.hex
    return found
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
    flags = {}
    for key, default in (("dark", True), ("ansi", False)):
        flags[key] = data.get(key, default)
        if not isinstance(flags[key], bool):
            raise ThemeError(f"{path}: key '{key}' must be true or false")
    return Theme(name=name.strip(), variables=_variables(path, data.get("variables", {})), **flags, **colours)


def _variables(path: Path, table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ThemeError(f"{path}: key 'variables' must be a table")
    found: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            raise ThemeError(f"{path}: key 'variables.{key}' must be a string, got {value!r}")
        if key.startswith("mail-"):
            if key not in MAIL_VARIABLES:
                raise ThemeError(f"{path}: unknown key 'variables.{key}' (allowed: {', '.join(MAIL_VARIABLES)})")
            try:
                Color.parse(value)
            except ColorParseError:
                raise ThemeError(f"{path}: key 'variables.{key}': not a colour: {value!r}") from None
        found[key] = value
    return found


def load_themes(directory: Path = THEMES_DIR, user_dir: Path | None = None) -> ThemeLoad:
    """Every `*.toml` theme in directory, then in user_dir (a user's file may replace a shipped
    theme of the same name), plus one error line per file that failed."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    paths = [path for where in (directory, user_dir) if where is not None and where.is_dir()
             for path in sorted(where.glob("*.toml"))]
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


def install_themes(app: App, wanted: str | None, directory: Path = THEMES_DIR,
                   user_dir: Path | None = None) -> list[str]:
    """Register the theme files with app and switch to wanted.

    Returns the problems to tell the user about once: skipped files, an unknown theme name.
    """
    loaded = load_themes(directory, user_dir)
    for theme in loaded.themes:
        app.register_theme(theme)
    problems = list(loaded.errors)
    name = wanted or DEFAULT_THEME
    if name not in app.available_themes:
        problems.append(f"theme '{name}' is not known; using {DEFAULT_THEME}")
        name = DEFAULT_THEME
    app.theme = name
    return problems


class ThemedApp(App[None]):
    """An App whose stylesheets may use MAIL_VARIABLES (each screen's tcss does)."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return mail_variable_defaults(self.current_theme)
