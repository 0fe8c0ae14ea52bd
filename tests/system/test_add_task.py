"""userland/README.md's "Add a task" recipe, followed literally on a copy
of the userland folder: the new task builds, boots, prints, and `ps`
lists it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from septum.hypervisor import boot_cli
from septum.hypervisor.cli import main
from septum.kernel.abi import TaskState, Tcb
from septum.toolchain.manifest import load_manifest
from septum.userland import supervision

from .conftest import ps_rows

USERLAND = boot_cli.DEFAULT_MANIFEST.parent


def _recipe() -> tuple[str, str]:
    text = (USERLAND / "README.md").read_text()
    section = text.split("## Add a task", 1)[1].split("\n## ", 1)[0]
    asm = re.search(r"```asm\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    return re.sub(r"(?m)^ {3}", "", asm), re.sub(r"(?m)^ {3}", "", toml)


def test_the_readme_recipe_adds_a_task(system_for, tmp_path):
    asm, toml = _recipe()
    copy = tmp_path / "userland"
    shutil.copytree(USERLAND, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (copy / "hello").mkdir()
    (copy / "hello" / "hello.S").write_text(asm)
    manifest = copy / boot_cli.DEFAULT_MANIFEST.name
    manifest.write_text(manifest.read_text() + "\n" + toml)
    prio = int(re.search(r"priority = (\d+)", toml).group(1))
    # No step 3: the supervisor's names come from the manifest.
    s = system_for(manifest)
    con = s.console
    index = len(load_manifest(boot_cli.DEFAULT_MANIFEST).tasks)  # appended: the last
    assert f"Septum microkernel: {index + 1:#x} tasks\n".encode() in con.output
    # A priority-3 task runs once everyone more urgent waits: the shell at
    # its prompt.
    con.expect("hello from my task", timeout=100)
    # Its CALL is answered; it goes on to its RECV when nothing more urgent
    # runs (a `ps` typed at once would keep the shell busy and it READY).
    m = s.machine
    tcb = s.inject.tcb("hello")
    state = lambda: TaskState(int.from_bytes(m.read_phys(tcb + Tcb.STATE, 8), "little"))  # noqa: E731
    assert m.run(max_insns=5_000_000, until=lambda: state() != TaskState.READY).kind == "until"
    con.sendline("ps")
    con.expect(r"hello.*\r?\n")
    row = ps_rows(con.output.decode().replace("\r", ""))["hello"]
    # It waits for notifications only (RECVMODE_NOTIFICATIONS_ONLY).
    assert row[:3] == [str(index), "hello", str(prio)] and row[3] == "notify-wait"


def test_a_task_with_the_longest_name(system_for, tmp_path):
    # The supervisor's table is generated from any manifest: a name of
    # TASK_NAME_MAX characters is listed whole by ps and found by crash.
    asm, toml = _recipe()
    name = "h" * supervision.TASK_NAME_MAX
    copy = tmp_path / "userland"
    shutil.copytree(USERLAND, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (copy / "hello").mkdir()
    (copy / "hello" / "hello.S").write_text(asm)
    manifest = copy / boot_cli.DEFAULT_MANIFEST.name
    manifest.write_text(manifest.read_text() + "\n" + toml.replace("[tasks.hello]",
                                                                   f"[tasks.{name}]"))
    con = system_for(manifest).console
    con.sendline("ps")
    con.expect(name + r"[^\n]*\n")
    index = len(load_manifest(boot_cli.DEFAULT_MANIFEST).tasks)
    assert ps_rows(con.output.decode().replace("\r", ""))[name][:2] == [str(index), name]
    con.sendline(f"crash {name}")
    # Not watched (not in the supervisor's notifies): restarted.
    con.expect(f"crash: {name} restarted by the supervisor")
    assert f"supervisor: restart requested: {name}\n".encode() in con.output


def test_a_name_over_the_limit_is_one_line_from_septum_build(tmp_path, capsys):
    name = "h" * (supervision.TASK_NAME_MAX + 1)
    copy = tmp_path / "userland"
    shutil.copytree(USERLAND, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    manifest = copy / boot_cli.DEFAULT_MANIFEST.name
    manifest.write_text(manifest.read_text() + f'\n[tasks.{name}]\nsource = ["lib/sys.S"]\n'
                        "priority = 3\n")
    rc = main(["build", str(manifest), "-o", str(tmp_path / "x.elf")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert f"tasks.{name}: names are at most {supervision.TASK_NAME_MAX} characters" in err[0]
