"""Shared rig of the storage tests: a three-task system (tsuper, storage,
client) whose client runs a byte script, booted on Septum's board with the
disk on a host file; and a reader of the on-disk format in Python
(userland/storage/README.md), checksums by zlib.crc32."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from elftools.elf.elffile import ELFFile

from septum.hypervisor.machine import DISK_SLOT, Machine
from septum.toolchain.build import build

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "userland" / "storage"
LIB = ROOT / "userland" / "lib"
HERE = Path(__file__).resolve().parent / "storage"
SECTOR = 512
BUDGET = 400_000_000


def read_equs(path: Path) -> dict[str, int]:
    """The ``.equ NAME, NUMBER`` definitions of an include file (those
    whose value is a plain number)."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*\.equ\s+(\w+),\s*(0x[0-9a-fA-F]+|\d+)\s*(#.*)?$", line)
        if m:
            out[m.group(1)] = int(m.group(2), 0)
    return out


# The protocol (proto.inc) and the on-disk format (log.inc): written once,
# in the server's includes.
_PROTO = read_equs(STORAGE / "proto.inc")
_FORMAT = read_equs(STORAGE / "log.inc")
OK, NOT_FOUND, FULL, BAD_REQUEST, IO_ERROR = (
    _PROTO[f"STORE_{n}"] for n in ("OK", "NOT_FOUND", "FULL", "BAD_REQUEST", "IO_ERROR"))
PUT, GET, DEL, LIST = (_PROTO[f"STORE_OP_{n}"] for n in ("PUT", "GET", "DEL", "LIST"))
MAX_KEYS = _PROTO["STORE_MAX_KEYS"]
SB_MAGIC, REC_MAGIC, LOG_FIRST = _FORMAT["SB_MAGIC"], _FORMAT["REC_MAGIC"], _FORMAT["LOG_FIRST"]
REC_PUT, REC_DEL = _FORMAT["REC_PUT"], _FORMAT["REC_DEL"]

MANIFEST = """\
[tasks.tsuper]
source = "{here}/tsuper.S"
priority = 0
supervisor = true

[tasks.storage]
source = ["{storage}/server.S", "{storage}/log.S", "{storage}/blk.S", "{storage}/util.S",
          "{lib}/check.S", "{lib}/watch.S"]
priority = 1
devices = ["virtio7"]
interrupts = {{ virtio7 = 0 }}

[tasks.client]
source = ["{here}/client.S", "{tmp}/script.S", "{lib}/store.S", "{lib}/check.S"]
priority = 2
calls = ["storage", "tsuper"]
"""


class Script:
    """The client's commands, encoded as client.S reads them."""

    def __init__(self) -> None:
        self.data = bytearray()

    def put(self, key: bytes, value: bytes) -> "Script":
        self.data += b"P" + bytes([len(key)]) + key + struct.pack("<H", len(value)) + value
        return self

    def get(self, key: bytes) -> "Script":
        self.data += b"G" + bytes([len(key)]) + key
        return self

    def delete(self, key: bytes) -> "Script":
        self.data += b"D" + bytes([len(key)]) + key
        return self

    def ls(self) -> "Script":
        self.data += b"L"
        return self

    def ls_short(self, length: int) -> "Script":
        self.data += b"S" + struct.pack("<H", length)
        return self

    def raw(self, op: int, a3: int, a4: int, length: int) -> "Script":
        self.data += b"R" + struct.pack("<BHHH", op, a3, a4, length)
        return self

    def crash(self) -> "Script":
        self.data += b"C"
        return self


def make_disk(path: Path, sectors: int) -> Path:
    """A zero-filled disk image of ``sectors`` sectors."""
    path.write_bytes(bytes(sectors * SECTOR))
    return path


def build_system(tmp: Path, script: Script, name: str = "sys") -> Path:
    """Build the test system with ``script``; return the ELF."""
    work = tmp / name
    work.mkdir()
    body = ", ".join(str(b) for b in bytes(script.data) + b"Q")
    (work / "script.S").write_text(
        f"    .section .rodata\n    .globl script\nscript:\n    .byte {body}\n")
    (work / "storage.toml").write_text(
        MANIFEST.format(here=HERE, storage=STORAGE, lib=LIB, tmp=work))
    return build(work / "storage.toml", work / "sys.elf").elf


def run(elf: Path, disk: Path | None, readonly: bool = False) -> list[str]:
    """Boot ``elf`` with ``disk`` (None: no disk) until the client powers
    off; the client's and the server's lines."""
    m = Machine(ram_size=128 << 20, disk=None if disk is None else str(disk),
                disk_readonly=readonly)
    try:
        m.boot(bios=str(elf))
        stop = m.run(max_insns=BUDGET)
        out = m.uart_output.decode(errors="replace")
        assert stop.kind == "poweroff" and stop.exit_code == 0, (stop, out[-2000:])
    finally:
        m.close()
    return [ln for ln in out.splitlines()
            if ln.split(" ", 1)[0] in ("put", "get", "del", "ls", "raw", "crash",
                                       "storage:", "tsuper:")]


def client_lines(lines: list[str]) -> list[str]:
    """Only the client's result lines."""
    return [ln for ln in lines if not ln.startswith(("storage:", "tsuper:"))]


def read_superblocks(disk: bytes) -> list[tuple[int, int, int]]:
    """The valid superblock copies as (generation, active half, half size)."""
    out = []
    for s in (0, 1):
        sec = disk[s * SECTOR:(s + 1) * SECTOR]
        magic, gen, active, half, crc = struct.unpack_from("<IIIII", sec)
        if magic == SB_MAGIC and zlib.crc32(sec[:16]) == crc:
            out.append((gen, active, half))
    return out


def read_log(disk: bytes) -> tuple[list[tuple[int, bytes, bytes]], int]:
    """Replay the disk as the README describes: (records (kind, key, value)
    of the active half up to the first invalid one, first sector of the
    active half); no records on a disk without a valid superblock."""
    supers = read_superblocks(disk)
    if not supers:
        return [], LOG_FIRST  # never formatted: the server formats it empty
    gen, active, half = max(supers)
    base = LOG_FIRST + active * half
    records = []
    for slot in range(half):
        sec = bytearray(disk[(base + slot) * SECTOR:(base + slot + 1) * SECTOR])
        magic, rgen, klen, kind, vlen, crc = struct.unpack_from("<IIBBHI", sec)
        if magic != REC_MAGIC or rgen != gen or not 1 <= klen <= 32 or vlen > 256 \
                or kind not in (REC_PUT, REC_DEL):
            break
        sec[12:16] = bytes(4)
        if zlib.crc32(bytes(sec[:16 + klen + vlen])) != crc:
            break
        records.append((kind, bytes(sec[16:16 + klen]), bytes(sec[16 + klen:16 + klen + vlen])))
    return records, base


def replay(disk: bytes) -> dict[bytes, bytes]:
    """The key -> value map the records on ``disk`` describe."""
    out: dict[bytes, bytes] = {}
    for kind, key, value in read_log(disk)[0]:
        if kind == REC_PUT:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def run_for(elf: Path, disk: Path, max_insns: int,
            slow_ticks: int = 0) -> tuple[list[str], int, str]:
    """Boot ``elf`` with ``disk`` for at most ``max_insns`` instructions — a
    power cut when the budget ends first; (lines, instructions, stop kind).
    ``slow_ticks`` > 0: the disk completes each request that much later
    (:class:`SlowDisk`)."""
    m = Machine(ram_size=128 << 20, disk=str(disk))
    try:
        m.boot(bios=str(elf))
        if slow_ticks:
            SlowDisk(m, slow_ticks)
        stop = m.run(max_insns=max_insns)
        out = m.uart_output.decode(errors="replace")
        # A cut in the middle of a line (the firmware console prints a LOG
        # byte by byte) leaves it partial: it was never printed, so it
        # acknowledged nothing.
        lines = out.splitlines()
        if lines and not out.endswith("\n"):
            lines.pop()
        return lines, m.instret, stop.kind
    finally:
        m.close()


def symbol(elf: Path, name: str) -> int:
    """The address of the (first) symbol ``name`` in ``elf``."""
    with open(elf, "rb") as f:
        for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if s.name == name:
                return s["st_value"]
    raise KeyError(name)


def instret_at(elf: Path, disk: Path, names: list[str]) -> list[int]:
    """Instructions retired when each of the functions ``names`` is first
    entered, in that order (each after the previous one)."""
    m = Machine(ram_size=128 << 20, disk=str(disk))
    out = []
    try:
        m.boot(bios=str(elf))
        for name in names:
            stop = m.run(max_insns=BUDGET, breakpoints=[symbol(elf, name)])
            assert stop.kind == "breakpoint", (name, stop)
            out.append(m.instret)
    finally:
        m.close()
    return out


class SlowDisk:
    """Makes the disk of ``machine`` complete each request ``ticks`` mtime
    ticks after its QueueNotify, as QEMU's device completes asynchronously
    (Septum's board completes at the QueueNotify itself).  A pseudo-device
    in the machine's event list, as septum.testing.inject's delayed lines:
    an idle hart's ``wfi`` fast-forwards to the completion."""

    def __init__(self, machine: Machine, ticks: int) -> None:
        self.machine = machine
        self.ticks = ticks
        self.disk = machine.virtio[DISK_SLOT]
        self.due: list[tuple[int, int]] = []  # (virtual time, queue)
        self.completed = 0
        self._notify = self.disk.notify
        self.disk.notify = self._defer  # type: ignore[method-assign]
        machine._timed.append(self)  # type: ignore[arg-type]

    def _defer(self, queue: int) -> None:
        self.due.append((self.machine.clock() + self.ticks, queue))

    def next_event(self) -> int | None:
        """The next completion's time (None: nothing in flight)."""
        return min(t for t, _ in self.due) if self.due else None

    def advance(self, now: int) -> None:
        """Complete every request whose time has come."""
        ready = [q for t, q in self.due if t <= now]
        self.due = [(t, q) for t, q in self.due if t > now]
        for queue in ready:
            self._notify(queue)
            self.completed += 1
