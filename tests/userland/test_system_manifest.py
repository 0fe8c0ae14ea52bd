"""The bundled system's manifest and what the builder generates from it.

The supervisor's names and priorities come from the macro TASK_TABLE that
the builder writes into manifest.inc (toolchain/build.py,
``_manifest_include``), as do the watchdog's masks: this checks them
against the manifest `septum boot` runs, and the builder's checks of a
user's manifest.
"""

from __future__ import annotations

import re

import pytest

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.toolchain.build import DEFAULT_SLOT, _manifest_include
from septum.toolchain.errors import ImageError
from septum.toolchain.manifest import load_manifest, parse_manifest
from septum.userland import supervision


def _equs(text: str) -> dict[str, int]:
    return {k: int(v, 0) for k, v in re.findall(r"^\.equ (\w+), (\w+)", text, re.M)}


def _table(text: str) -> tuple[list[str], list[int]]:
    body = text.split(".macro TASK_TABLE", 1)[1].split(".endm", 1)[0]
    labels = re.findall(r"^\s*\.dword (\w+)$", body, re.M)
    strings = dict(re.findall(r"^(\w+): \.asciz \"([^\"]*)\"", body, re.M))
    prios = re.findall(r"^\s*\.byte (\d+)$", body, re.M)
    return [strings[label] for label in labels], [int(p) for p in prios]


def test_supervisor_table_is_generated_from_the_manifest():
    m = load_manifest(DEFAULT_MANIFEST)
    assert not (DEFAULT_MANIFEST.parent / "supervisor" / "tasks.inc").exists()
    names, prios = _table(_manifest_include(m, DEFAULT_SLOT))
    assert names == [t.name for t in m.tasks]
    assert prios == [t.priority for t in m.tasks]


def test_watchdog_masks_follow_the_notify_grants():
    m = load_manifest(DEFAULT_MANIFEST)
    eq = _equs(_manifest_include(m, DEFAULT_SLOT))
    idx = {t.name: t.index for t in m.tasks}
    bits = lambda names: sum(1 << idx[n] for n in names)  # noqa: E731
    # Watched: the tasks the supervisor may notify (every other task here).
    assert eq["WATCHED_TASKS"] == bits(m.supervisor.notifies) == \
        bits(t.name for t in m.tasks if not t.supervisor)
    # Pongs from the watched tasks that may notify the supervisor.
    assert eq["PONG_TASKS"] == bits(t.name for t in m.tasks
                                    if "supervisor" in t.notifies and not t.supervisor)
    assert eq["PONG_TASKS"] & bits(["console", "attack"]) == bits(["console", "attack"])
    assert eq["CRASH_TASKS"] == bits(t.name for t in m.tasks if not t.supervisor and any(
        s.name == supervision.LIB_FILE for s in t.sources))
    assert eq["SUPERVISOR_TASK"] == m.supervisor.index
    assert (eq["WATCH_PING_BIT"], eq["WATCH_CRASH_BIT"], eq["WATCH_HEARTBEAT"]) == \
        (supervision.PING_BIT, supervision.CRASH_BIT, supervision.HEARTBEAT)


def test_roles():
    m = load_manifest(DEFAULT_MANIFEST)
    assert m.supervisor.name == "supervisor" and m.tasks[0] is m.supervisor
    owners = {d.name: t.name for t in m.tasks for d in t.devices}
    assert {k: v for k, v in owners.items() if k != "hostlink"} == \
        {"uart0": "console", "virtio7": "storage", "test": "supervisor"}
    # The attack task may call the console and nothing else.
    assert m.task("attack").calls == ["console"]


def _manifest(tmp_path, extra: str, name: str = "worker") -> str:
    src = tmp_path / "t.S"
    src.write_text("    .text\n_start: j _start\n")
    return (f'[tasks.sup]\nsource = "t.S"\npriority = 0\nsupervisor = true\n'
            f'notifies = ["{name}"]\n[tasks.{name}]\nsource = "t.S"\npriority = 1\n{extra}')


def test_the_builder_names_a_bad_watchdog_grant(tmp_path):
    m = parse_manifest(_manifest(tmp_path, 'devices = ["uart0"]\ninterrupts = { uart0 = 30 }\n'),
                       tmp_path / "system.toml")
    with pytest.raises(ImageError, match=r"system.toml: tasks.worker.interrupts: bit 30 is the "
                                         r"supervisor's"):
        _manifest_include(m, DEFAULT_SLOT)
    ok = parse_manifest(_manifest(tmp_path, 'devices = ["uart0"]\ninterrupts = { uart0 = 28 }\n'),
                        tmp_path / "system.toml")
    assert "WORKER_IRQ_UART0, 28" in _manifest_include(ok, DEFAULT_SLOT)


def test_task_names_up_to_the_limit(tmp_path):
    longest = "t" * supervision.TASK_NAME_MAX
    m = parse_manifest(_manifest(tmp_path, "", longest), tmp_path / "system.toml")
    names, _ = _table(_manifest_include(m, DEFAULT_SLOT))
    assert names == ["sup", longest]
    m = parse_manifest(_manifest(tmp_path, "", longest + "t"), tmp_path / "system.toml")
    with pytest.raises(ImageError, match=rf"tasks.{longest}t: names are at most "
                                         rf"{supervision.TASK_NAME_MAX} characters"):
        _manifest_include(m, DEFAULT_SLOT)
