"""Storage durability in the whole system, through the real CLI:
`septum boot --script FILE --disk FILE` with the shell's put/get/del/ls,
`crash storage` (a real fault of the server, between requests, which the
supervisor repairs), and a power-off followed by a new boot on the same disk
file."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum.hypervisor.cli import main
from septum.toolchain.riscv import Exc

from .storage_rig import replay

BUDGET = 400_000_000


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One build cache for this module's boots."""
    return tmp_path_factory.mktemp("septum-cache")


@pytest.fixture
def boot(cache, tmp_path, monkeypatch, capsysbinary):
    """``boot(lines, disk) -> (exit code, {command: its output})``."""
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(cache))
    count = [0]

    def run(lines: list[str], disk: Path) -> tuple[int, list[tuple[str, str]]]:
        count[0] += 1
        script = tmp_path / f"script{count[0]}.txt"
        script.write_text("\n".join(lines) + "\n")
        rc = main(["boot", "--script", str(script), "--disk", str(disk),
                   "--max-insns", str(BUDGET)])
        out = capsysbinary.readouterr().out.decode(errors="replace").replace("\r\n", "\n")
        # Split at the prompts: (command typed, what followed it).
        answers = []
        for chunk in out.split("septum> ")[1:]:
            command, _, rest = chunk.partition("\n")
            answers.append((command, rest.strip()))
        return rc, answers

    return run


def _replies(text: str) -> str:
    """A command's own answer: without the system's log lines (the
    supervisor's, the kernel's, the storage server's), which arrive when
    they happen -- a restarted server reports ready during a later command."""
    return "\n".join(ln for ln in text.splitlines()
                     if not ln.startswith(("supervisor: ", "kernel: ", "storage: ")))


def test_put_crash_storage_get(boot, tmp_path):
    disk = tmp_path / "disk.img"
    rc, answers = boot(["put color blue", "put size 9", "crash storage", "get color",
                        "del size", "crash storage", "get size", "ls", "poweroff"], disk)
    assert rc == 0
    got = {command: _replies(out) for command, out in answers[:2]}
    assert got == {"put color blue": "ok", "put size 9": "ok"}
    # A real fault: lib/watch.S's load from address 0 (a load page fault).
    for i in (2, 5):
        assert answers[i][0] == "crash storage"
        assert f"supervisor: storage faulted: cause={int(Exc.LOAD_PAGE_FAULT):#x}" in answers[i][1]
    assert "".join(out for _, out in answers[2:]).count("storage: ready") == 2
    assert (answers[3][0], _replies(answers[3][1])) == ("get color", "blue")
    assert (answers[4][0], _replies(answers[4][1])) == ("del size", "ok")
    assert (answers[6][0], _replies(answers[6][1])) == ("get size", "not found")
    assert (answers[7][0], _replies(answers[7][1])) == ("ls", "color\n(1 keys)")
    assert replay(disk.read_bytes()) == {b"color": b"blue"}


def test_put_poweroff_boot_again_get(boot, tmp_path):
    disk = tmp_path / "disk.img"
    rc, answers = boot(["put greeting hello", "put gone soon", "poweroff"], disk)
    assert rc == 0 and [a for _, a in answers[:2]] == ["ok", "ok"]
    rc, answers = boot(["get greeting", "del gone", "poweroff"], disk)
    assert rc == 0
    assert answers[:2] == [("get greeting", "hello"), ("del gone", "ok")]
    rc, answers = boot(["get gone", "ls", "poweroff"], disk)
    assert rc == 0
    assert answers[0] == ("get gone", "not found")
    assert answers[1] == ("ls", "greeting\n(1 keys)")
    assert replay(disk.read_bytes()) == {b"greeting": b"hello"}
