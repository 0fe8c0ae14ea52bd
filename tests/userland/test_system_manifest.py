"""The bundled system's manifest and the tables written beside it.

The supervisor names the tasks and their priorities from
userland/supervisor/tasks.inc (the builder generates no strings): this
checks that table against the manifest `septum boot` runs, so the two
cannot drift apart.
"""

from __future__ import annotations

import re

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.toolchain.manifest import load_manifest

TASKS_INC = DEFAULT_MANIFEST.parent / "supervisor" / "tasks.inc"


def _table() -> tuple[list[str], list[int]]:
    text = TASKS_INC.read_text()
    labels = re.search(r"^names:\s*\n\s*\.dword (.+)$", text, re.M).group(1)
    strings = dict(re.findall(r"^(\w+):\s*\.asciz \"([^\"]*)\"", text, re.M))
    names = [strings[label.strip()] for label in labels.split(",")]
    prios = re.search(r"^priorities:\s*\n\s*\.byte (.+)$", text, re.M).group(1)
    return names, [int(p) for p in prios.split(",")]


def test_supervisor_table_matches_the_manifest():
    m = load_manifest(DEFAULT_MANIFEST)
    names, prios = _table()
    assert names == [t.name for t in m.tasks]
    assert prios == [t.priority for t in m.tasks]


def test_roles():
    m = load_manifest(DEFAULT_MANIFEST)
    assert m.supervisor.name == "supervisor" and m.tasks[0] is m.supervisor
    owners = {d.name: t.name for t in m.tasks for d in t.devices}
    assert owners == {"uart0": "console", "virtio7": "storage", "test": "supervisor"}
    # The attack task may call the console and nothing else.
    assert m.task("attack").calls == ["console"]
