"""The same system image under real QEMU (`qemu-system-riscv64 -M virt
-bios system.elf`): the shell session that does not depend on the disk or
on timing gives the same transcript as on Septum's board."""

from __future__ import annotations

import os
import select
import subprocess
import time

from septum.hypervisor import boot_cli

QEMU = "qemu-system-riscv64"
PROMPT = b"septum> "
# Commands whose output depends neither on storage nor on time (the log
# lines of the two crashes are compared apart from the shell's output).
# (Not `crash attack`: its restart's log line, 10 ms of real time later
# under QEMU, may land inside the shell's next output.)
SCRIPT = ["help", "attack peer", "attack buffers", "attack flood", "crash console",
          "frob", "poweroff"]


def _qemu_session(elf, lines: list[str], limit: float = 120.0) -> str:
    proc = subprocess.Popen([QEMU, "-M", "virt", "-m", "128M", "-nographic", "-bios", str(elf)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out = bytearray()
    mark = 0
    end = time.monotonic() + limit  # a safety net only: nothing asserts on time
    try:
        todo = list(lines)
        while time.monotonic() < end:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
            i = out.find(PROMPT, mark)
            if i >= 0 and todo:
                mark = i + len(PROMPT)
                proc.stdin.write(todo.pop(0).encode() + b"\r")
                proc.stdin.flush()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out.decode(errors="replace").replace("\r\n", "\n")


def test_qemu_gives_the_same_transcript(boot, boot_cache, monkeypatch):
    ours = boot(SCRIPT)
    assert ours.rc == 0
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(boot_cache))
    elf, built = boot_cli.cached_build(boot_cli.DEFAULT_MANIFEST, log=lambda _: None)
    assert not built  # the very image the boot above ran
    theirs = _qemu_session(elf, SCRIPT)
    start = theirs.find("Septum microkernel:")

    def session(text: str) -> list[str]:
        # QEMU runs without a disk here: leave out the storage server's
        # report of what it found.  The kernel's and the supervisor's log
        # lines come in the order the tasks ran, which real time may shift
        # (a crash is a real fault, restarted after a back-off): compared
        # apart, as a sorted list.
        return [line for line in text.splitlines()
                if not line.startswith(("storage: ", "kernel: ", "supervisor: "))]

    def logs(text: str) -> list[str]:
        return sorted(line for line in text.splitlines()
                      if line.startswith(("kernel: ", "supervisor: ")))

    assert session(theirs[start:]) == session(ours.out)
    assert logs(theirs[start:]) == logs(ours.out)
    assert "supervisor: console faulted: cause=0xd" in ours.out
    assert "attack: console WRITE of 1 TiB from our own buffer -> BAD_BUFFER" in theirs
