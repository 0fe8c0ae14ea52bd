"""Boot benchmark: host time from `septum boot` to the shell's prompt.

Measured the way the command does it (septum.hypervisor.boot_cli): look the
system up in the build cache (or build it), make the board with a fresh
disk, boot, run until the console shows ``septum> ``.  *Warm*: the cache
holds the build; *cold*: an empty cache folder, so the build is included.
The guest instructions to the prompt are exact (virtual time) and the same
in both.

    python -m septum.tests.bench.bench_boot [--runs N] [--quick]

Prints figures only; nothing here asserts a timing.  ``collect()`` is the
section for the ``septum bench`` runner (tests/bench/runner.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from septum.hypervisor import boot_cli
from septum.hypervisor.machine import Machine
from septum.tests.bench import runner

#: Guest instructions allowed to reach the prompt (a safety net).
BOOT_BUDGET = 50_000_000


def boot_once(cache: Path, manifest: Path = boot_cli.DEFAULT_MANIFEST) -> dict[str, object]:
    """One boot to the prompt with the build cache in ``cache``: host
    seconds (total, and the build-cache step alone), guest instructions,
    whether it built, and the console text."""
    old = os.environ.get("SEPTUM_CACHE_DIR")
    os.environ["SEPTUM_CACHE_DIR"] = str(cache)
    try:
        with tempfile.TemporaryDirectory(prefix="septum-bench-disk-") as tmp:
            t0 = time.perf_counter()
            elf, built = boot_cli.cached_build(manifest, log=lambda _: None)
            t_build = time.perf_counter() - t0
            disk, _ = boot_cli._make_disk(str(Path(tmp) / "disk.img"))
            m = Machine(ram_size=boot_cli.RAM_SIZE, disk=disk)
            try:
                m.boot(bios=str(elf))
                stop = m.run(max_insns=BOOT_BUDGET,
                             until=lambda: boot_cli.PROMPT in m.uart_output)
                total = time.perf_counter() - t0
                insns = m.instret
                text = m.uart_output.decode(errors="replace")
            finally:
                m.close()
    finally:
        if old is None:
            del os.environ["SEPTUM_CACHE_DIR"]
        else:
            os.environ["SEPTUM_CACHE_DIR"] = old
    if stop.kind != "until":
        raise RuntimeError(f"boot: no prompt ({stop})")
    return {"seconds": total, "build_seconds": t_build, "insns": insns, "built": built,
            "console": text}


def collect(quick: bool = False, runs: int = 3,
            progress: runner.Progress = runner._quiet) -> dict[str, object]:
    """The ``boot`` section (see tests/bench/runner.py)."""
    sec = runner.section("boot")
    sec["params"] = {"manifest": str(boot_cli.DEFAULT_MANIFEST.name), "runs": runs}
    cold, warm, insns = [], [], set()
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="septum-bench-cache-") as tmp:
            progress(f"boot: cold cache, run {i + 1}/{runs}")
            r = boot_once(Path(tmp))
            assert r["built"]
            cold.append(r["seconds"])
            insns.add(r["insns"])
            progress(f"boot: warm cache, run {i + 1}/{runs}")
            r = boot_once(Path(tmp))
            assert not r["built"]
            warm.append(r["seconds"])
            insns.add(r["insns"])
    if len(insns) != 1:
        raise RuntimeError(f"boot: guest instructions to the prompt differ: {insns}")
    sec["figures"] = [runner.figure("septum boot to prompt, warm cache", "s", warm),
                      runner.figure("septum boot to prompt, cold cache (build included)", "s",
                                    cold)]
    sec["exact"] = {"guest_insns_to_prompt": insns.pop()}
    return sec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="cold+warm pairs (default 3)")
    ap.add_argument("--quick", action="store_true", help="one pair")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    sec = collect(args.quick, 1 if args.quick else args.runs)
    print(f"{'septum boot to the shell prompt':<40}{'median s':>10}{'min s':>10}{'max s':>10}")
    for f in sec["figures"]:  # type: ignore[union-attr]
        label = "warm cache" if "warm" in f["name"] else "cold cache (builds)"
        print(f"{label:<40}{f['median']:>10.3f}{f['min']:>10.3f}{f['max']:>10.3f}")
    print(f"guest instructions to the prompt: {sec['exact']['guest_insns_to_prompt']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
