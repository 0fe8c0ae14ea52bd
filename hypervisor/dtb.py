"""The board's flattened device tree, as QEMU's ``virt`` machine describes it.

``build_dtb(ram_size, ...)`` returns a DTB (version 17) with the nodes,
compatible strings, ``reg``/``interrupts`` values and phandles that
``qemu-system-riscv64 -M virt -machine dumpdtb=x.dtb`` produces, so that
OpenSBI, U-Boot and Linux find the same devices here as under QEMU::

    /                     compatible "riscv-virtio", model "riscv-virtio,qemu"
    /chosen               stdout-path, bootargs, linux,initrd-start/-end
    /poweroff, /reboot    syscon-poweroff 0x5555, syscon-reboot 0x7777 on /soc/test
    /memory@80000000      the RAM
    /cpus                 timebase-frequency 10 MHz; cpu@0 with its cpu-intc
    /soc                  simple-bus: rtc, serial, test, virtio_mmio x8, plic, clint
    /platform-bus@4000000 QEMU's dynamic sysbus bus, with Septum's hostlink@0

Phandles are QEMU's: cpu@0 = 1, its interrupt controller = 2, PLIC = 3,
test finisher = 4.

Deliberate differences from QEMU 7.2's tree (Debian's):

- ``riscv,isa`` is ``rv64imafdc_zicsr_zifencei`` and ``mmu-type`` is
  ``riscv,sv39``: what Unicorn's SiFive U54 model really implements (QEMU's
  default CPU has H, bit-manipulation, Sstc and Sv48/57).
- the PLIC's ``riscv,ndev`` is 95 (sources 1..95).  QEMU 7.2 writes 96 (its
  source count including the non-existent source 0); later QEMU writes 95.
- left out, because the board does not emulate them: ``/pmu``,
  ``fw-cfg@10100000``, ``flash@20000000``,
  ``/soc/pci@30000000``, and ``/chosen/rng-seed`` (random, so not
  deterministic).
- added: ``/platform-bus@4000000/hostlink@0`` (``septum,hostlink``, PLIC
  source 64), the host-link device, described the way QEMU describes a
  sysbus device placed on its platform bus (the bus node itself is QEMU's,
  property for property).

All eight virtio-mmio slots are listed whether or not a disk sits in one
(as QEMU does: an empty slot reads DeviceID 0).
"""

from __future__ import annotations

from typing import Iterable

import fdt

from septum.hypervisor import memmap

from .devices.finisher import FINISHER_PASS, FINISHER_RESET

#: The ISA string and MMU type of the CPU Unicorn emulates (SiFive U54).
RISCV_ISA = "rv64imafdc_zicsr_zifencei"
MMU_TYPE = "riscv,sv39"

#: Phandles, numbered as QEMU numbers them.
PHANDLE_CPU0 = 1
PHANDLE_CPU0_INTC = 2
PHANDLE_PLIC = 3
PHANDLE_TEST = 4

#: Highest PLIC source number (sources 1..95).
PLIC_NDEV = memmap.PLIC_NUM_SOURCES - 1

SOC = "/soc"
SERIAL_PATH = f"{SOC}/serial@{memmap.UART0_BASE:x}"


def _cells64(*values: int) -> list[int]:
    """Each 64-bit value as two 32-bit cells (#address-cells = #size-cells = 2)."""
    out: list[int] = []
    for v in values:
        out += [(v >> 32) & 0xFFFF_FFFF, v & 0xFFFF_FFFF]
    return out


def _node(tree: fdt.FDT, path: str, *props: fdt.Property) -> None:
    node = tree.get_node(path, create=True)
    for prop in props:
        node.append(prop)


def _words(name: str, *words: int) -> fdt.PropWords:
    return fdt.PropWords(name, *words)


def _strings(name: str, *strings: str) -> fdt.PropStrings:
    return fdt.PropStrings(name, *strings)


def _flag(name: str) -> fdt.Property:
    return fdt.Property(name)


def _irq_device(tree: fdt.FDT, name: str, base: int, size: int, irq: int,
                *extra: fdt.Property) -> None:
    _node(tree, f"{SOC}/{name}@{base:x}",
          _words("interrupts", irq),
          _words("interrupt-parent", PHANDLE_PLIC),
          *extra,
          _words("reg", *_cells64(base, size)))


def build_dtb(ram_size: int, *, bootargs: str = "", initrd: tuple[int, int] | None = None,
              virtio_disks: Iterable[int] = ()) -> bytes:
    """The device tree blob of a board with ``ram_size`` bytes of RAM.

    ``bootargs`` goes to /chosen (omitted when empty); ``initrd`` is the
    (start, end) physical range of an initial ramdisk, written as
    ``linux,initrd-start``/``-end``.  ``virtio_disks`` (the slots holding a
    disk) does not change the tree: all eight slots are always described,
    as under QEMU.  Raises ValueError for a RAM size that is not positive.
    """
    if ram_size <= 0:
        raise ValueError(f"RAM size {ram_size} must be positive")
    for slot in virtio_disks:
        if not 0 <= slot < memmap.VIRTIO_COUNT:
            raise ValueError(f"virtio slot {slot} out of range 0..{memmap.VIRTIO_COUNT - 1}")

    tree = fdt.FDT()
    root = tree.get_node("/")
    for prop in (_words("#address-cells", 2), _words("#size-cells", 2),
                 _strings("compatible", "riscv-virtio"), _strings("model", "riscv-virtio,qemu")):
        root.append(prop)

    chosen = [_strings("stdout-path", SERIAL_PATH)]
    if bootargs:
        chosen.append(_strings("bootargs", bootargs))
    if initrd is not None:
        chosen.append(_words("linux,initrd-start", *_cells64(initrd[0])))
        chosen.append(_words("linux,initrd-end", *_cells64(initrd[1])))
    _node(tree, "/chosen", *chosen)

    for name, compat, value in (("poweroff", "syscon-poweroff", FINISHER_PASS),
                                ("reboot", "syscon-reboot", FINISHER_RESET)):
        _node(tree, f"/{name}", _words("value", value), _words("offset", 0),
              _words("regmap", PHANDLE_TEST), _strings("compatible", compat))

    _node(tree, f"/memory@{memmap.DRAM_BASE:x}", _strings("device_type", "memory"),
          _words("reg", *_cells64(memmap.DRAM_BASE, ram_size)))

    _node(tree, "/cpus", _words("#address-cells", 1), _words("#size-cells", 0),
          _words("timebase-frequency", memmap.TIMEBASE_FREQ))
    _node(tree, "/cpus/cpu@0", _words("phandle", PHANDLE_CPU0), _strings("device_type", "cpu"),
          _words("reg", 0), _strings("status", "okay"), _strings("compatible", "riscv"),
          _strings("riscv,isa", RISCV_ISA), _strings("mmu-type", MMU_TYPE))
    _node(tree, "/cpus/cpu@0/interrupt-controller", _words("#interrupt-cells", 1),
          _flag("interrupt-controller"), _strings("compatible", "riscv,cpu-intc"),
          _words("phandle", PHANDLE_CPU0_INTC))
    _node(tree, "/cpus/cpu-map/cluster0/core0", _words("cpu", PHANDLE_CPU0))

    _node(tree, SOC, _words("#address-cells", 2), _words("#size-cells", 2),
          _strings("compatible", "simple-bus"), _flag("ranges"))
    _irq_device(tree, "rtc", memmap.RTC_BASE, memmap.RTC_SIZE, memmap.RTC_IRQ,
                _strings("compatible", "google,goldfish-rtc"))
    _irq_device(tree, "serial", memmap.UART0_BASE, memmap.UART0_SIZE, memmap.UART0_IRQ,
                _words("clock-frequency", memmap.UART0_CLOCK), _strings("compatible", "ns16550a"))
    _node(tree, f"{SOC}/test@{memmap.TEST_BASE:x}", _words("phandle", PHANDLE_TEST),
          _words("reg", *_cells64(memmap.TEST_BASE, memmap.TEST_SIZE)),
          _strings("compatible", "sifive,test1", "sifive,test0", "syscon"))
    # Highest slot first, as QEMU adds them (the first virtio device lands in slot 7).
    for slot in reversed(range(memmap.VIRTIO_COUNT)):
        _irq_device(tree, "virtio_mmio", memmap.VIRTIO_BASE + slot * memmap.VIRTIO_SIZE,
                    memmap.VIRTIO_SIZE, memmap.VIRTIO_IRQ_BASE + slot,
                    _strings("compatible", "virtio,mmio"))
    _node(tree, f"{SOC}/plic@{memmap.PLIC_BASE:x}", _words("phandle", PHANDLE_PLIC),
          _words("riscv,ndev", PLIC_NDEV),
          _words("reg", *_cells64(memmap.PLIC_BASE, memmap.PLIC_SIZE)),
          # Context 0 -> M external (11), context 1 -> S external (9) of hart 0.
          _words("interrupts-extended", PHANDLE_CPU0_INTC, 11, PHANDLE_CPU0_INTC, 9),
          _flag("interrupt-controller"),
          _strings("compatible", "sifive,plic-1.0.0", "riscv,plic0"),
          _words("#address-cells", 0), _words("#interrupt-cells", 1))
    _node(tree, f"{SOC}/clint@{memmap.CLINT_BASE:x}",
          # Machine software (3) and machine timer (7) of hart 0.
          _words("interrupts-extended", PHANDLE_CPU0_INTC, 3, PHANDLE_CPU0_INTC, 7),
          _words("reg", *_cells64(memmap.CLINT_BASE, memmap.CLINT_SIZE)),
          _strings("compatible", "sifive,clint0", "riscv,clint0"))

    bus = f"/platform-bus@{memmap.PLATFORM_BUS_BASE:x}"
    _node(tree, bus, _words("interrupt-parent", PHANDLE_PLIC),
          _words("ranges", 0, 0, memmap.PLATFORM_BUS_BASE, memmap.PLATFORM_BUS_SIZE),
          _words("#address-cells", 1), _words("#size-cells", 1),
          _strings("compatible", "qemu,platform", "simple-bus"))
    hostlink = memmap.HOSTLINK_BASE - memmap.PLATFORM_BUS_BASE
    _node(tree, f"{bus}/hostlink@{hostlink:x}", _words("interrupts", memmap.HOSTLINK_IRQ),
          _words("reg", hostlink, memmap.HOSTLINK_SIZE),
          _strings("compatible", "septum,hostlink"))

    return tree.to_dtb(version=17, last_comp_version=16, boot_cpuid_phys=0)
