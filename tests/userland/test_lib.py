"""The runtime library (userland/lib) on the board: number formatting
against Python's, word comparison, and ipc_call following a restarted peer
(the dead code's generation, kernel/ABI.md)."""

from __future__ import annotations

import re
from pathlib import Path

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build

TASKS = Path(__file__).parent / "tasks"


def _run(tmp_path, manifest: str) -> str:
    res = build(TASKS / manifest, tmp_path / "lib.elf")
    m = Machine()
    m.boot(bios=str(res.elf))
    stop = m.run(max_insns=20_000_000)
    assert stop.kind == "poweroff" and stop.exit_code == 0
    return m.uart_output.decode()


def test_formatting_words_and_call_retry(tmp_path):
    out = _run(tmp_path, "libcheck.toml")
    src = (TASKS / "libcheck.S").read_text()
    table = src.split("values:", 1)[1].split("words:", 1)[0]
    values = [int(v, 0) & (2**64 - 1) for v in re.findall(r"-?0x[0-9a-f]+|-?\d+", table)][:-2]
    got = re.findall(r"^hex (\S+) dec (\S+)$", out, re.M)
    assert got == [(hex(v), str(v)) for v in values]
    # word_is: exact equality of (bytes, length) with a NUL-terminated word.
    cases = [("help", "help"), ("hel", "help"), ("helpx", "help"), ("", ""), ("help", "hel")]
    assert re.findall(r"^word (\d)$", out, re.M) == [str(int(a == b)) for a, b in cases]
    # echo doubles a2 and answers with its id: generation 0, then, after a
    # TASK_RESTART, generation 1 -- reached by the retry with the new id.
    echo = 1
    assert re.findall(r"^call (\S+) (\S+) (\S+)$", out, re.M) == [
        ("0x0", "42", hex(echo)), ("0x0", "42", hex(1 << 16 | echo))]
    assert f"slot {hex(1 << 16 | echo)}\n" in out
