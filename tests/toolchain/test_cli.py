"""``septum asm`` and ``septum disasm``, driven as a user drives them: through
the real entry point in a subprocess, matching output and exit codes."""

from __future__ import annotations

import subprocess
import sys

from elftools.elf.elffile import ELFFile

from septum.toolchain.elf import read_line_table, read_symbols
from septum.tests.toolchain import gnu

PROGRAM = """\
.globl _start
.text
_start:
    li a0, MAGIC
    la a1, msg
    call helper
1:  j 1b
helper:
    .include "ret.inc"
.data
msg: .asciz "hi"
.bss
buf: .zero 64
"""


def septum(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "septum.hypervisor", *args], cwd=cwd,
                          capture_output=True, text=True, check=False)


def write_program(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "ret.inc").write_text("    ret\n")
    src = tmp_path / "prog.S"
    src.write_text(PROGRAM)
    return src


def test_asm_writes_elf_and_binary_with_layout_and_defines(tmp_path):
    src = write_program(tmp_path)
    r = septum("asm", str(src), "-o", str(tmp_path / "p.elf"), "--bin", str(tmp_path / "p.bin"),
               "--base", "0x80000000", "--section", ".data=0x80001000", "-I",
               str(tmp_path / "inc"), "--defsym", "MAGIC=0x1234")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    elf_bytes = (tmp_path / "p.elf").read_bytes()
    with open(tmp_path / "p.elf", "rb") as f:
        elf = ELFFile(f)
        assert elf.header["e_entry"] == 0x8000_0000
        assert elf.get_section_by_name(".text")["sh_addr"] == 0x8000_0000
        assert elf.get_section_by_name(".data")["sh_addr"] == 0x8000_1000
        assert elf.get_section_by_name(".bss")["sh_type"] == "SHT_NOBITS"
    syms = {s.name: s for s in read_symbols(elf_bytes)}
    assert syms["_start"].binding == "global"
    assert syms["msg"].value == 0x8000_1000
    assert {e.line for e in read_line_table(elf_bytes)} >= {4, 5, 6, 7}
    flat = (tmp_path / "p.bin").read_bytes()
    # The flat binary runs from .text to the end of .data (0x80001003).
    assert len(flat) == 0x1003
    assert flat[0x1000:] == b"hi\0"
    r = gnu.run([gnu.tool("readelf"), "-a", "-W", "--debug-dump=line", str(tmp_path / "p.elf")])
    assert r.returncode == 0 and r.stderr == ""


def test_asm_output_defaults_to_a_elf(tmp_path):
    (tmp_path / "t.S").write_text("nop\n")
    r = septum("asm", "t.S", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.elf").read_bytes()[:4] == b"\x7fELF"
    h = septum("asm", "--help")
    assert h.returncode == 0 and "a.elf" in h.stdout and "--defsym" in h.stdout


def test_asm_error_is_one_line_with_file_and_line(tmp_path):
    (tmp_path / "bad.S").write_text("nop\nnop\n    addi a0, a0, 5000\n")
    r = septum("asm", "bad.S", "-o", "x.elf", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("bad.S:3: error: ")
    assert "5000" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.elf").exists()


def test_asm_missing_input_is_one_line(tmp_path):
    r = septum("asm", "nope.S", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == ["nope.S: error: no such file"]


def test_asm_bad_option_values_exit_2(tmp_path):
    (tmp_path / "t.S").write_text("nop\n")
    for args in (["--base", "zz"], ["--section", ".text"], ["--defsym", "X=y"]):
        r = septum("asm", "t.S", *args, cwd=tmp_path)
        assert r.returncode == 2
        assert "Traceback" not in r.stderr
        assert "error:" in r.stderr.splitlines()[-1]


def test_disasm_listing_with_symbols_and_lines(tmp_path):
    src = write_program(tmp_path)
    elf = tmp_path / "p.elf"
    r = septum("asm", str(src), "-o", str(elf), "--base", "0x80000000",
               "-I", str(tmp_path / "inc"), "--defsym", "MAGIC=7")
    assert r.returncode == 0, r.stderr
    r = septum("disasm", str(elf), "--lines")
    assert r.returncode == 0 and r.stderr == ""
    out = r.stdout.splitlines()
    assert "Disassembly of section .text:" in out
    assert "0000000080000000 <_start>:" in out
    assert any(l.endswith("<helper>:") for l in out)
    assert any(l.endswith("prog.S:4") for l in out)
    assert any(l.endswith("ret.inc:1") for l in out)
    jump = next(l for l in out if "\tj\t" in l or "\tc.j\t" in l)
    assert "<_start+0x" in jump
    plain = septum("disasm", str(elf))
    assert "prog.S:" not in plain.stdout
    # --start/--stop: only the first instruction (li 7 is one 2-byte c.li).
    first = septum("disasm", str(elf), "--start", "0x80000000", "--stop", "0x80000002")
    rows = [l for l in first.stdout.splitlines() if l.strip().startswith("80000")]
    assert len(rows) == 1 and rows[0].strip().startswith("80000000:")
    data = septum("disasm", str(elf), "--section", ".data")
    assert data.returncode == 0 and "<msg>:" in data.stdout


def test_disasm_bad_inputs_are_one_line(tmp_path):
    (tmp_path / "junk.elf").write_bytes(b"not an elf")
    for args, needle in ((["missing.elf"], "missing.elf: error: no such file"),
                         (["junk.elf"], "junk.elf: error: not a readable ELF")):
        r = septum("disasm", *args, cwd=tmp_path)
        assert r.returncode == 2
        assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(needle), r.stderr
    (tmp_path / "t.S").write_text("nop\n")
    assert septum("asm", "t.S", cwd=tmp_path).returncode == 0
    r = septum("disasm", "a.elf", "--section", ".nope", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "a.elf: error: no section '.nope'"


def test_asm_links_several_sources(tmp_path):
    (tmp_path / "main.S").write_text(".globl _start\n_start:\n    call helper\n    j _start\n")
    (tmp_path / "lib.S").write_text(".globl helper\nhelper:\n    li a0, 42\n    ret\n")
    r = septum("asm", "main.S", "lib.S", "-o", "two.elf", "--base", "0x80000000",
               "--march", "rv64imac_zicsr_zifencei", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    syms = {s.name: s for s in read_symbols(tmp_path / "two.elf")}
    assert syms["_start"].value == 0x8000_0000
    assert syms["helper"].value > syms["_start"].value
    files = {e.file for e in read_line_table(tmp_path / "two.elf")}
    assert files == {"main.S", "lib.S"}
    listing = septum("disasm", "two.elf", cwd=tmp_path).stdout
    assert "<helper>" in listing and "0000000080000000 <_start>:" in listing
    bad = septum("asm", "main.S", "-o", "one.elf", cwd=tmp_path)
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1 and "helper" in bad.stderr
