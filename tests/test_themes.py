"""Every theme file in themes/ loads, and a broken one is reported and skipped."""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from tuimail.ui.themes import THEMES_DIR, ThemeError, install_themes, load_theme_file, load_themes

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
