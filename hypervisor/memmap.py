"""The physical memory map of Septum's board, identical to QEMU's ``virt``.

::

    0x0000_0000 ┌──────────────────────────┐
                │ (unmapped)               │
    0x0000_1000 ├──────────────────────────┤ MROM: reset stub, fw_dynamic info
    0x0001_0000 ├──────────────────────────┤
                │ (unmapped)               │
    0x0010_0000 ├──────────────────────────┤ sifive,test0 finisher
    0x0010_1000 ├──────────────────────────┤ goldfish RTC          IRQ 11
    0x0010_2000 ├──────────────────────────┤
                │ (unmapped)               │
    0x0200_0000 ├──────────────────────────┤ CLINT: msip, mtimecmp, mtime
    0x0201_0000 ├──────────────────────────┤
                │ (unmapped)               │
    0x0400_0000 ├──────────────────────────┤ platform bus: host link IRQ 64 (64..95)
    0x0400_1000 ├──────────────────────────┤
                │ (unmapped)               │
    0x0c00_0000 ├──────────────────────────┤ PLIC: contexts 0 = M, 1 = S
    0x0c60_0000 ├──────────────────────────┤
                │ (unmapped)               │
    0x1000_0000 ├──────────────────────────┤ UART0 ns16550a        IRQ 10
    0x1000_1000 ├──────────────────────────┤ virtio-mmio 0..7      IRQ 1..8
    0x1000_9000 ├──────────────────────────┤
                │ (unmapped)               │
    0x8000_0000 ├──────────────────────────┤ DRAM (-m, default 128 MiB)
                │ firmware  0x8000_0000    │
                │ kernel    0x8020_0000    │
                │ ...                      │
                │ DTB: end of RAM (capped  │
                │ at 3 GiB) − size, 2 MiB  │
                │ aligned down             │
                └──────────────────────────┘

Reference: ``qemu-system-riscv64 -M virt -dumpdtb`` and QEMU's hw/riscv/virt.c
memory map (facts only).
"""

from __future__ import annotations

MROM_BASE = 0x0000_1000
MROM_SIZE = 0xF000

TEST_BASE = 0x0010_0000  # sifive,test0 / syscon-poweroff
TEST_SIZE = 0x1000

RTC_BASE = 0x0010_1000  # google,goldfish-rtc
RTC_SIZE = 0x1000
RTC_IRQ = 11

CLINT_BASE = 0x0200_0000
CLINT_SIZE = 0x10000
CLINT_MSIP = 0x0
CLINT_MTIMECMP = 0x4000
CLINT_MTIME = 0xBFF8

PLIC_BASE = 0x0C00_0000
PLIC_SIZE = 0x600000
PLIC_NUM_SOURCES = 96  # sources 1..95; source 0 does not exist
PLIC_NUM_PRIORITIES = 7
PLIC_CONTEXT_M = 0  # hart 0 machine-mode external interrupt (MEIP)
PLIC_CONTEXT_S = 1  # hart 0 supervisor-mode external interrupt (SEIP)

UART0_BASE = 0x1000_0000
UART0_SIZE = 0x100
UART0_IRQ = 10
UART0_CLOCK = 3_686_400

VIRTIO_BASE = 0x1000_1000
VIRTIO_SIZE = 0x1000
VIRTIO_COUNT = 8
VIRTIO_IRQ_BASE = 1  # virtio-mmio slot i raises PLIC source 1 + i

# QEMU virt's platform bus, where dynamic sysbus devices go: nothing of
# QEMU's own board lives there, so Septum's own devices do.
PLATFORM_BUS_BASE = 0x0400_0000
PLATFORM_BUS_SIZE = 0x0200_0000
PLATFORM_BUS_IRQ = 64  # its PLIC sources: 64 .. 64 + PLATFORM_BUS_NUM_IRQS - 1
PLATFORM_BUS_NUM_IRQS = 32

HOSTLINK_BASE = PLATFORM_BUS_BASE  # septum,hostlink: the host's IPC mailbox
HOSTLINK_SIZE = 0x1000
HOSTLINK_IRQ = PLATFORM_BUS_IRQ

DRAM_BASE = 0x8000_0000
DRAM_DEFAULT_SIZE = 128 * 1024 * 1024

FIRMWARE_BASE = DRAM_BASE
KERNEL_BASE = 0x8020_0000  # where -kernel lands behind a firmware (RV64)

#: CLINT mtime frequency (the device tree's timebase-frequency).
TIMEBASE_FREQ = 10_000_000

#: Highest address the DTB may sit below (QEMU caps it at 3 GiB).
DTB_CAP = 0xC000_0000
DTB_ALIGN = 2 * 1024 * 1024


def dtb_address(ram_size: int, dtb_size: int) -> int:
    """Where the DTB goes, as QEMU places it: the end of RAM (capped at
    3 GiB), minus the blob's size, rounded down to 2 MiB."""
    end = min(DRAM_BASE + ram_size, DTB_CAP)
    return (end - dtb_size) & ~(DTB_ALIGN - 1)
