"""userland/README.md's "Add a task" recipe, followed literally on a copy
of the userland folder: the new task builds, boots, prints, and `ps`
lists it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from septum.hypervisor import boot_cli

from .conftest import ps_rows

USERLAND = boot_cli.DEFAULT_MANIFEST.parent


def _recipe() -> tuple[str, str]:
    text = (USERLAND / "README.md").read_text()
    section = text.split("## Add a task", 1)[1].split("\n## ", 1)[0]
    asm = re.search(r"```asm\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    return re.sub(r"(?m)^ {3}", "", asm), re.sub(r"(?m)^ {3}", "", toml)


def test_the_readme_recipe_adds_a_task(boot, tmp_path):
    asm, toml = _recipe()
    copy = tmp_path / "userland"
    shutil.copytree(USERLAND, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (copy / "hello").mkdir()
    (copy / "hello" / "hello.S").write_text(asm)
    manifest = copy / boot_cli.DEFAULT_MANIFEST.name
    manifest.write_text(manifest.read_text() + "\n" + toml)
    prio = int(re.search(r"priority = (\d+)", toml).group(1))
    # Step 3: the supervisor's table.
    inc = copy / "supervisor" / "tasks.inc"
    text = inc.read_text()
    text = re.sub(r"(?m)^(    \.dword n_supervisor.*)$", r"\1, n_hello", text)
    text = re.sub(r"(?m)^(    \.byte .*)$", rf"\1, {prio}", text)
    text = text.replace("    .text\n", 'n_hello:      .asciz "hello"\n    .text\n')
    inc.write_text(text)
    r = boot(["ps", "poweroff"], "--manifest", str(manifest))
    assert r.rc == 0, r.err
    assert "Septum microkernel: 0x6 tasks\n" in r.out
    assert "hello from my task\n" in r.out
    # (its greeting may land between a prompt and the echo of "ps")
    row = ps_rows(r.out)["hello"]
    # It waits for notifications only (RECVMODE_NOTIFICATIONS_ONLY).
    assert row[:3] == ["5", "hello", str(prio)] and row[3] == "notify-wait"
