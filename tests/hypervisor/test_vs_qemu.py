"""Bare-metal images under ``septum run`` against real QEMU (issue 3).

Every guest here is built at test time (into ``tmp_path``) from the sources
in ``guests/`` — assembly sources by Septum's own assembler *and* by Debian's
``riscv64-unknown-elf-gcc``, C sources by gcc (freestanding, or with picolibc
over semihosting) — and run both through the real ``septum run`` command
line and under ``qemu-system-riscv64 -M virt``.  The console output and the
process exit status must be the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from . import peer

#: The two ways an assembly guest is built.
ASM_BUILDERS: dict[str, Callable[..., Path]] = {
    "septum-as": peer.build_asm_ours,
    "gcc": peer.build_asm_gcc,
}


def assert_same(ours: peer.Run, theirs: peer.Run) -> None:
    """Same console bytes and exit status; Septum says nothing on stderr."""
    assert ours.text == theirs.text
    assert ours.returncode == theirs.returncode
    assert ours.stderr == b""


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vs-qemu")


# ----- 1 + 2: hello over the UART, exit codes through the finisher ------------

#: Finisher words and the exit status QEMU's sifive_test gives them: PASS
#: (low half 0x5555, whatever the high half) exits 0; FAIL (0x3333) exits with
#: the high half, which the host truncates to 8 bits.
FINISHER_WORDS = [
    (0x5555, 0),
    (0x1234_5555, 0),
    (0x0000_3333, 0),
    (0x0001_3333, 1),
    (0x002A_3333, 42),
    (0x00FF_3333, 255),
    (0x0100_3333, 0),
    (0x7FFF_3333, 255),
    (0xFFFF_3333, 255),
]


#: Every word with Septum's assembler; a few with gcc (the finisher semantics
#: do not depend on who built the image, the image's bytes do).
HELLO_CASES = ([("septum-as", w, s) for w, s in FINISHER_WORDS]
               + [("gcc", w, s) for w, s in FINISHER_WORDS if w in (0x5555, 0x2A_3333, 0xFFFF_3333)])


@pytest.mark.parametrize("builder, word, status", HELLO_CASES,
                         ids=[f"{b}-{w:#x}" for b, w, _ in HELLO_CASES])
def test_hello_asm_finisher(out: Path, builder: str, word: int, status: int) -> None:
    elf = ASM_BUILDERS[builder]("hello", out, {"FINISH": word})
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert theirs.text == "hello, world\r\n"
    assert theirs.returncode == status
    assert_same(ours, theirs)


@pytest.mark.parametrize("ignored", [0x4444, 0x0001_5554, 0x7778])
def test_finisher_ignores_other_values(out: Path, ignored: int) -> None:
    """A word that is no finisher command is ignored; the next one counts."""
    elf = ASM_BUILDERS["septum-as"]("hello", out, {"FINISH": 0x002A_3333, "IGNORED": ignored})
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert theirs.returncode == 42
    assert (ours.text, ours.returncode) == (theirs.text, theirs.returncode)
    # Unlike QEMU (silent without -d guest_errors), Septum names the write.
    assert ours.stderr.decode() == f"test: ignored finisher value {ignored:#x}\n"


@pytest.mark.parametrize("code", [0, 3, 255, 300])
def test_hello_c_finisher(out: Path, code: int) -> None:
    elf = peer.build_c_gcc("hello", out, {"EXIT_CODE": code})
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert theirs.text.startswith("hello from C\r\nfib(91)=4660046610375530309 ")
    assert theirs.returncode == code & 0xFF
    assert_same(ours, theirs)


# ----- 3: semihosting -------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 13])
def test_picolibc_printf_semihosting(out: Path, code: int) -> None:
    # A non-zero exit takes picolibc through ":semihosting-features" to
    # SYS_EXIT_EXTENDED; without the features file it would exit 1.
    elf = peer.build_picolibc("printf", out, {"EXIT_CODE": code})
    # QEMU's semihosting command line is its arg= list; Septum's is -append.
    theirs = peer.run_qemu(elf, semihosting=True, semihosting_args=["one", "two"])
    ours = peer.run_septum(elf, append="one two")
    assert "argv[2]=two\n" in theirs.text and "20!=2432902008176640000\n" in theirs.text
    assert theirs.returncode == code
    assert_same(ours, theirs)


@pytest.mark.parametrize("builder", ASM_BUILDERS)
@pytest.mark.parametrize("code, extended", [(0, 0), (9, 0), (300, 1)])
def test_semihosting_exit_asm(out: Path, builder: str, code: int, extended: int) -> None:
    elf = ASM_BUILDERS[builder]("semihost", out, {"EXIT_CODE": code, "EXTENDED": extended})
    theirs = peer.run_qemu(elf, semihosting=True)
    ours = peer.run_septum(elf)
    assert theirs.text == "semihosting WRITE0\nWRITEC\n"
    assert theirs.returncode == code & 0xFF
    assert_same(ours, theirs)


# ----- 4: timer and software interrupts (M-mode, CLINT) ----------------------------


@pytest.mark.parametrize("builder", ASM_BUILDERS)
def test_timer_interrupts(out: Path, builder: str) -> None:
    elf = ASM_BUILDERS[builder]("timer", out)
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    lines = theirs.text.splitlines()
    assert [l.split()[0] for l in lines] == ["timer"] * 3 + ["wfi", "vectored", "msip",
                                                              "software", "after"]
    assert all("mepc-expected=0000000000000000" in l for l in lines if "mcause" in l)
    assert theirs.returncode == 0
    assert_same(ours, theirs)


def test_timer_interrupts_c(out: Path) -> None:
    elf = peer.build_c_gcc("timer", out)
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    line = ("tick mcause=8000000000000007 mip.MTIP=0000000000000080 "
            "mstatus=0000000000001880 after re-arm mip.MTIP=0000000000000000\r\n")
    assert theirs.text == line * 5
    assert theirs.returncode == 0
    assert_same(ours, theirs)


# ----- 5: Sv39 page faults ------------------------------------------------------------


@pytest.mark.parametrize("builder", ASM_BUILDERS)
def test_sv39_page_faults(out: Path, builder: str) -> None:
    elf = ASM_BUILDERS[builder]("sv39", out)
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    lines = dict(l.split(": ", 1) for l in theirs.text.splitlines())
    # Spot checks of the peer against the privileged spec (causes 12/13/15,
    # xtval = the faulting virtual address, xepc = the faulting instruction).
    assert lines["load invalid page"].startswith("scause=000000000000000d stval=0000000100004000")
    assert lines["store read-only page"].startswith("scause=000000000000000f")
    assert lines["fetch invalid page"].startswith("scause=000000000000000c")
    assert lines["load user page from S, SUM=1"] == "ok value=0000000000004444"
    assert lines["load invalid page, not delegated"].startswith("M mcause=000000000000000d")
    assert len(lines) == 14
    assert theirs.returncode == 0
    assert_same(ours, theirs)


# ----- 6: virtio-blk through `septum run -drive` ---------------------------------------
# test_dev_virtio_qemu.py compares the same guest through the Python API;
# this is the command-line variant: `-drive file=...` attaches the disk.

DISK_BYTES = 64 * 1024


def _fresh_disk(path: Path) -> Path:
    path.write_bytes(bytes((i * 13 + (i >> 9)) & 0xFF for i in range(DISK_BYTES)))
    return path


def test_virtio_blk_via_cli(out: Path, tmp_path: Path) -> None:
    from .dev_guest import build_guest

    guest = build_guest("virtio_blk_guest", out)
    qemu_disk = _fresh_disk(tmp_path / "qemu.img")
    ours_disk = _fresh_disk(tmp_path / "ours.img")
    # The board names its slot-7 disk "septum-disk7" (GET_ID).
    theirs = peer.run_qemu(guest, drive=qemu_disk, drive_serial="septum-disk7")
    ours = peer.run_septum(guest, drive=ours_disk)
    assert theirs.returncode == ours.returncode == 0
    assert ours.stderr == b""
    theirs_lines, ours_lines = theirs.text.splitlines(), ours.text.splitlines()
    assert theirs_lines[-1] == "done"
    # The one deliberate difference (see test_dev_virtio_qemu.py): the board
    # refuses FEATURES_OK without VIRTIO_F_VERSION_1; QEMU 7.2 accepts it.
    key = "features_ok_without_v1="
    assert [l for l in theirs_lines if l.startswith(key)] == [key + "00000001"]
    assert [l for l in ours_lines if l.startswith(key)] == [key + "00000000"]
    assert ([l for l in ours_lines if not l.startswith(key)]
            == [l for l in theirs_lines if not l.startswith(key)])
    assert "serial=septum-disk7" in ours_lines
    assert ours_disk.read_bytes() == qemu_disk.read_bytes()
    assert ours_disk.read_bytes() != _fresh_disk(tmp_path / "pristine.img").read_bytes()


# ----- where an image starts, and what GNU ld puts below RAM ------------------


def test_start_is_dram_base_not_e_entry(out: Path) -> None:
    elf = peer.build_asm_ours("entry", out)
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert theirs.text == "A\n"
    assert_same(ours, theirs)


def test_gnu_ld_headers_segment_below_ram(out: Path) -> None:
    """Linked by gcc with only -Ttext (no -N), the first PT_LOAD segment holds
    the ELF headers a page below 0x8000_0000, outside RAM; QEMU runs it, so
    must Septum."""
    from elftools.elf.elffile import ELFFile

    elf = out / "hello-noN.gcc.elf"
    peer._gcc([*peer.GCC_FLAGS, "-nostdlib", f"-Wa,-I{peer.GUESTS}", "-Wl,-Ttext=0x80000000",
               "-Wa,--defsym,FINISH=0x5555", "-o", str(elf), str(peer.GUESTS / "hello.S")])
    with open(elf, "rb") as f:
        lowest = min(s["p_paddr"] for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_LOAD")
    assert lowest < 0x8000_0000  # the case under test really arises
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert theirs.text == "hello, world\r\n"
    assert_same(ours, theirs)


def test_finisher_reset_keeps_ram(out: Path) -> None:
    elf = peer.build_asm_ours("reset", out, {"EXIT_CODE": 7})
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert "first boot: reset" in theirs.text and "second boot" in theirs.text
    assert theirs.returncode == 7
    assert_same(ours, theirs)


def test_budget_bounds_a_reset_loop(out: Path) -> None:
    """A guest that resets forever still ends at --max-insns (exit 124)."""
    elf = peer.build_asm_ours("hello", out, {"FINISH": 0x7777})
    ours = peer.run_septum(elf, max_insns=200_000)
    assert ours.returncode == 124
    assert ours.text.startswith("hello, world\r\nhello, world\r\n")
