"""The README's claims that code can check: the two set-up commands and what they install,
CI testing a fresh clone, nothing read from beside the repository, and the configuration table
matching `Settings`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import Settings

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_two_setup_commands_exist_and_ci_runs_the_test_one() -> None:
    assert "make run" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "torch==2.13.0" in makefile


def test_ci_runs_the_test_command_in_a_fresh_clone_and_cleans_up() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in ci and "PIP_DISABLE_PIP_VERSION_CHECK=1" in ci
    clone, cd, test = ci.index("git clone"), ci.index('cd "$work'), ci.index("make test")
    assert "mktemp -d" in ci and "trap 'rm -rf" in ci and clone < cd < test


def test_the_readme_names_the_pythons_the_makefile_tries_in_its_order() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    candidates = re.search(r"^PY_CANDIDATES := (.+)$", makefile, re.M)
    assert candidates, "the Makefile lists the Pythons it tries in PY_CANDIDATES"
    named = ", ".join(f"`{name}`" for name in candidates.group(1).split())
    assert re.sub(r"\s+", " ", named) in re.sub(r"\s+", " ", README)
    assert "PY=/path/to/python" in README


def test_torch_index_is_settable_and_the_readme_gives_the_cpu_index() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^TORCH_INDEX \?=\s*$", makefile, re.M)
    assert "--index-url $(TORCH_INDEX)" in makefile
    assert "make run TORCH_INDEX=https://download.pytorch.org/whl/cpu" in README


def _make(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PY", "TORCH_INDEX", "MAKEFLAGS"}}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def make_folder(tmp_path: Path) -> Path:
    """The Makefile and pyproject.toml alone in an empty folder."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_make_run_installs_the_package_and_make_test_adds_the_dev_extra(
    make_folder: Path,
) -> None:
    run = _make(make_folder, "-n", "run")
    assert run.returncode == 0, run.stderr
    assert "torch==2.13.0" in run.stdout and "pip install -q -e .\n" in run.stdout
    assert "[dev]" not in run.stdout
    assert run.stdout.index("torch==2.13.0") < run.stdout.index("-e .")
    test = _make(make_folder, "-n", "test")
    assert test.returncode == 0, test.stderr
    assert "pip install -q -e '.[dev]'" in test.stdout and "pytest" in test.stdout
    index = _make(make_folder, "-n", "run", "TORCH_INDEX=https://example.org/whl")
    assert "--index-url https://example.org/whl torch==2.13.0" in index.stdout


def test_each_install_happens_once_whichever_command_comes_first(make_folder: Path) -> None:
    # A venv whose pip and python only log their arguments: the recipes run for real.
    log = make_folder / "calls.log"
    bin_dir = make_folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("pip", "python"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        (bin_dir / name).chmod(0o755)

    def calls(*args: str) -> list[str]:
        log.write_text("")
        result = _make(make_folder, *args)
        assert result.returncode == 0, result.stderr
        return log.read_text().splitlines()

    first = calls("run")
    assert first[1:] == ["pip install -q torch==2.13.0", "pip install -q -e .", "python app.py"]
    assert calls("setup") == ["pip install -q -e .[dev]"]  # `make test`'s install
    assert calls("run") == ["python app.py"]
    assert calls("setup") == []
    (make_folder / "pyproject.toml").touch()
    assert calls("setup") == ["pip install -q -e .[dev]"]
    assert calls("run") == ["python app.py"]  # the dev install covers running's


def test_without_a_suitable_python_make_says_what_to_do(make_folder: Path) -> None:
    result = _make(make_folder, "run", "PY_CANDIDATES=no-such-python")
    assert result.returncode != 0
    assert "No Python >= 3.11 found" in result.stderr and "PY=" in result.stderr
    assert not (make_folder / ".venv").exists()
    result = _make(make_folder, "run", "PY=no-such-python")
    assert result.returncode != 0 and "PY=no-such-python" in result.stderr


def test_nothing_reads_from_beside_the_repository() -> None:
    """A clone stands alone: only the README's licence and data section may name the folder
    beside the repository, for the training data that stays outside."""
    # Spelt apart so that this file does not match itself.
    beside, parent = "../" + "shared", "ROOT" + ".parent"
    files = [ROOT / "app.py", ROOT / "Makefile", ROOT / ".ci" / "run"]
    for folder in ("bot", "scripts", "tests", "docs", "eval"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md"}]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert beside not in text and parent not in text, path
    before_licence, _, licence = README.partition("## Licence and data")
    assert beside not in before_licence
    assert licence.count(beside) == licence.count(beside + "/data/squad11-train/")


def test_configuration_table_lists_every_setting_with_its_default_and_description() -> None:
    defaults = Settings()
    for name, field in Settings.model_fields.items():
        value = str(getattr(defaults, name)) or "(empty)"
        row = f"| `BOT_{name.upper()}` | `{value}` | {field.description} |"
        assert row in README, name


def test_no_placeholder_is_left() -> None:
    assert "PLACEHOLDER" not in README
