"""The README's claims that code can check: the two set-up commands, CI calling the test
command, and the configuration table matching `Settings` (defaults and descriptions)."""

from __future__ import annotations

import re

from bot.config import Settings

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_two_setup_commands_exist_and_ci_runs_the_test_one() -> None:
    assert "make run" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "torch==2.13.0" in makefile


def test_configuration_table_lists_every_setting_with_its_default_and_description() -> None:
    defaults = Settings()
    for name, field in Settings.model_fields.items():
        value = str(getattr(defaults, name)) or "(empty)"
        row = f"| `BOT_{name.upper()}` | `{value}` | {field.description} |"
        assert row in README, name


def test_no_placeholder_is_left() -> None:
    assert "PLACEHOLDER" not in README
