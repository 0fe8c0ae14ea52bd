"""Source-line coverage of guest assembly (firmware, kernel, userland).

:class:`Coverage` counts executions of each translated block with one
``UC_HOOK_BLOCK`` callback (registered through ctypes, as the tracer's),
decodes each distinct block once to find its instruction addresses, and maps
them through the DWARF line tables of the images
(:func:`septum.toolchain.elf.read_line_table`): a source line is *hit* when
an instruction at one of its line-table rows ran, its count being the most
executions of any of its rows (a pseudo-instruction has several).  Results: :meth:`CoverageResult.lcov` (the lcov
``.info`` tracefile: ``SF``/``DA``/``LF``/``LH`` records, readable by
``genhtml``), :meth:`CoverageResult.listing` (each source line with its count,
``#####`` for lines never run), and per-file percentages.

Only code counts: :func:`code_lines` keeps the line-table rows that lie in
executable sections.  (Septum's assembler also gives rows to data
directives -- ``.asciz``, ``.dword``, ``.zero`` in ``.rodata``/``.bss`` --
which GNU as, whose line tables gcov and lcov are built for, leaves out: a
string is never "run", so it must not count as a line missed.)

Approximation (documented, not hidden): a block cut short by a trap, or by
the end of the run, counts all of its instructions as run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from septum.hypervisor.trace import add_block_hook, del_block_hook
from septum.toolchain.disasm import Disassembler
from septum.toolchain.errors import SeptumError
from septum.toolchain.image import LineEntry


def code_lines(path: str | os.PathLike[str]) -> list[LineEntry]:
    """The line-table rows of the ELF at ``path`` that address code (lie in
    a section with ``SHF_EXECINSTR``); empty without DWARF line data.
    Raises :class:`SeptumError` (ImageError) for a file that is not a
    readable ELF."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    from septum.toolchain.elf import read_line_table

    rows = read_line_table(path)
    try:
        with open(path, "rb") as f:
            code = [(s["sh_addr"], s["sh_addr"] + s["sh_size"])
                    for s in ELFFile(f).iter_sections()
                    if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_size"]]
    except ELFError as exc:
        raise SeptumError(f"{os.fspath(path)}: not a readable ELF file ({exc})") from None
    return [e for e in rows if any(lo <= e.address < hi for lo, hi in code)]


class Coverage:
    """Block execution counts of a running machine."""

    def __init__(self, machine: object) -> None:
        self.m = machine
        #: block address -> executions
        self.counts: dict[int, int] = {}
        #: block address -> instruction addresses (decoded once)
        self.insns: dict[int, tuple[int, ...]] = {}
        self._handle: int | None = None
        self._dis = Disassembler(cache_size=0)

    def start(self) -> "Coverage":
        """Install the block hook."""
        if self._handle is not None:
            return self
        counts = self.counts
        get = counts.get
        new = self._new_block

        def on_block(_uc: int, address: int, size: int) -> None:
            c = get(address)
            if c is None:
                new(address, size)
                c = 0
            counts[address] = c + 1

        self._handle = add_block_hook(self.m, on_block)
        return self

    def _new_block(self, address: int, size: int) -> None:
        m = self.m
        try:
            pa = m.trap.translate_fetch(address)  # type: ignore[attr-defined]
            data = m.read_phys(pa, size) if pa is not None else b""  # type: ignore[attr-defined]
        except SeptumError:
            data = b""
        self.insns[address] = tuple(i.address for i in self._dis.decode(data, address))

    def stop(self) -> None:
        """Remove the hook (counts stay)."""
        if self._handle is not None:
            del_block_hook(self.m, self._handle)
            self._handle = None

    def executed(self) -> dict[int, int]:
        """Instruction address -> executions."""
        out: dict[int, int] = {}
        for block, n in self.counts.items():
            for a in self.insns.get(block, ()):
                out[a] = out.get(a, 0) + n
        return out

    def result(self, lines: Iterable[LineEntry]) -> "CoverageResult":
        """Per-line counts for the line table ``lines``."""
        return CoverageResult.build(self.executed(), lines)


@dataclass
class CoverageResult:
    """Source file -> {line: executions} for every line that has code."""

    files: dict[str, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, executed: dict[int, int], lines: Iterable[LineEntry]) -> "CoverageResult":
        # A line with several rows (a pseudo-instruction that expands to
        # several instructions) ran as often as its most-run row.
        files: dict[str, dict[int, int]] = {}
        for e in lines:
            per = files.setdefault(e.file, {})
            per[e.line] = max(per.get(e.line, 0), executed.get(e.address, 0))
        return cls(files)

    def merge(self, other: "CoverageResult") -> "CoverageResult":
        """The sum of two results (several runs of the same sources)."""
        files = {f: dict(d) for f, d in self.files.items()}
        for f, d in other.files.items():
            per = files.setdefault(f, {})
            for line, n in d.items():
                per[line] = per.get(line, 0) + n
        return CoverageResult(files)

    def select(self, prefix: str | os.PathLike[str]) -> "CoverageResult":
        """Only the files under the directory ``prefix``."""
        p = os.path.abspath(prefix).rstrip("/") + "/"
        return CoverageResult({f: d for f, d in self.files.items() if f.startswith(p)})

    def totals(self) -> tuple[int, int]:
        """(lines hit, lines with code)."""
        hit = sum(1 for d in self.files.values() for n in d.values() if n)
        return hit, sum(len(d) for d in self.files.values())

    def percent(self) -> float:
        """Line coverage in percent (0 with no lines)."""
        hit, total = self.totals()
        return 100.0 * hit / total if total else 0.0

    def lcov(self, test_name: str = "septum") -> str:
        """The lcov tracefile text."""
        out = [f"TN:{test_name}"]
        for f in sorted(self.files):
            d = self.files[f]
            out.append(f"SF:{f}")
            for line in sorted(d):
                out.append(f"DA:{line},{d[line]}")
            out.append(f"LF:{len(d)}")
            out.append(f"LH:{sum(1 for n in d.values() if n)}")
            out.append("end_of_record")
        return "\n".join(out) + "\n"

    def listing(self) -> str:
        """Every source file (when readable) with counts in the margin:
        a number for lines run, ``#####`` for code never run, ``-`` else."""
        out: list[str] = []
        for f in sorted(self.files):
            d = self.files[f]
            hit = sum(1 for n in d.values() if n)
            out.append(f"== {f}: {hit}/{len(d)} lines ({100.0 * hit / len(d):.1f}%)")
            try:
                text = Path(f).read_text(errors="replace").splitlines()
            except OSError:
                text = [""] * (max(d) if d else 0)
            for no, src in enumerate(text, 1):
                n = d.get(no)
                mark = "-" if n is None else ("#####" if n == 0 else str(n))
                out.append(f"{mark:>9}:{no:>5}:{src}")
        return "\n".join(out) + "\n"


def parse_lcov(text: str) -> CoverageResult:
    """Read back an lcov tracefile (SF/DA records) into a result."""
    files: dict[str, dict[int, int]] = {}
    cur: dict[int, int] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("SF:"):
            cur = files.setdefault(line[3:], {})
        elif line.startswith("DA:"):
            if cur is None:
                raise SeptumError(f"lcov line {n}: DA before SF")
            ln, cnt = line[3:].split(",")[:2]
            cur[int(ln)] = cur.get(int(ln), 0) + int(cnt)
        elif line == "end_of_record":
            cur = None
    return CoverageResult(files)
