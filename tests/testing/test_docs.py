"""docs/testing.md, followed literally: every file the tutorial shows (a
fenced block whose first line is ``# <file name>``) is written into a
fresh project and its tests run with nothing but the installed plugin."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"```(?:python|asm|toml)\n# (\S+)\n(.*?)```", re.S)


def tutorial_files() -> dict[str, str]:
    """File name -> contents, as the tutorial shows them."""
    return {name: f"# {name}\n{body}" for name, body in BLOCK.findall(DOC.read_text())}


def test_the_tutorial_files_are_all_there():
    assert set(tutorial_files()) == {"echo.S", "test_echo.py", "upper.S", "system.toml",
                                     "test_upper.py", "test_faults.py"}


def test_the_tutorial_runs(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(tmp_path / "cache"))  # not the user's cache
    for name, text in tutorial_files().items():
        (pytester.path / name).write_text(text)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark")
    # Every test the tutorial shows, and each one passes.
    count = sum(text.count("\ndef test_") for name, text in tutorial_files().items()
                if name.startswith("test_"))
    result.assert_outcomes(passed=count)
    assert count == 7
