"""Bare-metal benchmark guests run three ways on the same ELF: Septum's
:class:`Machine`, bare Unicorn, and real QEMU.

Guests are assembled by Septum's assembler at DRAM_BASE, start at ``_start``
in M-mode and power off by writing FINISHER_PASS to the test finisher at the
label ``done`` (the store is the last instruction counted).  Used by
bench_mips.py and bench_trap.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_RISCV, UC_HOOK_INTR, UC_MODE_RISCV64, UC_PROT_ALL, Uc
from unicorn.riscv_const import UC_RISCV_REG_PC

from septum.hypervisor import memmap
from septum.hypervisor.machine import SLICE_INSNS, Machine
from septum.toolchain import Image, Source, assemble

MARCH = "rv64imac_zicsr_zifencei"

#: The finisher's "pass" command (sifive,test0).
FINISHER_PASS = 0x5555

#: Common tail of every guest: the counted power-off store.
EXIT = f"""\
    .globl done
done:
    li      t1, {memmap.TEST_BASE:#x}
    li      t2, {FINISHER_PASS:#x}
    sw      t2, 0(t1)
    .globl after_done
after_done:
    j       after_done
"""


@dataclass
class Guest:
    """An assembled guest: its ELF on disk and the linked image."""

    elf: Path
    image: Image

    def addr(self, name: str) -> int:
        """Address of the symbol ``name``."""
        sym = self.image.symbol(name)
        if sym is None:
            raise KeyError(name)
        return sym.value


def build(source: str, out: Path) -> Guest:
    """Assemble ``source`` (plus :data:`EXIT`) into ``out``."""
    image = assemble([Source(out.stem + ".S", source + "\n" + EXIT)],
                     base=memmap.DRAM_BASE, march=MARCH)
    out.write_bytes(image.to_elf())
    return Guest(out, image)


def run_septum(guest: Guest, budget: int = 10**10, tb_count: bool = True) -> tuple[float, int]:
    """(host seconds, guest instructions) of ``Machine.run`` from ``_start``
    through the power-off store; the reset stub before ``_start`` is run
    first and not counted.  ``tb_count=False``: count per instruction even
    with Septum's build of Unicorn (cpu.py)."""
    m = Machine(ram_size=128 << 20)
    m.cpu.tb_wanted = tb_count
    try:
        m.boot(bios="none", kernel=str(guest.elf))
        stop = m.run(max_insns=budget, breakpoints=[guest.addr("_start")])
        if stop.kind != "breakpoint":
            raise RuntimeError(f"{guest.elf.name}: never reached _start ({stop})")
        start = m.instret
        t0 = time.perf_counter()
        stop = m.run(max_insns=budget)
        host = time.perf_counter() - t0
        if stop.kind != "poweroff" or stop.exit_code != 0:
            raise RuntimeError(f"{guest.elf.name}: {stop}")
        return host, m.instret - start
    finally:
        m.close()


def run_unicorn_stock(guest: Guest, slice_insns: int = 0) -> float:
    """:func:`run_unicorn` on the stock Unicorn wheel from PyPI, in a
    subprocess (``SEPTUM_UNICORN=stock``): this process may have Septum's
    build loaded, and bare Unicorn means the pinned release itself."""
    env = dict(os.environ)
    env.pop("LIBUNICORN_PATH", None)
    env["SEPTUM_UNICORN"] = "stock"
    code = ("import sys; from pathlib import Path; from septum.tests.bench import bareguest as b; "
            "from septum.hypervisor import unicorn_build as u; assert u.loaded() == 'stock'; "
            "g = b.Guest(Path(sys.argv[1]), None); "
            "print(b.run_unicorn(g, slice_insns=int(sys.argv[4]), "
            "addrs=(int(sys.argv[2]), int(sys.argv[3]))))")
    r = subprocess.run([sys.executable, "-c", code, str(guest.elf), str(guest.addr("_start")),
                        str(guest.addr("after_done")), str(slice_insns)],
                       env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"stock Unicorn run failed: {r.stderr.strip()[-500:]}")
    return float(r.stdout.strip().splitlines()[-1])


def run_unicorn(guest: Guest, intr_hook: Callable[..., None] | None = None,
                slice_insns: int = 0, addrs: tuple[int, int] | None = None) -> float:
    """Host seconds of bare Unicorn (no hooks, or only ``intr_hook`` on
    ``UC_HOOK_INTR``) from ``_start`` to ``after_done``: the same
    instructions Septum counts.  ``slice_insns`` > 0 runs in
    ``emu_start(count=slice_insns)`` slices as Septum's run loop does
    (Unicorn then counts instructions, which costs by itself).  The
    finisher page is plain RAM here."""
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(memmap.DRAM_BASE, 2 << 20, UC_PROT_ALL)
    uc.mem_map(memmap.TEST_BASE, 0x1000, UC_PROT_ALL)
    with open(guest.elf, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]:
                uc.mem_write(seg["p_paddr"], seg.data())
    if intr_hook is not None:
        uc.hook_add(UC_HOOK_INTR, intr_hook)
    pc, end = addrs or (guest.addr("_start"), guest.addr("after_done"))
    t0 = time.perf_counter()
    if slice_insns <= 0:
        uc.emu_start(pc, end)
    else:
        while pc != end:
            uc.emu_start(pc, end, 0, slice_insns)
            pc = uc.reg_read(UC_RISCV_REG_PC)
    return time.perf_counter() - t0
