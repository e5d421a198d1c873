"""Every Binding has an id the config's [keymap] can name; a remapped key works and the help shows it."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from textual.dom import DOMNode

import tuimail.ui
from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.model.keymap import BINDING_IDS
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.help import HelpScreen
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.text_view import TextView

__all__ = ["hermetic"]
SIZE = (120, 40)


def _ui_classes() -> list[type[DOMNode]]:
    """Every Screen, Widget and App defined under tuimail/ui."""
    found = []
    for info in pkgutil.walk_packages(tuimail.ui.__path__, "tuimail.ui."):
        module = importlib.import_module(info.name)
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, DOMNode) and cls.__module__ == module.__name__]
    return found


def _declared_bindings() -> dict[type, list]:
    return {cls: list(cls.__dict__.get("BINDINGS", [])) for cls in _ui_classes()}


def test_every_binding_has_an_id_unique_per_class_and_overall() -> None:
    declared = _declared_bindings()
    assert sum(len(b) for b in declared.values()) > 90  # the walk found the screens and widgets
    owners: dict[str, str] = {}
    for cls, bindings in declared.items():
        ids = [binding.id for binding in bindings]
        assert all(ids), f"{cls.__qualname__}: a Binding without id: {[b.key for b in bindings if not b.id]}"
        assert len(ids) == len(set(ids)), f"{cls.__qualname__}: duplicate ids {ids}"
        for binding_id in ids:
            # one id, one meaning: a [keymap] line never remaps two unrelated keys
            assert owners.setdefault(binding_id, cls.__qualname__) == cls.__qualname__, binding_id


def test_the_config_knows_exactly_the_ids_the_ui_defines() -> None:
    defined = {binding.id for bindings in _declared_bindings().values() for binding in bindings}
    assert defined - BINDING_IDS == set(), "add these to tuimail/model/keymap.py"
    assert BINDING_IDS - defined == set(), "no Binding has these ids any more"


@pytest.mark.parametrize("widget, keys", [
    (MessageList, {"index.next": {"j", "down"}, "index.previous": {"k", "up"},
                   "index.first": {"g", "home"}, "index.last": {"G", "end"}}),
    (TextView, {"text.down": {"j", "down"}, "text.up": {"k", "up"},
                "text.top": {"g", "home"}, "text.bottom": {"G", "end"}}),
])
def test_vim_and_arrow_keys_both_move_in_the_index_and_the_reader(widget, keys) -> None:
    by_id = {binding.id: set(binding.key.split(",")) for binding in widget.BINDINGS}
    for binding_id, expected in keys.items():
        assert expected <= by_id[binding_id], (binding_id, by_id[binding_id])


async def test_remapped_key_moves_the_index_and_help_shows_it(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.fill("alice", 5)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(testbed.config_toml("alice") + '\n[keymap]\nindex.next = "n,down"\n'
                        'index.previous = "p"\nmessage.close = "escape,backspace"\n')
    app = TuimailApp(hermetic, load_config(hermetic))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
        index = app.screen.query_one(MessageList)
        await wait_for(pilot, lambda: index.index.count == 5 and index.index.row(0) is not None, what="rows")
        index.focus()
        await pilot.press("n", "n")
        assert index.cursor == 2
        await pilot.press("j")  # no longer bound: j was replaced, not added to
        assert index.cursor == 2
        await pilot.press("down", "p")
        assert index.cursor == 2

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(rendered_lines(app.screen.query_one("#help-keys")))
        row = next(r for r in text.splitlines() if "[index.next]" in r)
        assert row.lstrip().startswith("n / ↓"), row
        assert "[index.previous]" in text and "p " in text
        await pilot.press("escape")

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
        await pilot.press("backspace")  # message.close remapped: backspace goes back
        await wait_for(pilot, lambda: not isinstance(app.screen, MessageScreen), what="the index again")
