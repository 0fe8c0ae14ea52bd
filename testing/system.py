"""A Septum system booted once to its shell prompt and restored per test.

:class:`BootedSystem` builds a manifest (the build cache of
``septum boot``: :func:`septum.hypervisor.boot_cli.cached_build`), boots it
on a fresh :class:`Machine` with a blank disk, runs it until the shell's
prompt (or any ``ready`` pattern) and takes a snapshot.  :meth:`restore`
puts that snapshot back (RAM, CPU, devices, virtual time, console output
and the disk: the disk's writes go to the device's copy-on-write overlay,
which snapshots include) so every test starts from the same state.

The pytest plugin keeps one per manifest per session (``system`` for the
default manifest, ``system_for(manifest)`` for others).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST, DISK_SIZE, PROMPT, RAM_SIZE, cached_build
from septum.hypervisor.machine import DISK_SLOT, Machine, Snapshot
from septum.toolchain.errors import SeptumError

from .console import Console
from .inject import Injector

#: Instructions a boot to the ready pattern may take before it is an error.
BOOT_BUDGET = 200_000_000


class BootError(SeptumError):
    """The system did not reach its ready pattern."""


class BootedSystem:
    """One system: a machine, its boot snapshot, a console and an injector.

    ``manifest``: the system to build (default: userland/system.toml);
    ``ready``: bytes that mark a booted system (default: the shell prompt;
    ``None`` snapshots right after reset, for systems without a shell);
    ``elf``: a prebuilt image of ``manifest`` instead of the cached build
    (the manifest still names the tasks for the injector).
    """

    def __init__(self, manifest: str | Path = DEFAULT_MANIFEST, *, ready: bytes | None = PROMPT,
                 elf: str | Path | None = None, ram: int = RAM_SIZE,
                 boot_budget: int = BOOT_BUDGET) -> None:
        self.manifest = Path(manifest)
        self.elf = Path(elf) if elf is not None else cached_build(self.manifest, log=lambda s: None)[0]
        fd, self.disk_path = tempfile.mkstemp(prefix="septum-test-disk-", suffix=".img")
        os.ftruncate(fd, DISK_SIZE)
        os.close(fd)
        self.machine = Machine(ram_size=ram, disk=self.disk_path)
        # Writes go to the in-memory overlay, part of every snapshot: each
        # test starts with the disk the boot left.
        self.machine.virtio[DISK_SLOT].snapshot = True  # type: ignore[attr-defined]
        self.machine.boot(bios=str(self.elf))
        if ready is not None:
            r = self.machine.run(max_insns=boot_budget,
                                 until=lambda: ready in self.machine.uart_output)
            if r.kind != "until":
                self.close()
                raise BootError(f"{self.manifest}: no {ready!r} on the console after boot "
                                f"({r}); output: {bytes(self.machine.uart_output)[-300:]!r}")
        self.snapshot: Snapshot = self.machine.snapshot()
        self.console = Console(self.machine)
        self.inject = Injector(self.machine, self.manifest)
        #: Wall-clock seconds of the last :meth:`restore` (for reports only).
        self.last_restore_s = 0.0

    def restore(self, seed: int = 0) -> None:
        """Back to the boot snapshot; a fresh console and injector (``seed``)."""
        t = time.perf_counter()
        self.inject.remove()
        self.machine.restore(self.snapshot)
        self.last_restore_s = time.perf_counter() - t
        self.console = Console(self.machine)
        self.inject = Injector(self.machine, self.manifest, seed=seed)

    def close(self) -> None:
        """Release the machine and delete the disk file."""
        self.machine.close()
        if os.path.exists(self.disk_path):
            os.unlink(self.disk_path)
