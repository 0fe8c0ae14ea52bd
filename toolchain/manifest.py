"""The system manifest (``system.toml``): parsing and validation.

The manifest declares the whole system, in the spirit of Hubris's ``app.toml``:
every task with its sources, priority, stack, the devices (MMIO windows) and
interrupts it owns, the peers it may call or notify, and which task is the
supervisor.  The schema is documented in kernel/README.md.  Every mistake
raises :class:`ImageError` naming the file and the key at fault.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from septum.hypervisor import memmap
from septum.kernel.abi import NOTIFY_FAULT_BIT, Limits
from septum.toolchain.errors import ImageError

#: Lowest priority number allowed (0 is the most urgent).
MAX_PRIORITY = 7
DEFAULT_STACK = 4096
DEFAULT_TICK = 100_000  # timebase ticks per time slice (10 ms at 10 MHz)


@dataclass(frozen=True)
class Device:
    """An MMIO window a task may be granted, and its PLIC source (0: none)."""

    name: str
    base: int
    size: int
    irq: int = 0


def _devices() -> dict[str, Device]:
    page = 0x1000
    devs = [
        Device("test", memmap.TEST_BASE, page),
        Device("rtc", memmap.RTC_BASE, page, memmap.RTC_IRQ),
        Device("uart0", memmap.UART0_BASE, page, memmap.UART0_IRQ),
    ]
    for i in range(memmap.VIRTIO_COUNT):
        devs.append(Device(f"virtio{i}", memmap.VIRTIO_BASE + i * memmap.VIRTIO_SIZE,
                           memmap.VIRTIO_SIZE, memmap.VIRTIO_IRQ_BASE + i))
    # The host link: for the IPC proxy task (userland/hostlink), which
    # serves the host's requests with its own manifest authority.
    devs.append(Device("hostlink", memmap.HOSTLINK_BASE, memmap.HOSTLINK_SIZE,
                       memmap.HOSTLINK_IRQ))
    return {d.name: d for d in devs}


#: The devices a manifest may name, by name.
DEVICES: dict[str, Device] = _devices()


@dataclass
class Task:
    """One task as the manifest declares it (peers still by name)."""

    name: str
    index: int
    sources: list[Path]
    priority: int
    stack: int
    supervisor: bool = False
    calls: list[str] = field(default_factory=list)
    notifies: list[str] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    interrupts: dict[int, int] = field(default_factory=dict)  # irq -> bit


@dataclass
class Manifest:
    """A validated manifest."""

    path: Path
    tick: int
    tasks: list[Task]

    def task(self, name: str) -> Task:
        """The task called ``name`` (KeyError if none)."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def supervisor(self) -> Task:
        """The supervisor task."""
        return next(t for t in self.tasks if t.supervisor)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate the manifest at ``path``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read manifest: {exc.strerror or exc}") from None
    return parse_manifest(text, path)


def parse_manifest(text: str, path: str | Path = "system.toml") -> Manifest:
    """Validate manifest ``text``; sources resolve relative to ``path``'s folder."""
    path = Path(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImageError(f"{path}: invalid TOML: {exc}") from None

    def fail(key: str, msg: str) -> ImageError:
        return ImageError(f"{path}: {key}: {msg}")

    known_top = {"kernel", "tasks"}
    for key in doc:
        if key not in known_top:
            raise fail(key, f"unknown key (expected one of {sorted(known_top)})")
    kernel = doc.get("kernel", {})
    if not isinstance(kernel, dict):
        raise fail("kernel", "must be a table")
    for key in kernel:
        if key != "tick":
            raise fail(f"kernel.{key}", "unknown key (expected 'tick')")
    tick = kernel.get("tick", DEFAULT_TICK)
    if not isinstance(tick, int) or isinstance(tick, bool) or not 1000 <= tick < 1 << 32:
        raise fail("kernel.tick", f"must be an integer in 1000..2**32-1, got {tick!r}")

    tasks_doc = doc.get("tasks")
    if not isinstance(tasks_doc, dict) or not tasks_doc:
        raise fail("tasks", "at least one [tasks.NAME] table is required")
    if len(tasks_doc) > Limits.MAX_TASKS:
        raise fail("tasks", f"{len(tasks_doc)} tasks declared; at most {Limits.MAX_TASKS}")

    allowed = {"source", "priority", "stack", "supervisor", "calls", "notifies",
               "devices", "interrupts"}
    tasks: list[Task] = []
    for index, (name, t) in enumerate(tasks_doc.items()):
        key = f"tasks.{name}"
        if not name.replace("_", "a").isalnum() or not name[0].isalpha():
            raise fail(key, "task names are letters, digits and '_', starting with a letter")
        if not isinstance(t, dict):
            raise fail(key, "must be a table")
        for k in t:
            if k not in allowed:
                raise fail(f"{key}.{k}", f"unknown key (expected one of {sorted(allowed)})")
        src = t.get("source")
        if isinstance(src, str):
            src = [src]
        if not isinstance(src, list) or not src or not all(isinstance(s, str) for s in src):
            raise fail(f"{key}.source", "a file name or a non-empty list of file names")
        sources = [(path.parent / s) for s in src]
        for s, p in zip(src, sources):
            if not p.is_file():
                raise fail(f"{key}.source", f"no such file {s!r} (looked for {p})")
        prio = t.get("priority")
        if not isinstance(prio, int) or isinstance(prio, bool) or not 0 <= prio <= MAX_PRIORITY:
            raise fail(f"{key}.priority", f"must be an integer 0..{MAX_PRIORITY}, got {prio!r}")
        stack = t.get("stack", DEFAULT_STACK)
        if (not isinstance(stack, int) or isinstance(stack, bool) or stack < 256
                or stack > 1 << 20 or stack % 16):
            raise fail(f"{key}.stack", f"must be a multiple of 16 in 256..1 MiB, got {stack!r}")
        sup = t.get("supervisor", False)
        if not isinstance(sup, bool):
            raise fail(f"{key}.supervisor", f"must be true or false, got {sup!r}")
        lists = {}
        for k in ("calls", "notifies", "devices"):
            v = t.get(k, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise fail(f"{key}.{k}", "must be a list of names")
            if len(set(v)) != len(v):
                raise fail(f"{key}.{k}", "names a peer or device twice")
            lists[k] = v
        devices = []
        for d in lists["devices"]:
            if d not in DEVICES:
                raise fail(f"{key}.devices", f"unknown device {d!r} (known: {', '.join(DEVICES)})")
            devices.append(DEVICES[d])
        irqs_doc = t.get("interrupts", {})
        if not isinstance(irqs_doc, dict):
            raise fail(f"{key}.interrupts", "must be a table: device name = notification bit")
        interrupts: dict[int, int] = {}
        for dname, bit in irqs_doc.items():
            k = f"{key}.interrupts.{dname}"
            if dname not in lists["devices"]:
                raise fail(k, f"device {dname!r} is not in {key}.devices")
            if not DEVICES[dname].irq:
                raise fail(k, f"device {dname!r} has no interrupt")
            if (not isinstance(bit, int) or isinstance(bit, bool) or not 0 <= bit < 32
                    or bit == NOTIFY_FAULT_BIT):
                raise fail(k, f"notification bit must be 0..30, got {bit!r}")
            if bit in interrupts.values():
                raise fail(k, f"notification bit {bit} used twice")
            interrupts[DEVICES[dname].irq] = bit
        tasks.append(Task(name, index, sources, prio, stack, sup, lists["calls"],
                          lists["notifies"], devices, interrupts))

    names = {t.name for t in tasks}
    for t in tasks:
        for k in ("calls", "notifies"):
            for peer in getattr(t, k):
                if peer not in names:
                    raise fail(f"tasks.{t.name}.{k}", f"no task named {peer!r}")
                if peer == t.name:
                    raise fail(f"tasks.{t.name}.{k}", "a task may not name itself")
    sups = [t.name for t in tasks if t.supervisor]
    if len(sups) != 1:
        raise fail("tasks", f"exactly one task must have supervisor = true (found {sups or 'none'})")
    owners: dict[str, str] = {}
    for t in tasks:
        for d in t.devices:
            if d.name in owners:
                raise fail(f"tasks.{t.name}.devices",
                           f"device {d.name!r} already granted to task {owners[d.name]!r}")
            owners[d.name] = t.name
    return Manifest(path, tick, tasks)
