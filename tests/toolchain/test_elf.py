"""The ELF writer: read back by pyelftools and accepted by GNU binutils.

Images are built by hand here (and at random with hypothesis), so these tests
check the writer independently of the assembler.  Expected values come from
the ELF/DWARF/psABI specifications and from GNU binutils reading the files.
"""

from __future__ import annotations

import io
import subprocess

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from septum.toolchain.elf import (
    EF_RISCV_RVC, EM_RISCV, arch_attribute, read_line_table, read_symbols, write_elf)
from septum.toolchain.errors import ImageError
from septum.toolchain.image import Image, LineEntry, Section, SectionFlags, Symbol
from septum.tests.toolchain import gnu

AX = SectionFlags.ALLOC | SectionFlags.EXECINSTR
A = SectionFlags.ALLOC
AW = SectionFlags.ALLOC | SectionFlags.WRITE

# c.addi a0,1 ; c.addi a0,1 ; beq a0,a1,.  (encodings from GNU as, see
# test_sample_objdump_matches_gnu, which checks them against objdump).
SAMPLE_TEXT = bytes.fromhex("0505" "0505" "6300b500")


def sample_image() -> Image:
    return Image(
        sections=[
            Section(".text", 0x8000_0000, SAMPLE_TEXT, AX, align=2),
            Section(".rodata", 0x8000_0008, b"hello\0", A, align=1),
            Section(".data", 0x8000_0010, (1).to_bytes(8, "little"), AW, align=8),
            Section(".bss", 0x8000_0018, b"", AW, align=16, nobits=True, size=0x28),
        ],
        symbols=[
            Symbol("_start", 0x8000_0000, 8, "func", "global", ".text"),
            Symbol("loop", 0x8000_0004, 0, "notype", "local", ".text"),
            Symbol("msg", 0x8000_0008, 6, "object", "local", ".rodata"),
            Symbol("counter", 0x8000_0010, 8, "object", "global", ".data"),
            Symbol("stack", 0x8000_0018, 0x28, "object", "global", ".bss"),
            Symbol("UART0", 0x1000_0000, 0, "notype", "local", None),
            Symbol("hook", 0x8000_0002, 0, "func", "weak", ".text"),
        ],
        lines=[
            LineEntry(0x8000_0000, "start.S", 4),
            LineEntry(0x8000_0002, "include/macros.S", 17),
            LineEntry(0x8000_0004, "/abs/start.S", 6),
            LineEntry(0x8000_0008, "start.S", 30),
        ],
        entry=0x8000_0000,
    )


def elf_of(image: Image) -> ELFFile:
    return ELFFile(io.BytesIO(write_elf(image)))


def loaded_memory(data: bytes) -> dict[int, int]:
    """What a loader makes of the PT_LOAD segments: address -> byte."""
    elf = ELFFile(io.BytesIO(data))
    mem: dict[int, int] = {}
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD":
            continue
        assert seg["p_filesz"] <= seg["p_memsz"]
        if seg["p_align"] > 1:
            assert seg["p_offset"] % seg["p_align"] == seg["p_vaddr"] % seg["p_align"]
        contents = data[seg["p_offset"]:seg["p_offset"] + seg["p_filesz"]]
        assert len(contents) == seg["p_filesz"]
        for i in range(seg["p_memsz"]):
            assert seg["p_vaddr"] + i not in mem, "segments overlap"
            mem[seg["p_vaddr"] + i] = contents[i] if i < len(contents) else 0
    return mem


def expected_memory(image: Image) -> dict[int, int]:
    mem: dict[int, int] = {}
    for s in image.loadable():
        for i in range(s.size):
            mem[s.address + i] = 0 if s.nobits else s.data[i]
    return mem


def check_readback(image: Image) -> bytes:
    """Assert pyelftools reads ``image``'s ELF back equal to it; return the bytes."""
    data = write_elf(image)
    elf = ELFFile(io.BytesIO(data))
    assert elf["e_machine"] == "EM_RISCV"
    assert elf.header["e_type"] == "ET_EXEC"
    assert elf.header["e_entry"] == image.entry
    assert elf.elfclass == 64 and elf.little_endian
    for s in image.sections:
        got = elf.get_section_by_name(s.name)
        assert got is not None, s.name
        assert got["sh_addr"] == s.address
        assert got["sh_size"] == s.size
        assert got["sh_flags"] == int(s.flags)
        assert got["sh_addralign"] == max(s.align, 1)
        if s.nobits:
            assert got["sh_type"] == "SHT_NOBITS"
        else:
            assert got["sh_type"] == "SHT_PROGBITS"
            assert got.data() == s.data
    assert loaded_memory(data) == expected_memory(image)
    key = lambda y: (y.name, y.value, y.size, y.kind, y.binding, y.section or "")  # noqa: E731
    assert sorted(read_symbols(data), key=key) == sorted(image.symbols, key=key)
    assert read_line_table(data) == sorted(image.lines, key=lambda e: e.address)
    return data


def run_readelf(path, *args: str) -> subprocess.CompletedProcess:
    return gnu.run([gnu.tool("readelf"), *args, str(path)])


def test_sample_reads_back_with_pyelftools():
    check_readback(sample_image())


def test_header_constants_follow_the_psabi():
    data = write_elf(sample_image())
    assert data[:4] == b"\x7fELF"
    assert data[4] == 2 and data[5] == 1  # ELFCLASS64, ELFDATA2LSB
    assert int.from_bytes(data[18:20], "little") == EM_RISCV == 243
    e_flags = int.from_bytes(data[48:52], "little")
    assert e_flags == EF_RISCV_RVC  # C in march, soft-float ABI (0)
    img = sample_image()
    img.march = "rv64ima_zicsr_zifencei"
    assert int.from_bytes(write_elf(img)[48:52], "little") == 0
    img.rvc = True
    assert int.from_bytes(write_elf(img)[48:52], "little") == EF_RISCV_RVC


def test_symtab_locals_first_and_sh_info(tmp_path):
    elf = elf_of(sample_image())
    tab = elf.get_section_by_name(".symtab")
    binds = [s["st_info"]["bind"] for s in tab.iter_symbols()]
    first_global = next(i for i, b in enumerate(binds) if b != "STB_LOCAL")
    assert tab["sh_info"] == first_global
    assert all(b in ("STB_GLOBAL", "STB_WEAK") for b in binds[first_global:])
    assert "STB_WEAK" in binds
    assert elf.get_section(tab["sh_link"]).name == ".strtab"
    uart = next(s for s in tab.iter_symbols() if s.name == "UART0")
    assert uart["st_shndx"] == "SHN_ABS"
    start = next(s for s in tab.iter_symbols() if s.name == "_start")
    assert start["st_info"]["type"] == "STT_FUNC"
    assert elf.get_section(start["st_shndx"]).name == ".text"


def test_bss_segment_has_memsz_beyond_filesz():
    elf = elf_of(sample_image())
    segs = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    data_seg = next(s for s in segs if s["p_vaddr"] <= 0x8000_0018 < s["p_vaddr"] + s["p_memsz"])
    assert data_seg["p_memsz"] > data_seg["p_filesz"]
    assert data_seg["p_flags"] == 0x6  # PF_R | PF_W
    text_seg = next(s for s in segs if s["p_vaddr"] == 0x8000_0000)
    assert text_seg["p_flags"] == 0x5  # PF_R | PF_X
    # The file is not padded to page boundaries.
    assert len(write_elf(sample_image())) < 0x1000


def test_readelf_accepts_without_warnings(tmp_path):
    path = tmp_path / "s.elf"
    path.write_bytes(write_elf(sample_image()))
    r = run_readelf(path, "-a", "-W", "--debug-dump=line,info,abbrev,aranges")
    assert r.returncode == 0
    assert r.stderr == ""
    assert "RISC-V" in r.stdout and "RVC" in r.stdout
    r = run_readelf(path, "-A")
    assert r.stderr == ""
    assert f'Tag_RISCV_arch: "{arch_attribute("rv64imac_zicsr_zifencei")}"' in r.stdout


def test_readelf_decoded_lines_match(tmp_path):
    path = tmp_path / "s.elf"
    path.write_bytes(write_elf(sample_image()))
    r = run_readelf(path, "--debug-dump=decodedline")
    assert r.returncode == 0 and r.stderr == ""
    rows = set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("0x") and parts[1].isdigit():
            rows.add((parts[0], int(parts[1]), int(parts[2], 16)))
    for e in sample_image().lines:
        base = e.file.rsplit("/", 1)[-1]
        assert (base, e.line, e.address) in rows


def test_objdump_shows_file_and_line(tmp_path):
    path = tmp_path / "s.elf"
    path.write_bytes(write_elf(sample_image()))
    r = gnu.run([gnu.tool("objdump"), "-dl", str(path)])
    assert r.returncode == 0 and r.stderr == ""
    assert "start.S:4" in r.stdout
    assert "include/macros.S:17" in r.stdout
    assert "/abs/start.S:6" in r.stdout
    assert "<_start>:" in r.stdout


def test_sample_objdump_matches_gnu(tmp_path):
    src = ".text\n.globl _start\n_start:\n c.addi a0, 1\n c.addi a0, 1\nloop: beq a0, a1, loop\n"
    ref = gnu.build(src, base=0x8000_0000, workdir=tmp_path)
    assert ref.text == SAMPLE_TEXT
    ours = tmp_path / "ours.elf"
    ours.write_bytes(write_elf(sample_image()))
    ours_lines = gnu.objdump_insns(ours, "-j", ".text")
    assert ours_lines == gnu.objdump_insns(ref.elf)


def test_arch_attribute_matches_gnu_as(tmp_path):
    (tmp_path / "e.S").write_text("")
    for march in ("rv64i", "rv64imac", "rv64gc", "rv64imac_zicsr_zifencei",
                  "rv64ima_zifencei", "rv64imafdc"):
        obj = tmp_path / "e.o"
        r = gnu.run([gnu.tool("as"), f"-march={march}", str(tmp_path / "e.S"), "-o", str(obj)])
        assert r.returncode == 0, r.stderr
        out = run_readelf(obj, "-A").stdout
        assert f'Tag_RISCV_arch: "{arch_attribute(march)}"' in out, (march, out)
    with pytest.raises(ImageError, match="rv99x"):
        arch_attribute("rv99x")


def test_to_binary_fills_gaps_and_drops_trailing_bss():
    img = sample_image()
    flat = img.to_binary()
    assert len(flat) == 0x18  # .text + .rodata + gap + .data; .bss left out
    assert flat[:8] == SAMPLE_TEXT
    assert flat[8:14] == b"hello\0"
    assert flat[14:16] == b"\0\0"
    assert flat[16:24] == (1).to_bytes(8, "little")
    assert Image().to_binary() == b""


def test_to_binary_matches_gnu_objcopy(tmp_path):
    src = (".text\n_start: c.addi a0, 1\n c.addi a0, 1\n1: beq a0, a1, 1b\n"
           ".data\n.balign 8\n.dword 1\n")
    ref = gnu.build(src, base=0x8000_0000, workdir=tmp_path)
    gflat = tmp_path / "g.bin"
    r = gnu.run([gnu.tool("objcopy"), "-O", "binary", str(ref.elf), str(gflat)])
    assert r.returncode == 0
    elf = ELFFile(open(ref.elf, "rb"))
    data_addr = elf.get_section_by_name(".data")["sh_addr"]
    img = Image(sections=[Section(".text", 0x8000_0000, SAMPLE_TEXT, AX, align=2),
                          Section(".data", data_addr, (1).to_bytes(8, "little"), AW, align=8)])
    assert img.to_binary() == gflat.read_bytes()


def test_elf_of_image_with_no_lines_or_symbols_is_valid(tmp_path):
    img = Image(sections=[Section(".text", 0x1000, b"\x13\0\0\0", AX, align=4)], entry=0x1000)
    data = check_readback(img)
    path = tmp_path / "n.elf"
    path.write_bytes(data)
    r = run_readelf(path, "-a", "-W", "--debug-dump=line")
    assert r.returncode == 0 and r.stderr == ""
    assert read_line_table(data) == []
    assert read_symbols(data) == []


def test_read_line_table_of_gnu_output(tmp_path):
    src = ".option norvc\n.text\n_start:\n addi a0, a0, 1\n.option rvc\n c.addi a0, 1\n1: beq a0, a1, 1b\n"
    ref = gnu.build(src, base=0x8000_0000, workdir=tmp_path, extra_as=("-g",))
    rows = read_line_table(ref.elf)
    assert [(e.address, e.line) for e in rows] == [(0x8000_0000, 4), (0x8000_0004, 6),
                                                   (0x8000_0006, 7)]
    assert all(e.file.endswith("gnu.S") for e in rows)
    names = {s.name for s in read_symbols(ref.elf)}
    assert "_start" in names


@pytest.mark.parametrize("image, message", [
    (Image(sections=[Section(".a", 0x100, b"1234", A), Section(".b", 0x102, b"56", A)]),
     "overlap"),
    (Image(sections=[Section(".a", 0x100, b"12", A), Section(".a", 0x200, b"34", A)]),
     "duplicate section '.a'"),
    (Image(sections=[Section(".a", 0x100, b"12", A)],
           symbols=[Symbol("x", 0x100, section=".nope")]), "'.nope'"),
    (Image(sections=[Section(".a", 0x100, b"12", A)],
           symbols=[Symbol("x", 0x100, kind="weird", section=".a")]), "'weird'"),
])
def test_bad_images_raise_image_error(image, message):
    with pytest.raises(ImageError, match=message):
        write_elf(image)


def test_readers_reject_non_elf(tmp_path):
    with pytest.raises(ImageError, match="not a readable ELF"):
        read_symbols(b"not an elf at all")
    with pytest.raises(ImageError, match="not a readable ELF"):
        read_line_table(b"\x7fELF")


# --- random images ----------------------------------------------------------

SECTION_KINDS = [(".text", AX, False), (".rodata", A, False), (".data", AW, False),
                 (".sdata", AW, False), (".bss", AW, True), (".init", AX, False)]
FILES = ["a.S", "lib/b.S", "/abs/dir/c.S", "d.inc"]


@st.composite
def images(draw) -> Image:
    kinds = draw(st.lists(st.sampled_from(SECTION_KINDS), min_size=1, max_size=5,
                          unique_by=lambda k: k[0]))
    address = draw(st.integers(0, 2**40)) & ~0xF
    sections: list[Section] = []
    for name, flags, nobits in kinds:
        align = draw(st.sampled_from([1, 2, 4, 8, 16, 64]))
        address += draw(st.sampled_from([0, 0, 1, 2, 6, 0x100]))
        address = (address + align - 1) // align * align
        if nobits:
            size = draw(st.integers(1, 300))
            sections.append(Section(name, address, b"", flags, align, nobits=True, size=size))
        else:
            data = draw(st.binary(min_size=0, max_size=80))
            if flags & SectionFlags.EXECINSTR:
                data = data[:len(data) & ~1]
            sections.append(Section(name, address, data, flags, align))
        address += sections[-1].size
    if draw(st.booleans()):
        sections.append(Section(".comment", 0, b"septum\0", SectionFlags(0), 1))
    placed = [s for s in sections if s.size and s.flags & SectionFlags.ALLOC]
    symbols = []
    for i in range(draw(st.integers(0, 8))):
        if placed and draw(st.booleans()):
            s = draw(st.sampled_from(placed))
            value = s.address + draw(st.integers(0, s.size - 1))
            section = s.name
        else:
            value, section = draw(st.integers(0, 2**64 - 1)), None
        symbols.append(Symbol(f"sym{i}", value, draw(st.integers(0, 64)),
                              draw(st.sampled_from(["func", "object", "notype"])),
                              draw(st.sampled_from(["local", "global", "weak"])), section))
    lines = []
    for s in placed:
        if s.nobits:
            continue
        offsets = draw(st.lists(st.integers(0, s.size - 1), unique=True, max_size=12))
        for off in sorted(offsets):
            lines.append(LineEntry(s.address + off, draw(st.sampled_from(FILES)),
                                   draw(st.integers(1, 100_000))))
    lines.sort(key=lambda e: e.address)
    entry = placed[0].address if placed else 0
    return Image(sections, symbols, lines, entry)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_random_images_round_trip(image):
    check_readback(image)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(image=images())
def test_random_images_satisfy_readelf(image, tmp_path):
    path = tmp_path / "r.elf"
    path.write_bytes(write_elf(image))
    r = run_readelf(path, "-a", "-W", "--debug-dump=line,info,aranges")
    assert r.returncode == 0
    assert r.stderr == "", r.stderr


# --- with the assembler ---------------------------------------------------------

PROGRAM = """\
.globl _start
.text
_start:
    li sp, 0x80010000
    la a0, message
    call puts
1:  wfi
    j 1b
puts:
    lbu t0, 0(a0)
    beqz t0, 2f
    addi a0, a0, 1
    j puts
2:  ret
.data
message: .asciz "hello"
counter: .dword 0
.bss
buffer: .zero 256
"""


def test_objdump_of_assembled_program_matches_gnu(tmp_path):
    """objdump -d shows the same instructions for our ELF as for GNU as+ld's."""
    from septum.toolchain import Source, assemble

    ref = gnu.build(PROGRAM, base=0x8000_0000, workdir=tmp_path)
    with open(ref.elf, "rb") as f:
        data_addr = ELFFile(f).get_section_by_name(".data")["sh_addr"]
    image = assemble([Source("prog.S", PROGRAM)], base=0x8000_0000,
                     layout={".text": 0x8000_0000, ".data": data_addr})
    ours_path = tmp_path / "ours.elf"
    ours_path.write_bytes(image.to_elf())
    mine = gnu.objdump_insns(ours_path, "-j", ".text")
    theirs = gnu.objdump_insns(ref.elf, "-j", ".text")
    # GNU's ELF has a few extra local symbols (.L labels, $x mapping symbols)
    # that objdump may name in comments; compare address, encoding, text
    # without the trailing "<symbol>" annotations.
    strip = lambda rows: [r.split(" <")[0].split(" #")[0] for r in rows]  # noqa: E731
    assert strip(mine) == strip(theirs)
    assert len(mine) >= 10
    r = run_readelf(ours_path, "-a", "-W", "--debug-dump=line")
    assert r.returncode == 0 and r.stderr == ""
    rows = read_line_table(ours_path)
    assert {e.line for e in rows} >= {4, 5, 6, 7, 8, 10, 11, 12, 13, 14}
    assert all(e.file == "prog.S" for e in rows)


def test_read_line_table_of_gcc_dwarf5_output(tmp_path):
    """GCC writes DWARF 5 line tables (files numbered from 0): read them as
    readelf decodes them.  A relocatable object's table is readable too."""
    (tmp_path / "c.c").write_text("int g;\nint f(int x) {\n  int y = x * 3;\n  return y + g;\n}\n")
    obj, elf = tmp_path / "c.o", tmp_path / "c.elf"
    r = gnu.run([gnu.tool("gcc"), "-g", "-O1", "-march=rv64imac_zicsr", "-mabi=lp64", "-c",
                 "c.c", "-o", str(obj)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = gnu.run([gnu.tool("ld"), "-e", "0", "-Ttext=0x10000", str(obj), "-o", str(elf)])
    assert r.returncode == 0, r.stderr
    decoded = run_readelf(elf, "--debug-dump=decodedline")
    assert "DWARF" not in decoded.stderr
    expected = []
    for line in decoded.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "c.c" and parts[1].isdigit():
            expected.append((int(parts[2], 16), int(parts[1])))
    rows = read_line_table(elf)
    assert [(e.address, e.line) for e in rows] == expected
    assert len(expected) >= 3 and all(e.file == "c.c" for e in rows)
    assert [e.line for e in read_line_table(obj)] == [e.line for e in rows]
