"""Third-party firmware under ``septum run``: Debian's OpenSBI ``fw_jump.elf``
with Debian's S-mode U-Boot boots to the U-Boot prompt, answers ``version``
and ``sbi``, and ``poweroff`` ends the run with exit status 0 — the same
answers as under real QEMU (issue 3).

stdin is a pipe: ``septum run`` queues all of it in the UART at start, and
QEMU's chardev hands it over as the UART accepts it.  The firmware clears
the receive FIFO while it initialises the UART (OpenSBI once, U-Boot before
and after relocation) and U-Boot's autoboot countdown eats one key, so the
commands are preceded by empty lines: whatever is lost is blank, and an empty
line at a fresh prompt runs nothing.

Host time: this is the slowest test of the area (about 70 s under Septum on
the development machine, ~1 s under QEMU): U-Boot reads the ``time`` CSR in
every polling loop, and ``rdtime`` is emulated by the trap unit (DESIGN.md
§3), tens of thousands of traps per million instructions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import peer

FW_JUMP = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")

PADDING = b"\n" * 100
COMMANDS = b"version\nsbi\npoweroff\n"

#: ``sbi`` lines that show the emulated CPU model's identity CSRs (marchid,
#: mimpid: QEMU 7.2 reports its version, Unicorn's older CPU model 0), not
#: the firmware's behaviour.
IDENTITY = ("Architecture ID", "Implementation ID", "Vendor ID")

#: Enough for U-Boot to boot and run the three commands (about 60 M
#: instructions); a runaway ends the run with 124 instead of hanging CI.
MAX_INSNS = 1_000_000_000


def command_outputs(console: str) -> dict[str, list[str]]:
    """Split a U-Boot console transcript at its ``=> `` prompts: command
    line -> the lines it printed (stripped, CR removed)."""
    text = console.replace("\r\n", "\n").replace("\r", "")
    out: dict[str, list[str]] = {}
    for chunk in text.split("=> ")[1:]:
        command, _, rest = chunk.partition("\n")
        if command.strip():
            out[command.strip()] = [line.rstrip() for line in rest.splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def runs() -> tuple[peer.Run, peer.Run]:
    stdin = PADDING + COMMANDS
    ours = peer.run_septum(bios=FW_JUMP, kernel=UBOOT, stdin=stdin, max_insns=MAX_INSNS,
                           timeout=900)
    theirs = peer.run_qemu(bios=FW_JUMP, kernel=UBOOT, stdin=stdin, timeout=120)
    return ours, theirs


@pytest.mark.slow
def test_uboot_boots_to_prompt_and_powers_off(runs: tuple[peer.Run, peer.Run]) -> None:
    ours, theirs = runs
    for run in (ours, theirs):
        assert "OpenSBI v1.1" in run.text
        assert "Domain0 Next Mode         : S-mode" in run.text
        assert "Hit any key to stop autoboot" in run.text
        assert "=> " in run.text
        assert run.text.replace("\r\n", "\n").rstrip().endswith("poweroff ...")
        assert run.returncode == 0
    assert b"Traceback" not in ours.stderr


@pytest.mark.slow
def test_uboot_version_matches_qemu(runs: tuple[peer.Run, peer.Run]) -> None:
    ours, theirs = (command_outputs(r.text) for r in runs)
    assert theirs["version"][0].startswith("U-Boot 2023.01")
    assert any(line.startswith("GNU ld") for line in theirs["version"])
    assert ours["version"] == theirs["version"]


@pytest.mark.slow
def test_uboot_sbi_matches_qemu(runs: tuple[peer.Run, peer.Run]) -> None:
    ours, theirs = (command_outputs(r.text) for r in runs)
    assert theirs["sbi"][:2] == ["SBI 1.0", "OpenSBI 1.1"]
    assert "System Reset Extension" in [line.strip() for line in theirs["sbi"]]

    def comparable(lines: list[str]) -> list[str]:
        return [line for line in lines if not line.strip().startswith(IDENTITY)]

    assert comparable(ours["sbi"]) == comparable(theirs["sbi"])
    assert len(comparable(theirs["sbi"])) > 15
