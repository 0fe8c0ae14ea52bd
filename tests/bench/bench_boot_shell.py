"""Boot of the default system (``septum boot``'s manifest) to the shell
prompt: cold (build the image, then boot), warm (the image already built,
as ``septum boot``'s cache gives it: new ``Machine``, boot) and from a
snapshot taken at the prompt (``Machine.restore``).

Each boot gets a fresh, zeroed disk (the storage server formats it), so the
guest instruction count to the prompt is exact and the same every run.
The runner uses this module for its ``boot`` section until a
``bench_boot`` module with a ``collect`` function exists.

    python -m septum.tests.bench.bench_boot_shell [--quick] [--runs N]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

from septum.hypervisor.machine import Machine
from septum.tests.bench import runner
from septum.toolchain.build import build

BUDGET = 200_000_000


def _disk(folder: Path, size: int) -> str:
    fd, path = tempfile.mkstemp(prefix="disk-", suffix=".img", dir=folder)
    os.ftruncate(fd, size)
    os.close(fd)
    return path


def collect(quick: bool = False, runs: int = 3,
            progress: runner.Progress = runner._quiet) -> dict[str, object]:
    """The ``boot`` section (see tests/bench/runner.py)."""
    from septum.hypervisor import boot_cli

    manifest, prompt = boot_cli.DEFAULT_MANIFEST, boot_cli.PROMPT
    sec = runner.section("boot")
    cold, warm, restore = [], [], []
    counts = set()
    with tempfile.TemporaryDirectory(prefix="septum-bench-") as tmp:
        work = Path(tmp)

        def boot_to_prompt(elf: Path) -> Machine:
            m = Machine(ram_size=boot_cli.RAM_SIZE, disk=_disk(work, boot_cli.DISK_SIZE))
            m.boot(bios=str(elf))
            stop = m.run(max_insns=BUDGET, until=lambda: prompt in m.uart_output)
            if stop.kind != "until":
                m.close()
                raise RuntimeError(f"{manifest.name}: no shell prompt ({stop})")
            counts.add(m.instret)
            return m

        for i in range(runs):
            progress(f"boot: run {i + 1}/{runs} ({manifest.name})")
            t0 = time.perf_counter()
            elf = build(manifest, work / f"system{i}.elf").elf
            boot_to_prompt(elf).close()
            cold.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            m = boot_to_prompt(elf)
            warm.append((time.perf_counter() - t0) * 1e3)
            try:
                at_prompt = bytes(m.uart_output)
                snap = m.snapshot()
                m.uart_feed(b"help\n")
                m.run(max_insns=200_000)
                t0 = time.perf_counter()
                m.restore(snap)
                restore.append((time.perf_counter() - t0) * 1e3)
                if bytes(m.uart_output) != at_prompt:
                    raise RuntimeError("restore did not bring the prompt back")
            finally:
                m.close()
    if len(counts) != 1:
        raise RuntimeError(f"boot: instructions to the prompt differ between boots: {counts}")
    sec["params"] = {"manifest": manifest.name, "prompt": prompt.decode()}
    sec["exact"] = {"insns_to_prompt": counts.pop()}
    sec["figures"] = [runner.figure("cold: build + boot to the prompt", "ms", cold),
                      runner.figure("warm: built image, boot to the prompt", "ms", warm),
                      runner.figure("restore a snapshot taken at the prompt", "ms", restore)]
    sec["ratios"] = [runner.ratio("cold / warm", cold, warm),
                     runner.ratio("warm / restore", warm, restore)]
    sec["notes"] = ["the prompt is seen between run slices, so the count is the end of "
                    "the slice that printed it; a fresh zeroed disk each boot",
                    "restore: after typing 'help' at the prompt and running on"]
    return sec


def main(argv: Sequence[str] | None = None) -> int:
    """Print the ``boot`` table."""
    return runner.module_main("boot", argv, __doc__, collect)


if __name__ == "__main__":
    raise SystemExit(main())
