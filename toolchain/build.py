"""The image builder: firmware + kernel + tasks from a manifest, one ELF.

Layout (physical = virtual for everything a task sees)::

    0x8000_0000  firmware (M-mode SBI)            -- left out by kernel_only
    0x8020_0000  kernel: code, data, TCBs, stack  (Layout.KERNEL_BASE)
    0x8030_0000  page tables, pristine task code+data  (Layout.TABLES_BASE)
    0x8040_0000  task 0's slot, then task 1's ... (Layout.TASKS_BASE + i * slot)
                 each slot: code+rodata (R-X), then data+bss+stack (RW-)

The kernel allocates nothing: the builder sizes every table.  Page tables
are built here, in Python (one Sv39 root per task, ASID = index + 1):
the kernel's 2 MiB megapage (covering kernel and tables) and the PLIC are
mapped supervisor-only and global in every space, DRAM is mapped once more
at ``Layout.KWINDOW`` (supervisor-only) as the kernel's window for bulk
copies and restarts, and each task gets only its own slot's regions and
its manifest devices with U=1.

Back ends: Septum's own assembler (in process; the default), or GNU
``as``/``ld`` (riscv64-unknown-elf-*: one relocatable object per unit,
placed by one linker script).  Both give the same loadable bytes; each
task's symbols are local so that tasks never collide.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from septum.kernel import abi
from septum.kernel.abi import DescFlags, Layout, RegionPerm
from septum.toolchain.errors import ImageError
from septum.toolchain.image import Image, Section, SectionFlags, Symbol
from septum.toolchain.manifest import Manifest, Task, load_manifest
from septum.toolchain.riscv import (PAGE_SIZE, PTE_PPN_SHIFT, SATP_ASID_SHIFT,
                                    SATP_MODE_SHIFT, SATP_MODE_SV39, Pte)
from septum.hypervisor import memmap

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernel"

#: Kernel sources, in link order (entry.S first: its .text.entry is at
#: KERNEL_BASE).
KERNEL_SOURCES = ("entry.S", "trap.S", "syscall.S", "ipc.S", "fastpath.S",
                  "sched.S", "task.S", "irq.S", "console.S")

#: Every task gets a slot of this many bytes (manifest: kernel.slot).
DEFAULT_SLOT = 0x4_0000

GNU_PREFIX = "riscv64-unknown-elf-"
ASFLAGS = ("-march=rv64imac_zicsr_zifencei", "-mabi=lp64", "-mno-relax")

MEGA = 1 << 21
GIGA = 1 << 30


@dataclass
class TaskLayout:
    """Where one task landed."""

    name: str
    index: int
    entry: int
    text: tuple[int, int]  # (base, size) R-X
    data: tuple[int, int]  # (base, size) RW- (data, bss, stack at the top)
    satp: int
    sp: int


@dataclass
class BuildResult:
    """What :func:`build` produced."""

    elf: Path
    entry: int
    kernel_only: bool
    tasks: list[TaskLayout] = field(default_factory=list)

    def task(self, name: str) -> TaskLayout:
        """The layout of the task called ``name`` (KeyError if none)."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)


def _tool(name: str) -> str:
    path = shutil.which(GNU_PREFIX + name)
    if not path:
        raise ImageError(f"{GNU_PREFIX}{name} not found on PATH "
                         "(install binutils-riscv64-unknown-elf)")
    return path


def _run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        first = next((m for m in msg if "Error" in m or "error" in m), msg[0] if msg else "")
        raise ImageError(f"{what}: {first.strip()}")


def _align(x: int, a: int = PAGE_SIZE) -> int:
    return (x + a - 1) & ~(a - 1)


class _Work:
    """A scratch directory and the GNU tools."""

    def __init__(self, path: Path) -> None:
        self.dir = path
        self.inc = path / "include"
        self.inc.mkdir()

    def assemble_unit(self, name: str, sources: list[Path], localize: bool) -> Path:
        """Assemble ``sources`` into one relocatable object ``name.o``."""
        objs = []
        # Every source folder of the unit is on the include path, in source
        # order, as for Septum's assembler (_septum_task).
        dirs = [f"-I{d}" for d in dict.fromkeys(str(s.parent) for s in sources)]
        for i, src in enumerate(sources):
            obj = self.dir / f"{name}.{i}.o"
            _run([_tool("as"), *ASFLAGS, "-I", str(self.inc), *dirs,
                  "-o", str(obj), str(src)], f"assembling {src}")
            objs.append(str(obj))
        out = self.dir / f"{name}.o"
        _run([_tool("ld"), "-r", "--no-relax", "-o", str(out), *objs], f"linking {name}")
        if localize:
            _run([_tool("objcopy"), "-w", "--localize-symbol=*", str(out)],
                 f"localizing {name}")
        return out

    def link(self, script: str, out: Path, objs: list[Path], entry: int = 0) -> None:
        lds = self.dir / (out.stem + ".ld")
        lds.write_text(script)
        # Run in the scratch folder: the script names input files by basename.
        _run([_tool("ld"), "--no-relax", "-nostdlib", "-T", lds.name, "-e", f"{entry:#x}", "-o", str(out),
              *(o.name for o in objs)], f"linking {out.name}", cwd=self.dir)


def _task_sections(t: Task, obj: Path, base: int) -> str:
    o = obj.name
    return (
        f"  .task.{t.name}.text {base:#x} : {{ {o}(.text.start) {o}(.text .text.*) "
        f"{o}(.rodata .rodata.* .srodata .srodata.*) }}\n"
        f"  . = ALIGN({PAGE_SIZE:#x});\n"  # data and bss start on the next page
        f"  .task.{t.name}.data : {{ {o}(.data .data.* .sdata .sdata.*) }}\n"
        f"  .task.{t.name}.bss : {{ {o}(.bss .bss.* .sbss .sbss.* COMMON) }}\n"
    )


def _unit_sections(name: str, obj: Path, base: int | None) -> str:
    o = obj.name
    at = f"{base:#x} " if base is not None else ""
    return (
        f"  .{name}.text {at}: {{ {o}(.text.entry) {o}(.text .text.*) }}\n"
        f"  .{name}.rodata : {{ {o}(.rodata .rodata.* .srodata .srodata.*) }}\n"
        f"  .{name}.data : {{ {o}(.data .data.* .sdata .sdata.*) }}\n"
        f"  .{name}.bss : {{ {o}(.bss .bss.* .sbss .sbss.* COMMON) }}\n"
    )


_DISCARD = "  /DISCARD/ : { *(.comment) *(.note*) *(.eh_frame*) }\n"


class PageTables:
    """Sv39 page tables built at a fixed physical address."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.pages: list[bytearray] = []

    def alloc(self) -> int:
        """A zeroed page; returns its physical address."""
        self.pages.append(bytearray(PAGE_SIZE))
        return self.base + PAGE_SIZE * (len(self.pages) - 1)

    def _page(self, pa: int) -> bytearray:
        return self.pages[(pa - self.base) // PAGE_SIZE]

    def _get(self, table: int, i: int) -> int:
        return int.from_bytes(self._page(table)[8 * i:8 * i + 8], "little")

    def _set(self, table: int, i: int, pte: int) -> None:
        self._page(table)[8 * i:8 * i + 8] = pte.to_bytes(8, "little")

    def _next(self, table: int, i: int) -> int:
        pte = self._get(table, i)
        if pte & Pte.V:
            if pte & (Pte.R | Pte.W | Pte.X):
                raise ImageError(f"page-table conflict at index {i}: leaf already mapped")
            return (pte >> PTE_PPN_SHIFT) << 12
        sub = self.alloc()
        self._set(table, i, ((sub >> 12) << PTE_PPN_SHIFT) | Pte.V)
        return sub

    def map(self, root: int, va: int, pa: int, flags: Pte, level: int) -> None:
        """Map one leaf: level 2 = 1 GiB, 1 = 2 MiB, 0 = 4 KiB."""
        vpn = [(va >> 12) & 0x1FF, (va >> 21) & 0x1FF, (va >> 30) & 0x1FF]
        table = root
        for lvl in (2, 1, 0):
            if lvl == level:
                if self._get(table, vpn[lvl]) & Pte.V:
                    raise ImageError(f"page-table conflict: {va:#x} mapped twice")
                leaf = flags | Pte.V | Pte.A | (Pte.D if flags & Pte.W else 0)
                self._set(table, vpn[lvl], ((pa >> 12) << PTE_PPN_SHIFT) | leaf)
                return
            table = self._next(table, vpn[lvl])

    def data(self) -> bytes:
        return b"".join(self.pages)


def _bytes_directives(data: bytes) -> str:
    out = []
    for i in range(0, len(data), 16):
        out.append("    .byte " + ", ".join(str(b) for b in data[i:i + 16]))
    return "\n".join(out) + "\n"


#: The assemblers the builder can use: Septum's own (in process) or GNU
#: binutils (the reference the tests compare against).
BACKENDS = ("septum", "gnu")


def build(manifest: str | Path | Manifest, output: str | Path, *, kernel_only: bool = False,
          fastpath: bool = True, slot: int = DEFAULT_SLOT,
          backend: str = "septum") -> BuildResult:
    """Build the system described by ``manifest`` into the ELF ``output``.

    ``kernel_only`` leaves the firmware out (boot behind another SBI, e.g.
    ``qemu -bios default``); ``fastpath=False`` assembles the kernel without
    its IPC fast path; ``backend`` picks the assembler (:data:`BACKENDS`).
    Both back ends produce the same loadable bytes.  Raises
    :class:`ImageError` (or :class:`AsmError`) on any failure.
    """
    if backend not in BACKENDS:
        raise ImageError(f"unknown assembler back end {backend!r} (expected one of {BACKENDS})")
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    output = Path(output)
    if len(m.tasks) * slot > 64 << 20:
        raise ImageError(f"{m.path}: {len(m.tasks)} tasks of {slot:#x} bytes exceed 64 MiB")
    with tempfile.TemporaryDirectory(prefix="septum-build-") as tmp:
        w = _Work(Path(tmp))
        (w.inc / "abi.inc").write_text(abi.generate_include())
        (w.inc / "manifest.inc").write_text(_manifest_include(m, slot))
        (w.inc / "config.inc").write_text(_config_include(m, fastpath))
        if backend == "gnu":
            entry, layouts = _build_gnu(w, m, slot, kernel_only, output)
        else:
            entry, layouts = _build_septum(w, m, slot, kernel_only, output)
    return BuildResult(output, entry, kernel_only, layouts)


def _tables(w: _Work, m: Manifest, infos: list[dict]) -> tuple[list[TaskLayout], bytes]:
    """Page tables and each task's pristine image (the blob at
    TABLES_BASE), and the kernel's generated tables.S in the scratch folder.

    A task's pristine image is its code, padded to its pages, then its
    initial data: in the slot the data region starts right after the code's
    pages, so one copy (the descriptor's DATA_* recipe) restores both.
    """
    pt = PageTables(Layout.TABLES_BASE)
    layouts = [_map_task(pt, t, info) for t, info in zip(m.tasks, infos)]
    blob = bytearray(pt.data())
    data_src = []
    for info in infos:
        assert info["text"][0] + len(info["text_bytes"]) == info["data_region"][0]
        data_src.append(Layout.TABLES_BASE + len(blob))
        blob += info["text_bytes"]
        blob += info["data"]
        blob += bytes(_align(len(blob), 8) - len(blob))
    room = Layout.TASKS_BASE - Layout.TABLES_BASE
    if len(blob) > room:
        raise ImageError(f"{m.path}: page tables and the tasks' pristine code and data "
                         f"need {len(blob):#x} bytes; only {room:#x} fit between "
                         f"{Layout.TABLES_BASE:#x} and {Layout.TASKS_BASE:#x}")
    (w.dir / "tables.S").write_text(_kernel_tables(m, infos, layouts, data_src))
    return layouts, bytes(blob)


def _kernel_sources(w: _Work) -> list[Path]:
    return [KERNEL_DIR / s for s in KERNEL_SOURCES] + [w.dir / "tables.S"]


def _build_gnu(w: _Work, m: Manifest, slot: int, kernel_only: bool,
               output: Path) -> tuple[int, list[TaskLayout]]:
    # 1. Tasks, each linked alone at its slot to learn its sizes and data.
    objs: dict[str, Path] = {}
    infos = []
    for t in m.tasks:
        obj = w.assemble_unit(f"task_{t.name}", t.sources, localize=True)
        objs[t.name] = obj
        base = Layout.TASKS_BASE + t.index * slot
        alone = w.dir / f"alone_{t.name}.elf"
        w.link(f"SECTIONS {{\n{_task_sections(t, obj, base)}{_DISCARD}}}\n", alone, [obj])
        infos.append(_task_info(t, alone, base, slot, m.path))
    # 2. Page tables, pristine data, kernel tables.
    layouts, blob = _tables(w, m, infos)
    (w.dir / "tables_phys.S").write_text("    .data\n" + _bytes_directives(blob))
    tables_obj = w.assemble_unit("tables_phys", [w.dir / "tables_phys.S"], localize=True)
    # 3. The kernel.
    kobj = w.assemble_unit("kernel", _kernel_sources(w), localize=False)
    # 4. Firmware, unless kernel-only; one link of everything.
    units = [kobj, tables_obj]
    script = "SECTIONS {\n"
    if not kernel_only:
        fobj = w.assemble_unit("firmware", _firmware_sources(), localize=True)
        units.append(fobj)
        script += _unit_sections("firmware", fobj, memmap.FIRMWARE_BASE)
        entry = memmap.FIRMWARE_BASE
    else:
        entry = Layout.KERNEL_BASE
    script += _unit_sections("kernel", kobj, Layout.KERNEL_BASE)
    script += f"  .tables {Layout.TABLES_BASE:#x} : {{ {tables_obj.name}(.data) }}\n"
    for t in m.tasks:
        script += _task_sections(t, objs[t.name], Layout.TASKS_BASE + t.index * slot)
        units.append(objs[t.name])
    script += _DISCARD + "}\n"
    final = w.dir / "system.elf"
    w.link(script, final, units, entry)
    _check_kernel_size(final)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(final, output)
    return entry, layouts


def _firmware_sources() -> list[Path]:
    from septum import firmware
    fw_src = firmware.sources()  # link order: entry.S first
    missing = [s for s in fw_src if not s.is_file()]
    if missing:
        raise ImageError(f"{missing[0]}: firmware source missing; build with --kernel-only")
    return fw_src


def _writable(sec: Section) -> bool:
    return bool(sec.flags & SectionFlags.ALLOC and sec.flags & SectionFlags.WRITE)


def _septum_task(w: _Work, t: Task, base: int, slot: int, mpath: Path) -> tuple[dict, Image]:
    """Assemble a task with Septum's assembler: code and read-only data at
    ``base``, writable sections from the next page on (the GNU layout)."""
    from septum.toolchain import assemble
    # Source folders in source order (a set would make the search order vary).
    inc = (str(w.inc), *dict.fromkeys(str(s.parent) for s in t.sources))
    first = assemble(t.sources, base=base, layout={".text": base}, include_dirs=inc)
    code = [s for s in first.loadable() if not _writable(s)]
    text_end = max((s.end for s in code), default=base)
    data_base = base + _align(text_end - base)
    writable = [s for s in first.loadable() if _writable(s)]
    layout = {".text": base}
    if writable:
        layout[writable[0].name] = data_base
    img = assemble(t.sources, base=base, layout=layout, include_dirs=inc) if writable else first
    writable = [s for s in img.loadable() if _writable(s)]
    data = bytearray()
    for s in writable:
        if not s.nobits:
            data += bytes(s.address - data_base - len(data)) + s.data
    used = max((s.end for s in writable), default=data_base) - data_base
    data += bytes(_align(len(data), 8) - len(data))
    text_size = _align(text_end - base)
    data_size = _align(max(used, len(data)) + t.stack)
    if text_size + data_size > slot:
        raise ImageError(f"{mpath}: tasks.{t.name}: needs {text_size + data_size:#x} bytes, "
                         f"the slot is {slot:#x}")
    if text_end == base:
        raise ImageError(f"{mpath}: tasks.{t.name}: no code")
    start = img.symbol("_start")
    entry = start.value if start is not None else base
    # The code as loaded (from the final assembly: it may refer to data
    # addresses), padded to its pages: TASK_RESTART copies it back.
    text = bytearray(text_size)
    for s in img.loadable():
        if not _writable(s) and not s.nobits:
            text[s.address - base:s.address - base + len(s.data)] = s.data
    info = {"base": base, "entry": entry, "text": (base, text_size),
            "data_region": (data_base, data_size), "data": bytes(data),
            "text_bytes": bytes(text)}
    return info, img


def _build_septum(w: _Work, m: Manifest, slot: int, kernel_only: bool,
                  output: Path) -> tuple[int, list[TaskLayout]]:
    from septum.toolchain import assemble
    infos, images = [], []
    for t in m.tasks:
        info, img = _septum_task(w, t, Layout.TASKS_BASE + t.index * slot, slot, m.path)
        infos.append(info)
        images.append((f".task.{t.name}", img))
    layouts, blob = _tables(w, m, infos)
    kimg = assemble(_kernel_sources(w), layout={".text.entry": Layout.KERNEL_BASE},
                    include_dirs=(str(w.inc), str(KERNEL_DIR)))
    end = max(s.end for s in kimg.loadable())
    if end > Layout.KERNEL_LIMIT:
        raise ImageError(f"kernel ends at {end:#x}, past {Layout.KERNEL_LIMIT:#x}")
    final = Image()
    units = [(".kernel", kimg)]
    if not kernel_only:
        from septum import firmware
        _firmware_sources()
        units.insert(0, (".firmware", firmware.build()))
        final.entry = memmap.FIRMWARE_BASE
    else:
        final.entry = Layout.KERNEL_BASE
    final.sections.append(Section(".tables", Layout.TABLES_BASE, blob,
                                  SectionFlags.ALLOC | SectionFlags.WRITE, align=PAGE_SIZE))
    for prefix, img in units + images:
        task = prefix.startswith(".task.")
        for s in img.sections:
            if s.flags & SectionFlags.ALLOC:
                final.sections.append(Section(prefix + s.name, s.address, s.data, s.flags,
                                              s.align, s.nobits, s.size))
        for sym in img.symbols:
            # A task's symbols are its own: local, so that tasks never collide.
            binding = "local" if task or prefix == ".firmware" else sym.binding
            section = prefix + sym.section if sym.section else None
            final.symbols.append(Symbol(sym.name, sym.value, sym.size, sym.kind, binding,
                                        section))
        final.lines.extend(img.lines)
    final.sections.sort(key=lambda s: s.address)
    final.lines.sort(key=lambda e: e.address)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(final.to_elf())
    return final.entry, layouts


def _task_info(t: Task, elf_path: Path, base: int, slot: int, mpath: Path) -> dict:
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        text = elf.get_section_by_name(f".task.{t.name}.text")
        data = elf.get_section_by_name(f".task.{t.name}.data")
        bss = elf.get_section_by_name(f".task.{t.name}.bss")
        entry = base
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            syms = symtab.get_symbol_by_name("_start")
            if syms:
                entry = syms[0]["st_value"]
        text_size = _align(text["sh_size"] if text else 0)
        text_bytes = text.data() if text is not None and text["sh_size"] else b""
        data_base = base + text_size
        data_bytes = data.data() if data is not None and data["sh_size"] else b""
        used = (bss["sh_addr"] + bss["sh_size"] - data_base) if bss is not None and bss["sh_size"] \
            else len(data_bytes)
    data_bytes = data_bytes + bytes(_align(len(data_bytes), 8) - len(data_bytes))
    data_size = _align(max(used, len(data_bytes)) + t.stack)
    if text_size + data_size > slot:
        raise ImageError(f"{mpath}: tasks.{t.name}: needs {text_size + data_size:#x} bytes, "
                         f"the slot is {slot:#x}")
    if text_size == 0:
        raise ImageError(f"{mpath}: tasks.{t.name}: no code")
    return {"base": base, "entry": entry, "text": (base, text_size),
            "data_region": (data_base, data_size), "data": data_bytes,
            "text_bytes": text_bytes + bytes(text_size - len(text_bytes))}


def _map_task(pt: PageTables, t: Task, info: dict) -> TaskLayout:
    root = pt.alloc()
    kflags = Pte.R | Pte.W | Pte.G
    pt.map(root, Layout.KERNEL_BASE, Layout.KERNEL_BASE, kflags | Pte.X, 1)
    pt.map(root, Layout.KWINDOW, Layout.KWINDOW_PA, kflags, 2)
    for mega in range(memmap.PLIC_BASE, memmap.PLIC_BASE + memmap.PLIC_SIZE, MEGA):
        pt.map(root, mega, mega, kflags, 1)
    ubase, usize = info["text"]
    for off in range(0, usize, PAGE_SIZE):
        pt.map(root, ubase + off, ubase + off, Pte.R | Pte.X | Pte.U, 0)
    dbase, dsize = info["data_region"]
    for off in range(0, dsize, PAGE_SIZE):
        pt.map(root, dbase + off, dbase + off, Pte.R | Pte.W | Pte.U, 0)
    for d in t.devices:
        for off in range(0, _align(d.size), PAGE_SIZE):
            pt.map(root, d.base + off, d.base + off, Pte.R | Pte.W | Pte.U, 0)
    satp = (SATP_MODE_SV39 << SATP_MODE_SHIFT) | ((t.index + 1) << SATP_ASID_SHIFT) | (root >> 12)
    return TaskLayout(t.name, t.index, info["entry"], info["text"], info["data_region"], satp,
                      dbase + dsize)


def _manifest_include(m: Manifest, slot: int) -> str:
    """``manifest.inc``: what every task may know of the system.

    Task indices and slots, device addresses, interrupt bits; the
    supervisor's watchdog contract (``septum.userland.supervision``: who is
    watched, the ping, crash and pong bits, the period); and the macro
    ``TASK_TABLE``, which the supervisor expands to get ``names`` (one
    ``.dword`` per task: its NUL-terminated name) and ``priorities`` (one
    ``.byte`` per task), in manifest order.  Raises :class:`ImageError`
    for a name longer than ``TASK_NAME_MAX`` or an interrupt of a watched
    task on a bit the watchdog uses.
    """
    from septum.kernel.abi import NOTIFY_FAULT_BIT
    from septum.toolchain.manifest import DEVICES
    from septum.userland import supervision as sv

    sup = m.supervisor
    watched = [m.task(n) for n in sup.notifies]
    # A pong is bit <index> on the supervisor: the fault bit and the
    # supervisor's own bit (its timer) are no one's pong.
    pongs = [t for t in watched if sup.name in t.notifies
             and t.index not in (NOTIFY_FAULT_BIT, sup.index)]
    # `crash TASK` posts the crash bit only to a task whose receive loop
    # can answer it: one that links the watchdog's library file.
    crashable = [t for t in watched if any(src.name == sv.LIB_FILE for src in t.sources)]
    for t in m.tasks:
        if len(t.name) > sv.TASK_NAME_MAX:
            raise ImageError(f"{m.path}: tasks.{t.name}: names are at most "
                             f"{sv.TASK_NAME_MAX} characters (the supervisor reports them)")
    for t in watched:
        for bit in t.interrupts.values():
            if bit in sv.RESERVED_BITS:
                raise ImageError(f"{m.path}: tasks.{t.name}.interrupts: bit {bit} is the "
                                 f"supervisor's (watchdog bits {sorted(sv.RESERVED_BITS)})")
    for bit in sup.interrupts.values():
        if bit == sup.index or any(bit == t.index for t in pongs):
            raise ImageError(f"{m.path}: tasks.{sup.name}.interrupts: bit {bit} is a "
                             "watchdog pong (bit i = task i)")
    lines = ["# Generated from the manifest by septum.toolchain.build: do not edit."]
    for t in m.tasks:
        up = t.name.upper()
        lines.append(f".equ TASK_{up}, {t.index}")
        lines.append(f".equ TASK_{up}_BASE, {Layout.TASKS_BASE + t.index * slot:#x}")
        for irq, bit in t.interrupts.items():
            dev = next(d for d in t.devices if d.irq == irq)
            lines.append(f".equ {up}_IRQ_{dev.name.upper()}, {bit}")
    lines.append(f".equ TASKS_TOTAL, {len(m.tasks)}")
    lines.append(f".equ TASK_SLOT, {slot:#x}              # bytes per task from TASKS_BASE")
    for d in DEVICES.values():
        lines.append(f".equ DEV_{d.name.upper()}, {d.base:#x}")
    lines += [
        "# The supervisor's watchdog (septum.userland.supervision).",
        f".equ SUPERVISOR_TASK, {sup.index}",
        f".equ TASK_NAME_MAX, {sv.TASK_NAME_MAX}",
        f".equ WATCHED_TASKS, {sum(1 << t.index for t in watched):#x}   # bit i: task i",
        f".equ PONG_TASKS, {sum(1 << t.index for t in pongs):#x}      # bit i: task i pongs",
        f".equ CRASH_TASKS, {sum(1 << t.index for t in crashable):#x}     # bit i: links {sv.LIB_FILE}",
        f".equ WATCH_PING_BIT, {sv.PING_BIT}",
        f".equ WATCH_CRASH_BIT, {sv.CRASH_BIT}",
        f".equ WATCH_HEARTBEAT, {sv.HEARTBEAT}",
        f".equ WATCH_MISSES, {sv.MISSES}",
        f".equ WATCH_STORM, {sv.STORM}",
        f".equ WATCH_SCRUB_GRACE, {sv.SCRUB_GRACE}",
        "# TASK_TABLE: the supervisor's names and priorities, in manifest order.",
        ".macro TASK_TABLE",
        "    .pushsection .rodata",
        "    .balign 8",
        "names:",
        *(f"    .dword task_name_{t.index}" for t in m.tasks),
        "priorities:",
        *(f"    .byte {t.priority}" for t in m.tasks),
        *(f'task_name_{t.index}: .asciz "{t.name}"' for t in m.tasks),
        "    .popsection",
        ".endm",
    ]
    return "\n".join(lines) + "\n"


def _config_include(m: Manifest, fastpath: bool) -> str:
    nirq = sum(len(t.interrupts) for t in m.tasks)
    return ("# Generated kernel configuration: do not edit.\n"
            f".equ TASK_COUNT, {len(m.tasks)}\n"
            f".equ SUPERVISOR_INDEX, {m.supervisor.index}\n"
            f".equ TICK, {m.tick}\n"
            f".equ IRQ_COUNT, {nirq}\n"
            f".equ CONFIG_FASTPATH, {1 if fastpath else 0}\n")


def _kernel_tables(m: Manifest, infos: list[dict], layouts: list[TaskLayout],
                   data_src: list[int]) -> str:
    names = {t.name: t.index for t in m.tasks}
    out = ['    .include "abi.inc"', '    .include "config.inc"',
           "# Generated static tables: task descriptors, regions, interrupt routes.",
           "    .section .rodata", "    .balign 8", "    .globl task_descs, irq_table",
           "task_descs:"]
    for t, info, lay, src in zip(m.tasks, infos, layouts, data_src):
        calls = sum(1 << names[p] for p in t.calls)
        notifies = sum(1 << names[p] for p in t.notifies)
        flags = DescFlags.SUPERVISOR if t.supervisor else 0
        dbase, dsize = info["data_region"]
        dlen = len(info["data"])
        # Restart recipe: code and initial data in one copy, then zero the rest.
        tbase, tlen = info["text"][0], len(info["text_bytes"])
        fields = [lay.entry, lay.sp, lay.satp, t.priority, calls, notifies, int(flags), 2,
                  f"regions_{t.index}", tbase, src, tlen + dlen, dbase + dlen, dsize - dlen]
        out.append(f"    # task {t.index}: {t.name}")
        out.append("    .dword " + ", ".join(str(f) if isinstance(f, str) else f"{f:#x}"
                                            for f in fields))
    for t, lay in zip(m.tasks, layouts):
        out.append(f"regions_{t.index}:")
        out.append(f"    .dword {lay.text[0]:#x}, {lay.text[1]:#x}, "
                   f"{int(RegionPerm.R | RegionPerm.X):#x}")
        out.append(f"    .dword {lay.data[0]:#x}, {lay.data[1]:#x}, "
                   f"{int(RegionPerm.R | RegionPerm.W):#x}")
    out.append("irq_table:")
    for t in m.tasks:
        for irq, bit in t.interrupts.items():
            out.append(f"    .dword {irq}, {t.index}, {bit}")
    out += ["    .bss", "    .balign 64", "    .globl tcbs",
            "tcbs: .zero TASK_COUNT * TCB_SIZE", ""]
    return "\n".join(out)


def _check_kernel_size(path: Path) -> None:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        end = 0
        for sec in elf.iter_sections():
            if sec.name.startswith(".kernel.") and sec["sh_flags"] & 2:
                end = max(end, sec["sh_addr"] + sec["sh_size"])
    if end > Layout.KERNEL_LIMIT:
        raise ImageError(f"kernel ends at {end:#x}, past {Layout.KERNEL_LIMIT:#x}")
