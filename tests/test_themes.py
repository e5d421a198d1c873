"""Every theme file in themes/ loads with readable mail colours, ships in the wheel, and a broken
one (shipped or the user's) is reported once and skipped."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App
from textual.color import Color

from tuimail.ui.themes import (MAIL_VARIABLES, THEMES_DIR, ThemedApp, ThemeError, install_themes, load_theme_file,
                               load_themes, mail_variable_defaults, user_themes_dir)
from tuimail.ui.widgets.text_view import TextView

THEME_FILES = sorted(THEMES_DIR.glob("*.toml"))


def test_theme_directory_is_found() -> None:
    assert THEMES_DIR.is_dir(), THEMES_DIR
    names = {path.stem for path in THEME_FILES}
    assert {"tuimail-dark", "tuimail-light"} <= names


@pytest.mark.parametrize("path", THEME_FILES, ids=lambda p: p.name)
def test_every_theme_file_loads(path: Path) -> None:
    theme = load_theme_file(path)
    assert theme.name == path.stem  # the file name is the name users put in ui.theme
    assert theme.primary and theme.background and theme.foreground
    theme.to_color_system().generate()  # Textual can derive every colour variable from it


def test_dark_and_light_are_what_they_say() -> None:
    themes = {t.name: t for t in load_themes().themes}
    assert themes["tuimail-dark"].dark is True
    assert themes["tuimail-light"].dark is False


@pytest.mark.parametrize("text, complaint", [
    ('name = "x"\nprimary = "not-a-colour"\n', "not a colour"),
    ('name = "x"\nprimary = "#fff"\nsparkle = "#fff"\n', "unknown key 'sparkle'"),
    ('primary = "#fff"\n', "'name'"),
    ('name = "x"\n', "'primary' is missing"),
    ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "'dark'"),
    ('name = "x\nprimary =', "not valid TOML"),
])
def test_bad_theme_file_is_an_error_naming_file_and_key(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    assert str(path) in str(caught.value) and complaint in str(caught.value)


def test_bad_file_is_skipped_and_reported_once(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('name = "good"\nprimary = "#336699"\n')
    (tmp_path / "bad.toml").write_text('name = "bad"\nprimary = 12\n')
    loaded = load_themes(tmp_path)
    names = {t.name for t in loaded.themes}
    assert "good" in names and "bad" not in names
    assert len(loaded.errors) == 1 and "bad.toml" in loaded.errors[0]
    # tuimail's own names always exist, even when the directory lacks them (an installed copy)
    assert {"tuimail-dark", "tuimail-light"} <= names


async def test_app_uses_configured_theme_and_warns_about_unknown(tmp_path: Path) -> None:
    class Bare(App[None]):
        pass

    app = Bare()
    async with app.run_test():
        assert install_themes(app, "tuimail-light") == []
        assert app.theme == "tuimail-light"
        problems = install_themes(app, "no-such-theme")
        assert app.theme == "tuimail-dark"
        assert problems == ["theme 'no-such-theme' is not known; using tuimail-dark"]


# -- what ships, contrast, user themes, the wheel -----------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    high, low = sorted((_luminance(Color.parse(a)), _luminance(Color.parse(b))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_at_least_four_themes_ship_light_dark_high_contrast_and_ansi() -> None:
    themes = {t.name: t for t in map(load_theme_file, THEME_FILES)}
    assert len(themes) >= 4
    assert themes["tuimail-light"].dark is False and themes["tuimail-dark"].dark is True
    assert "tuimail-high-contrast" in themes
    ansi = themes["tuimail-ansi"]
    assert ansi.ansi is True  # Textual sends the terminal's own colour codes, not RGB
    assert all(Color.parse(v).ansi is not None for v in (ansi.primary, ansi.foreground, ansi.background))


@pytest.mark.parametrize("path", THEME_FILES, ids=lambda p: p.name)
def test_every_shipped_theme_sets_readable_mail_colours(path: Path) -> None:
    theme = load_theme_file(path)
    variables = {**mail_variable_defaults(theme), **theme.variables}
    assert set(MAIL_VARIABLES) <= set(variables)
    colours = {name: variables[name] for name in MAIL_VARIABLES}
    for value in colours.values():
        Color.parse(value)
    if theme.ansi:  # the terminal's palette decides; every mail colour must be one of its own
        assert all(Color.parse(v).ansi is not None for v in colours.values()), colours
        return
    base = theme.to_color_system().generate()
    background = base["background"]
    strict = "high-contrast" in theme.name
    assert contrast(base["foreground"], background) >= (7 if strict else 4.5)
    for name, value in colours.items():
        dimmed = name in ("mail-deleted", "mail-quote-3")  # meant to recede, still legible
        floor = 7 if strict and not dimmed else 4.5 if strict else 2.5 if dimmed else 3
        assert contrast(value, background) >= floor, (name, value, background)


def test_theme_file_variables_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('name = "t"\nprimary = "#336699"\n[variables]\nmail-unred = "#ffffff"\n')
    with pytest.raises(ThemeError, match="unknown key 'variables.mail-unred'"):
        load_theme_file(path)
    path.write_text('name = "t"\nprimary = "#336699"\n[variables]\nmail-unread = "bright"\n')
    with pytest.raises(ThemeError, match="not a colour"):
        load_theme_file(path)


async def test_mail_variables_reach_the_widgets() -> None:
    from textual.content import Content
    from textual.widgets import Static

    from tuimail.ui.screens.message import HEADER_NAME

    class Reader(ThemedApp):
        def compose(self):
            yield Static(Content.styled("From", HEADER_NAME))  # Content styles resolve them too
            yield TextView("> one\n> > two\n>>> three")

    app = Reader()
    async with app.run_test() as pilot:
        assert install_themes(app, "tuimail-high-contrast") == []
        await pilot.pause()
        view = app.query_one(TextView)
        colour = view.get_component_styles("text-view--quote-2").color
        assert colour.hex.lower() == "#ff80ff"
        header = next(iter(app.query_one(Static).render_line(0))).style
        assert header.bold and header.color.triplet.hex == "#ffff00"


def test_user_themes_come_from_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_themes_dir() == tmp_path / "tuimail" / "themes"
    user = user_themes_dir()
    user.mkdir(parents=True)
    (user / "mine.toml").write_text('name = "mine"\nprimary = "#aa3366"\n')
    loaded = load_themes(THEMES_DIR, user)
    assert "mine" in {t.name for t in loaded.themes} and loaded.errors == []


async def test_a_broken_user_theme_is_reported_once_and_the_app_falls_back(tmp_path: Path) -> None:
    from tuimail.model.config import parse_config
    from tuimail.ui.app import TuimailApp

    user = tmp_path / "themes"
    user.mkdir()
    (user / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n')
    config = parse_config('[ui]\ntheme = "broken"\n', str(tmp_path / "config.toml"))
    app = TuimailApp(tmp_path / "config.toml", config, user_themes=user)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "tuimail-dark"
        messages = [n.message for n in app._notifications]
        assert sum("broken.toml" in m for m in messages) == 1, messages
        assert any("theme 'broken' is not known" in m for m in messages), messages


def test_the_wheel_carries_every_theme_and_stylesheet(tmp_path: Path) -> None:
    """setuptools' build_py writes exactly the files a wheel holds; run it on a copy of the tree."""
    tree = tmp_path / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "themes", tree / "themes")
    shutil.copytree(ROOT / "tuimail", tree / "tuimail", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "build"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                           "--build-lib", str(out)], cwd=tree, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    shipped = sorted(p.name for p in (out / "tuimail" / "themes").glob("*.toml"))
    assert shipped == sorted(p.name for p in (ROOT / "themes").glob("*.toml"))
    assert not (out / "tuimail" / "themes").is_symlink()
    styles = {p.name for p in (ROOT / "tuimail" / "ui" / "styles").glob("*.tcss")}
    assert styles <= {p.name for p in (out / "tuimail" / "ui" / "styles").glob("*.tcss")}


async def test_the_configured_theme_is_there_from_the_first_frame_and_a_switch_restyles(tmp_path: Path) -> None:
    """TuimailApp gives the stylesheet its theme before the first parse and skips the refresh
    that setting the theme queued; a theme switched later still restyles everything."""
    from tuimail.store.config_file import load_config
    from tuimail.ui.app import TuimailApp

    path = tmp_path / "config.toml"
    path.write_text('[ui]\ntheme = "tuimail-light"\n')
    app = TuimailApp(path, load_config(path), user_themes=tmp_path / "none")
    seen = []
    async with app.run_test() as pilot:
        seen.append(app.screen.styles.background)  # the first frame's
        await pilot.pause()
        light = app.screen.styles.background
        app.theme = "tuimail-dark"
        await pilot.pause()
        await pilot.pause()
        dark = app.screen.styles.background
    assert seen[0] == light and light.brightness > 0.5 > dark.brightness
