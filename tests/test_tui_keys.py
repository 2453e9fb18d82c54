"""One source for keys: the footer, the help and the palette are made from the bindings, and a binding
remapped by its id (MUSICGEN_KEYMAP) works under its new key and is shown with it everywhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import repo_dir, sources_settings
from test_tui_pilot import SIZE, tick, until
from textual.command import CommandList
from textual.widgets import Static

from core.settings import Settings
from localhub import LocalHub
from tui.app import MusicgenApp, make_app
from tui.bindings import BINDINGS, parse_keymap


def test_keymap_parsing_keeps_good_entries_and_names_bad_ones() -> None:
    keymap, errors = parse_keymap("download=ctrl+d; quit=q,ctrl+q  colour=x verify")
    assert keymap == {"download": "ctrl+d", "quit": "q,ctrl+q"}
    assert errors == ["MUSICGEN_KEYMAP: no key has the id 'colour' (ids: " + ", ".join(b.id for b in BINDINGS) + ")",
                      "MUSICGEN_KEYMAP: 'verify' is not id=key"]


def test_remapped_key_works_and_is_shown_in_footer_help_palette_and_hints(tmp_path: Path,
                                                                          catalog_hub: LocalHub) -> None:
    settings = Settings(root=tmp_path, endpoint=catalog_hub.url, min_free=0, keymap="download=ctrl+d profile=P",
                        **sources_settings())

    async def go() -> None:
        app = make_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            footer = {k.description: k.key_display for k in app.query("FooterKey")}  # type: ignore[attr-defined]
            assert footer["Download"] == "^d" and footer["Verify"] == "v"
            assert "profile full (P)" in str(app.select_pane.query_one("#select-summary", Static).render())
            await tick(app, pilot, "facebook/encodec_48khz")
            await pilot.press("d")  # the old key does nothing now
            await pilot.pause()
            assert not app.downloading and app.current_pane == "select"
            await pilot.press("ctrl+d")
            assert app.current_pane == "downloads"
            await until(pilot, lambda: not app.downloading)
            assert "finished" in app.downloads_pane.note
            await pilot.press("question_mark")
            help_text = str(app.screen.query_one(Static).render())
            assert "  ^d       Download the ticked repos" in help_text
            assert "  P        Cycle profiles" in help_text
            assert "  d " not in help_text
            await pilot.press("escape", "ctrl+p")
            await pilot.press(*"Download the ticked")
            await until(pilot, lambda: app.screen.query(CommandList).first().option_count > 0)
            options = app.screen.query_one(CommandList)
            prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            assert any("Download the ticked repos" in p and "key: ^d" in p for p in prompts), prompts

    asyncio.run(go())
    assert (repo_dir(tmp_path, "model", "facebook/encodec_48khz") / "model.safetensors").is_file()


def test_bad_keymap_entries_are_one_line_errors_and_the_app_runs(tmp_path: Path) -> None:
    async def go() -> MusicgenApp:
        app = make_app(Settings(root=tmp_path, keymap="colour=x help=h"), background=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("h")
            assert type(app.screen).__name__ == "HelpScreen"
        return app

    app = asyncio.run(go())
    assert app.keymap == {"help": "h"}
    assert [e.split(":")[0] for e in app.keymap_errors] == ["MUSICGEN_KEYMAP"]


def test_readme_key_table_matches_the_bindings() -> None:
    """The README's table is documentation, not a source: it must say what the bindings say."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| key | id | action |"):].split("\n\n", 1)[0].splitlines()[2:]
    names = {"/": "slash", "?": "question_mark", "+": "plus", "-": "minus"}
    documented = []
    for row in table:
        keys_cell, ids_cell = row.split("|")[1:3]
        keys, ids = re.findall(r"`([^`]+)`", keys_cell), re.findall(r"`([^`]+)`", ids_cell)
        documented += [(i, names.get(k, k)) for k, i in zip(keys, ids, strict=True)]
    assert documented == [(b.id, b.key) for b in BINDINGS]


def test_a_key_given_to_two_actions_is_refused_with_one_line_naming_both() -> None:
    keymap, errors = parse_keymap("download=v help=h")
    assert keymap == {"help": "h"}
    assert errors == ["MUSICGEN_KEYMAP: 'v' would do both download and verify; left out download=v"]
    keymap, errors = parse_keymap("download=x verify=x")
    assert keymap == {} and errors == ["MUSICGEN_KEYMAP: 'x' would do both download and verify; left out "
                                       "download=x, verify=x"]
    assert parse_keymap("download=v verify=d") == ({"download": "v", "verify": "d"}, [])  # a swap is no clash


def test_help_and_palette_say_that_quitting_leaves_the_downloads_running_and_list_one_quit(tmp_path: Path) -> None:
    async def go() -> None:
        app = make_app(Settings(root=tmp_path), background=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            help_text = str(app.screen.query_one(Static).render())
            assert "Quit the app: downloads go on in the root's download service" in help_text
            assert "downloads stop" not in help_text
            await pilot.press("escape", "ctrl+p")
            await pilot.press(*"Quit")
            await until(pilot, lambda: app.screen.query(CommandList).first().option_count > 0)
            await pilot.pause(0.3)
            options = app.screen.query_one(CommandList)
            prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            quits = [p for p in prompts if "Quit" in p]
            assert len(quits) == 1 and "downloads go on" in quits[0], prompts

    asyncio.run(go())
