"""Loading images and booting the board the way QEMU's ``virt`` does.

Images:

* **ELF** (RV64, ``EM_RISCV``): every ``PT_LOAD`` segment at its *physical*
  address ``p_paddr`` (``p_filesz`` bytes from the file, zero-filled to
  ``p_memsz``).  Each segment must lie in RAM (or the MROM), except the ELF
  headers GNU ld places a page below ``.text`` (dropped, as QEMU drops
  them).  A ``tohost`` symbol switches HTIF on (hypervisor/htif.py).
* **Flat binaries**: loaded as they are at a given address.

QEMU's ``-bios``/``-kernel`` semantics (hw/riscv/boot.c, hw/riscv/virt.c):

* ``bios="none"``: no firmware.  ``kernel`` is loaded (ELF at its own
  addresses, flat at 0x8000_0000) and the reset stub jumps to 0x8000_0000,
  the start of DRAM, as QEMU's does: ``e_entry`` is not consulted (a warning
  says so when the image does not start there).  A lone image under
  ``septum run IMAGE`` is exactly this.  (The Python API's
  ``boot(entry=...)`` may name another start.)
* ``bios="default"``: Debian's OpenSBI ``fw_dynamic`` (the first of
  :data:`DEFAULT_BIOS_PATHS` that exists) at 0x8000_0000; ``bios=PATH``: that
  file (ELF or flat) instead.  A ``kernel`` then goes to its ELF addresses, or
  flat at 0x8020_0000, and the fw_dynamic info tells the firmware to enter it
  in S-mode at its lowest loaded address (QEMU's riscv_load_kernel).  The
  reset stub jumps to 0x8000_0000.
* The device tree (hypervisor/dtb.py) is placed by
  :func:`memmap.dtb_address`; the MROM at 0x1000 holds QEMU's reset stub and
  the ``fw_dynamic_info`` structure right after it.  The hart starts at
  0x1000 in M-mode with every register zero; the stub leaves a0 = hart id,
  a1 = DTB address, a2 = &fw_dynamic_info and jumps to the firmware (or, with
  no firmware, the kernel).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from septum.hypervisor import memmap
from septum.hypervisor.errors import MachineError
from septum.toolchain.errors import ImageError

log = logging.getLogger("septum.loader")

if TYPE_CHECKING:
    from septum.hypervisor.machine import Machine

#: Where ``-bios default`` looks for OpenSBI's fw_dynamic, in order.
DEFAULT_BIOS_PATHS = (
    "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin",
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
)

EM_RISCV = 243

#: fw_dynamic_info (OpenSBI include/sbi/fw_dynamic.h), as QEMU fills it.
FW_DYNAMIC_INFO_MAGIC = 0x4942534F
FW_DYNAMIC_INFO_VERSION = 2
FW_DYNAMIC_INFO_NEXT_MODE_S = 1

#: QEMU's RV64 reset stub (hw/riscv/boot.c, riscv_setup_rom_reset_vec):
#:   auipc t0, 0 ; addi a2, t0, 40 ; csrr a0, mhartid ; ld a1, 32(t0) ;
#:   ld t0, 24(t0) ; jr t0 ; .dword start ; .dword fdt
RESET_STUB = (0x00000297, 0x02828613, 0xF1402573, 0x0202B583, 0x0182B283, 0x00028067)
#: fw_dynamic_info sits right after the stub and its two dwords.
FW_DYN_OFFSET = 4 * len(RESET_STUB) + 16


def _read_file(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise MachineError(f"{what} {os.fspath(path)!r}: no such file") from None
    except IsADirectoryError:
        raise MachineError(f"{what} {os.fspath(path)!r}: is a directory") from None
    except OSError as exc:
        raise MachineError(f"{what} {os.fspath(path)!r}: {exc.strerror}") from None


def is_elf(data: bytes) -> bool:
    """True when ``data`` starts with the ELF magic."""
    return data[:4] == b"\x7fELF"


def _place(m: "Machine", addr: int, data: bytes, what: str) -> None:
    n = len(data)
    if not (m.in_ram(addr, max(n, 1)) or m._in_rom(addr, max(n, 1))):
        raise MachineError(
            f"{what}: {addr:#x}..{addr + n:#x} is outside RAM "
            f"({memmap.DRAM_BASE:#x}..{memmap.DRAM_BASE + m.ram_size:#x})")
    if n:
        m.write_phys(addr, data)


def load_elf_bytes(m: "Machine", data: bytes, name: str) -> int:
    """Load an ELF image held in ``data`` (``name`` for messages); return
    its entry point."""
    return _load_elf(m, data, name)[0]


def _header_overhang(elf: ELFFile, seg) -> int:
    """How many leading bytes of ``seg`` to drop because they lie below RAM
    and hold nothing but the ELF and program headers.

    GNU ld (without ``-N``) puts the headers in the first PT_LOAD segment,
    a page below ``.text``: for an image linked at 0x8000_0000 that segment
    starts at 0x7fff_f000, outside RAM.  QEMU loads such images (the bytes
    below RAM go nowhere), so Septum drops exactly those header bytes; any
    other byte outside RAM is still an error.
    """
    addr = seg["p_paddr"]
    if seg["p_offset"] != 0 or addr >= memmap.DRAM_BASE:
        return 0
    below = memmap.DRAM_BASE - addr
    if below > seg["p_filesz"]:
        return 0
    headers = max(elf["e_ehsize"], elf["e_phoff"] + elf["e_phnum"] * elf["e_phentsize"])
    # Past the headers, the dropped bytes may only be the zero padding up
    # to the page where the sections start.
    if any(seg.data()[headers:below]):
        return 0
    return below


def _load_elf(m: "Machine", data: bytes, name: str) -> tuple[int, int]:
    """Load an ELF image; return (entry point, lowest loaded address)."""
    import io

    try:
        elf = ELFFile(io.BytesIO(data))
        if elf["e_machine"] != "EM_RISCV" or elf.elfclass != 64:
            raise ImageError(f"{name}: not an RV64 RISC-V ELF "
                             f"(machine {elf['e_machine']}, ELF{elf.elfclass})")
        loaded = 0
        lowest = None
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            body = seg.data()
            if len(body) != seg["p_filesz"]:
                raise ImageError(f"{name}: truncated segment at offset {seg['p_offset']:#x}")
            body = body + bytes(seg["p_memsz"] - seg["p_filesz"])
            addr = seg["p_paddr"]
            drop = _header_overhang(elf, seg)
            addr, body = addr + drop, body[drop:]
            _place(m, addr, body, f"{name}: segment")
            lowest = addr if lowest is None else min(lowest, addr)
            loaded += 1
        if not loaded:
            raise ImageError(f"{name}: no loadable segment")
        symbols: dict[str, int] = {}
        for sec in elf.iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    if sym.name and sym["st_info"]["type"] in ("STT_NOTYPE", "STT_OBJECT",
                                                                "STT_FUNC"):
                        symbols.setdefault(sym.name, sym["st_value"])
        entry = elf["e_entry"]
    except ELFError as exc:
        raise ImageError(f"{name}: bad ELF file: {exc}") from None
    except (struct.error, ValueError, OverflowError) as exc:
        raise ImageError(f"{name}: bad ELF file: {exc}") from None
    m.symbols.update(symbols)
    if "tohost" in symbols:
        from septum.hypervisor.htif import Htif

        m.htif = Htif(m, symbols["tohost"], symbols.get("fromhost"))
    return entry, lowest


def load_elf(m: "Machine", path: str | os.PathLike[str]) -> int:
    """Load the ELF file at ``path``; return its entry point."""
    data = _read_file(path, "image")
    if not is_elf(data):
        raise ImageError(f"{os.fspath(path)}: not an ELF file")
    return load_elf_bytes(m, data, os.fspath(path))


def load_binary(m: "Machine", data_or_path: bytes | str | os.PathLike[str], addr: int) -> int:
    """Load a flat binary (bytes, or a file's contents) at ``addr``."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        data, name = bytes(data_or_path), "binary"
    else:
        data, name = _read_file(data_or_path, "image"), os.fspath(data_or_path)
    _place(m, addr, data, name)
    return addr


def load_image(m: "Machine", path: str | os.PathLike[str], flat_addr: int) -> int:
    """Load an ELF at its addresses or a flat binary at ``flat_addr``;
    return the entry point."""
    return _load_any(m, path, flat_addr)[0]


def _load_any(m: "Machine", path: str | os.PathLike[str], flat_addr: int) -> tuple[int, int]:
    """Load an ELF or a flat binary; return (entry point, lowest address)."""
    data = _read_file(path, "image")
    if is_elf(data):
        return _load_elf(m, data, os.fspath(path))
    _place(m, flat_addr, data, os.fspath(path))
    return flat_addr, flat_addr


def _load_kernel(m: "Machine", path: str | os.PathLike[str], flat_addr: int) -> int:
    """Load a kernel (ELF at its addresses, flat binary at ``flat_addr``);
    return the lowest address it occupies, as QEMU's riscv_load_kernel."""
    return _load_any(m, path, flat_addr)[1]


def default_bios() -> str:
    """Path of Debian's OpenSBI fw_dynamic.bin (MachineError if absent)."""
    for path in DEFAULT_BIOS_PATHS:
        if os.path.exists(path):
            return path
    raise MachineError("-bios default: OpenSBI fw_dynamic.bin not found in "
                       + ", ".join(DEFAULT_BIOS_PATHS))


def reset_rom(start: int, fdt_addr: int, next_addr: int) -> bytes:
    """The MROM contents: QEMU's reset stub then fw_dynamic_info."""
    stub = struct.pack("<6I", *RESET_STUB) + struct.pack("<QQ", start, fdt_addr)
    info = struct.pack("<6Q", FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, next_addr,
                       FW_DYNAMIC_INFO_NEXT_MODE_S, 0, 0)
    assert len(stub) == FW_DYN_OFFSET
    return stub + info


def boot(m: "Machine", bios: str | None = "none",
         kernel: str | os.PathLike[str] | None = None, entry: int | None = None) -> None:
    """Load firmware and kernel, write the DTB and the MROM, reset the hart."""
    from septum.hypervisor.dtb import build_dtb

    # As QEMU's virt: the reset stub always jumps to the start of DRAM (an
    # ELF's e_entry is not consulted), and the kernel's address handed to the
    # firmware (fw_dynamic's next_addr) is the lowest address it loads at.
    next_addr = 0
    if bios in (None, "none"):
        if kernel is not None:
            start = memmap.DRAM_BASE
            lowest = _load_kernel(m, kernel, memmap.DRAM_BASE)
            if lowest != start:
                log.warning("%s loads at %#x, but the board starts at %#x (as QEMU's "
                            "-bios none does)", os.fspath(kernel), lowest, start)
        elif entry is not None:
            start = entry
        elif m.entry is not None:
            start = m.entry
        else:
            start = memmap.DRAM_BASE
    else:
        path = default_bios() if bios == "default" else bios
        load_image(m, path, memmap.FIRMWARE_BASE)
        start = memmap.FIRMWARE_BASE
        if kernel is not None:
            next_addr = _load_kernel(m, kernel, memmap.KERNEL_BASE)
    m.entry = start
    slots = [dev_index for dev_index, dev in enumerate(m.virtio)
             if type(dev).__name__ != "VirtioMmio"]
    dtb = build_dtb(m.ram_size, bootargs=m.bootargs, virtio_disks=slots)
    fdt_addr = memmap.dtb_address(m.ram_size, len(dtb))
    if fdt_addr < memmap.DRAM_BASE:
        raise MachineError(f"RAM of {m.ram_size:#x} bytes is too small for the device tree")
    m.write_phys(fdt_addr, dtb)
    m.write_phys(memmap.MROM_BASE, reset_rom(start, fdt_addr, next_addr))
    m.dtb_address = fdt_addr
    cpu = m.cpu
    for i in range(1, 32):
        cpu.set_gpr(i, 0)
    cpu.priv = 3
    cpu.pc = memmap.MROM_BASE
