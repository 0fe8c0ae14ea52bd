"""Device benchmark: host cost of the board's MMIO dispatch, the path every
guest register access takes (Unicorn's callback overhead excluded).

Run: ``python -m septum.tests.bench.bench_devices [--ops N]``.  Prints
accesses per second of host time for the hottest accesses — a polled UART
LSR, a CLINT mtime half, a PLIC claim/complete pair, and a 4 KiB virtio-blk
read request over split virtqueues in a Python "RAM".  Nothing here asserts
a timing.
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path
from typing import Callable

from septum.hypervisor.devices.base import BufferDma, IrqLine
from septum.hypervisor.devices.clint import Clint
from septum.hypervisor.devices.plic import Plic
from septum.hypervisor.devices.uart import Uart16550
from septum.hypervisor.devices.virtio_blk import VirtioBlk

RAM_BASE = 0x8000_0000
DESC, AVAIL, USED, HDR, STATUS, BUF = (RAM_BASE + o for o in (0x0, 0x1000, 0x2000, 0x3000,
                                                              0x3100, 0x4000))
QSIZE = 8
SECTORS = 64


def _virtio_setup(disk: Path) -> tuple[VirtioBlk, bytearray]:
    """A virtio-blk device, initialised like a driver does, with one
    3-descriptor IN chain of 4 KiB at descriptor 0."""
    ram = bytearray(0x8000)
    dev = VirtioBlk(IrqLine(), BufferDma(ram, RAM_BASE), disk)
    w = dev.write
    w(0x070, 4, 1 | 2)
    w(0x024, 4, 1)
    w(0x020, 4, 1)  # VIRTIO_F_VERSION_1
    w(0x070, 4, 1 | 2 | 8)
    w(0x038, 4, QSIZE)
    w(0x080, 4, DESC)
    w(0x090, 4, AVAIL)
    w(0x0A0, 4, USED)
    w(0x044, 4, 1)
    w(0x070, 4, 1 | 2 | 8 | 4)
    descs = [(HDR, 16, 1, 1), (BUF, 4096, 2 | 1, 2), (STATUS, 1, 2, 0)]
    for i, (addr, n, flags, nxt) in enumerate(descs):
        ram[DESC - RAM_BASE + 16 * i : DESC - RAM_BASE + 16 * (i + 1)] = struct.pack("<QIHH", addr, n, flags, nxt)
    ram[HDR - RAM_BASE : HDR - RAM_BASE + 16] = struct.pack("<IIQ", 0, 0, 0)
    return dev, ram


def run(ops: int, workdir: Path) -> list[tuple[str, int, float]]:
    """(name, operations, operations per second) for each measured access."""
    uart = Uart16550(IrqLine(), lambda b: None)
    clint = Clint(lambda: 12345, lambda b, l: None)
    plic = Plic(lambda b, l: None)
    line = plic.line(10)
    plic.write(4 * 10, 4, 1)
    plic.write(0x2000, 4, 1 << 10)
    line.set(True)
    disk = workdir / "bench.img"
    disk.write_bytes(bytes(range(256)) * (SECTORS * 2))
    blk, ram = _virtio_setup(disk)
    avail = [0]

    def virtio_read() -> None:
        idx = avail[0] = (avail[0] + 1) & 0xFFFF
        ram[AVAIL - RAM_BASE + 4 + 2 * ((idx - 1) % QSIZE)] = 0
        ram[AVAIL - RAM_BASE + 2 : AVAIL - RAM_BASE + 4] = struct.pack("<H", idx)
        blk.write(0x050, 4, 0)
        blk.write(0x064, 4, 1)

    def claim_complete() -> None:
        plic.write(0x200004, 4, plic.read(0x200004, 4))

    cases: list[tuple[str, int, Callable[[], object]]] = [
        ("uart LSR read", ops, lambda: uart.read(5, 1)),
        ("uart THR write", ops, lambda: uart.write(0, 1, 0x41)),
        ("clint mtime read (32-bit)", ops, lambda: clint.read(0xBFF8, 4)),
        ("plic claim+complete", ops // 2, claim_complete),
        ("virtio-blk 4 KiB read", max(1, ops // 50), virtio_read),
    ]
    rows = []
    for name, n, fn in cases:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rows.append((name, n, n / (time.perf_counter() - t0)))
    # The work was real: the last virtio request succeeded with the disk's bytes.
    if ram[STATUS - RAM_BASE] != 0 or bytes(ram[BUF - RAM_BASE : BUF - RAM_BASE + 4096]) != disk.read_bytes()[:4096]:
        raise SystemExit("virtio-blk benchmark request failed")
    blk.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=200_000, help="accesses per case (default 200000)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.ops, Path(tmp))
    print(f"{'access':<28}{'count':>10}{'per second (host)':>20}")
    for name, n, rate in rows:
        print(f"{name:<28}{n:>10}{rate:>20,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
