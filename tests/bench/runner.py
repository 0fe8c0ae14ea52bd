"""The benchmark runner behind ``septum bench``: one run, every figure beside
its peer, a table for people and JSON for tools.

Each benchmark is a *section* produced by a ``collect(quick, runs, progress)``
function (the common interface of tests/bench/bench_*.py modules written for
the runner) and returned as a plain dict::

    {"name": "mips", "title": "...", "status": "ok",
     "params": {...},                      # sizes used
     "figures": [Figure, ...],             # timed: median/min/max of the runs
     "ratios": [Figure, ...],              # a/b taken run by run, then summarised
     "exact": {"name": int, ...},          # deterministic counts (guest instructions)
     "references": [{"name", "value", "unit", "source"}],   # optional, not measured
     "notes": ["...", ...]}

``status`` is ``"ok"``, ``"not yet available"`` (the feature or benchmark does
not exist in this checkout), ``"unavailable"`` (a peer tool is missing) or
``"error"`` (the benchmark failed: ``reason`` says why; the other sections
still run).  A Figure is ``{"name", "unit", "median", "min", "max",
"samples"}``.  Timings use the host's monotonic clock on the *host's* behalf
only: no guest ever sees it.
"""

from __future__ import annotations

import importlib
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from typing import Callable, Iterable, Sequence

#: JSON schema version of :func:`run_all`'s result.
SCHEMA = 1

#: Progress callback: one line of text (the CLI prints it on stderr).
Progress = Callable[[str], None]

#: Section name -> (module, title), in the order the table lists them.
SECTIONS: dict[str, tuple[str, str]] = {
    "mips": ("septum.tests.bench.bench_mips", "compute-bound guest, MIPS"),
    "cli": ("", "septum run (a process) beside QEMU, same image"),
    "trap": ("septum.tests.bench.bench_trap", "U-mode ecall trap round trips"),
    "ipc": ("septum.tests.bench.bench_ipc", "IPC round trip (CALL + REPLY_RECV)"),
    "trace": ("septum.tests.bench.bench_trace", "instruction tracing"),
    "asm": ("", "assembler, lines per second"),
    "boot": ("septum.tests.bench.bench_boot", "boot of the default system to the shell prompt"),
    "snapshot": ("septum.tests.bench.bench_snapshot", "snapshot save/restore vs cold boot"),
    "irq": ("septum.tests.bench.bench_irq_latency", "interrupt latency, UART to its task"),
}

QEMU = "qemu-system-riscv64"


def quiet(_: str) -> None:
    """The progress callback that says nothing."""


#: Older name of :func:`quiet` (bench_boot.py uses it).
_quiet = quiet


# ----- figures -------------------------------------------------------------------


def figure(name: str, unit: str, samples: Sequence[float | None]) -> dict[str, object]:
    """A timed figure from per-run ``samples`` (``None`` samples, e.g. a
    peer's negative difference lost in noise, are left out)."""
    good = [float(s) for s in samples if s is not None]
    return {"name": name, "unit": unit,
            "median": statistics.median(good) if good else None,
            "min": min(good) if good else None,
            "max": max(good) if good else None,
            "samples": good}


def ratio(name: str, num: Sequence[float | None], den: Sequence[float | None]) -> dict[str, object]:
    """``num[i] / den[i]`` run by run (the pairs come from the same run),
    summarised as a figure."""
    pairs = [a / b if a is not None and b else None for a, b in zip(num, den)]
    return figure(name, "x", pairs)


def section(name: str, title: str | None = None, *, status: str = "ok",
            reason: str = "") -> dict[str, object]:
    """An empty section dict with the standard keys."""
    out: dict[str, object] = {"name": name, "title": title or SECTIONS.get(name, ("", name))[1],
                              "status": status, "params": {}, "figures": [], "ratios": [],
                              "exact": {}, "notes": []}
    if reason:
        out["reason"] = reason
    return out


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(host seconds, result) of ``fn()``."""
    t0 = time.perf_counter()
    res = fn()
    return time.perf_counter() - t0, res


def qemu_seconds(argv_tail: Sequence[str], timeout: float = 120.0) -> float | None:
    """Host seconds of one ``qemu-system-riscv64 -M virt`` run with
    ``argv_tail`` (the guest must power itself off), or ``None`` without QEMU."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        return None
    argv = [qemu, "-M", "virt", "-m", "128M", "-nographic", "-monitor", "none",
            "-serial", "null", *argv_tail]
    t0 = time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=timeout, check=True)
    return time.perf_counter() - t0


def qemu_version() -> str | None:
    """The first line of ``qemu-system-riscv64 --version``, or ``None``."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        return None
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else None


# ----- the run ---------------------------------------------------------------------


def _collect_asm(quick: bool, runs: int, progress: Progress) -> dict[str, object]:
    """Adapter for bench_asm (asm-elf's module exposes ``measure``)."""
    from septum.tests.bench import bench_asm

    sec = section("asm")
    asked = 400 if quick else 10_000
    lines = len(bench_asm.generate(asked).splitlines())
    sec["params"] = {"lines": lines}
    missing = [t for t in (bench_asm.GNU_AS, bench_asm.GNU_LD) if shutil.which(t) is None]
    if missing:
        return section("asm", status="unavailable",
                       reason=f"peer not installed: {', '.join(missing)}")
    progress(f"asm: {lines} lines x {runs} runs, Septum and GNU as + ld")
    res = bench_asm.measure(asked, runs)
    sep = [lines / t for t in res["septum"]]
    gnu = [lines / t for t in res["gnu"]]
    sec["figures"] = [figure("septum assemble + ELF", "lines/s", sep),
                      figure("GNU as + ld (subprocesses)", "lines/s", gnu)]
    sec["ratios"] = [ratio("septum / GNU (lines/s)", sep, gnu)]
    sec["notes"] = ["GNU's time includes starting two processes; the file is "
                    "generated by bench_asm.generate (same file for both)"]
    return sec


def _collect_cli(quick: bool, runs: int, progress: Progress) -> dict[str, object]:
    """Adapter for bench_vs_qemu (``run(iters, runs)`` -> rows of samples)."""
    from septum.tests.bench import bench_mips, bench_vs_qemu

    if shutil.which(QEMU) is None:
        return section("cli", status="unavailable", reason=f"peer not installed: {QEMU}")
    iters = bench_mips.QUICK_ITERS if quick else bench_vs_qemu.DEFAULT_ITERS
    progress(f"cli: septum run and QEMU as processes, {iters:,} iterations x {runs} runs")
    res = bench_vs_qemu.run(iters, runs)
    bad = [st for st in res["statuses"] if st != 0]  # type: ignore[union-attr]
    if bad or len(res["insns"]) != 1:  # type: ignore[arg-type]
        raise RuntimeError(f"cli: exit statuses {res['statuses']}, counts {res['insns']}")
    rows: dict[str, list[float | None]] = res["rows"]  # type: ignore[assignment]
    sec = section("cli")
    sec["params"] = {"iterations": iters}
    sec["exact"] = {"guest_insns": res["insns"][0]}  # type: ignore[index]
    for name, samples in rows.items():
        # bench_vs_qemu names rows "<who>: wall s" and "<who>: MIPS (<how>)".
        label, _, what = name.rpartition(": ")
        if what.startswith("wall "):
            label, unit = f"{label}, wall time with start-up", what[len("wall "):]
        else:
            unit, _, how = what.partition(" ")
            label = f"{label}, {how.strip('()')}" if how else label
        sec["figures"].append(figure(label, unit, samples))  # type: ignore[union-attr]
    sep = rows["septum run: MIPS (minus start-up)"]
    sec["ratios"] = [ratio("septum run / QEMU (MIPS)", sep, rows["QEMU: MIPS (minus start-up)"]),
                     ratio("septum run / bare Unicorn (MIPS; issue 3 target >= 0.8)", sep,
                           rows["bare Unicorn, no hooks: MIPS"])]
    sec["notes"] = ["processes started by the runner, start-up removed by a zero-iteration "
                    "build of the same guest (bench_vs_qemu.py); '-' = lost in start-up noise"]
    return sec


_ADAPTERS: dict[str, Callable[[bool, int, Progress], dict[str, object]]] = {
    "asm": _collect_asm,
    "cli": _collect_cli,
}


def collect_one(name: str, quick: bool, runs: int, progress: Progress = quiet,
                collect: Callable[..., dict[str, object]] | None = None) -> dict[str, object]:
    """Run one section (with ``collect`` if given, else the section's own);
    a failure becomes a section with status ``error``."""
    if name not in SECTIONS:
        raise KeyError(name)
    module, _ = SECTIONS[name]
    try:
        if collect is not None:
            sec = collect(quick=quick, runs=runs, progress=progress)
        elif name in _ADAPTERS:
            sec = _ADAPTERS[name](quick, runs, progress)
        else:
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
                return section(name, status="not yet available",
                               reason=f"{module} is not in this checkout")
            collect = getattr(mod, "collect", None)
            if collect is None:
                return section(name, status="not yet available",
                               reason=f"{module} has no collect(quick, runs, progress)")
            sec = collect(quick=quick, runs=runs, progress=progress)
    except Exception as exc:  # one broken benchmark must not hide the others
        progress(f"{name}: failed: {exc}")
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return section(name, status="error", reason=tb)
    sec.setdefault("name", name)
    return sec


def run_all(names: Iterable[str] | None = None, *, quick: bool = False, runs: int | None = None,
            progress: Progress = quiet) -> dict[str, object]:
    """Run the named sections (all by default); the JSON-ready result."""
    import unicorn

    chosen = list(SECTIONS) if names is None else list(names)
    unknown = [n for n in chosen if n not in SECTIONS]
    if unknown:
        raise KeyError(", ".join(unknown))
    n = runs if runs is not None else (1 if quick else 3)
    out: dict[str, object] = {
        "schema": SCHEMA, "quick": quick, "runs": n,
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "unicorn": unicorn.__version__, "qemu": qemu_version()},
        "sections": [],
    }
    for name in chosen:
        progress(f"== {name}")
        out["sections"].append(collect_one(name, quick, n, progress))  # type: ignore[union-attr]
    return out


# ----- the table -------------------------------------------------------------------


def _num(x: object) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    v = float(x)  # type: ignore[arg-type]
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def format_section(sec: dict[str, object]) -> str:
    """One section as a small fixed-width table."""
    lines = [f"## {sec['name']}: {sec['title']}"]
    if sec["status"] != "ok":
        lines.append(f"   {sec['status']}: {sec.get('reason', '')}")
        return "\n".join(lines)
    rows = [(f["name"], f["unit"], f["median"], f["min"], f["max"])  # type: ignore[index]
            for f in [*sec["figures"], *sec["ratios"]]]  # type: ignore[misc]
    if rows:
        w = max(30, *(len(r[0]) for r in rows)) + 2
        lines.append(f"   {'':<{w}}{'unit':<10}{'median':>14}{'min':>14}{'max':>14}")
        for name, unit, med, lo, hi in rows:
            lines.append(f"   {name:<{w}}{unit:<10}{_num(med):>14}{_num(lo):>14}{_num(hi):>14}")
    for key, val in sec["exact"].items():  # type: ignore[union-attr]
        lines.append(f"   exact: {key} = {_num(val)}")
    for ref in sec.get("references", ()):  # type: ignore[union-attr]
        lines.append(f"   reference: {ref['name']} = {_num(ref['value'])} {ref['unit']} "
                     f"({ref['source']})")
    for note in sec["notes"]:  # type: ignore[union-attr]
        lines.append(f"   note: {note}")
    return "\n".join(lines)


def format_all(result: dict[str, object]) -> str:
    """The whole result as text."""
    host = result["host"]
    head = (f"septum bench ({'quick, ' if result['quick'] else ''}{result['runs']} run{'s' if result['runs'] != 1 else ''} each; "
            f"python {host['python']}, unicorn {host['unicorn']}, "  # type: ignore[index]
            f"{host['qemu'] or 'no QEMU'})")  # type: ignore[index]
    return "\n\n".join([head, *(format_section(s) for s in result["sections"])])  # type: ignore[union-attr]


def format_markdown(result: dict[str, object]) -> str:
    """The whole result as one Markdown table (the README's performance
    table is this output): every figure and ratio with median, min and max,
    then the exact counts."""
    host = result["host"]
    out = [f"<!-- septum bench --markdown: {result['runs']} run(s) each; python "
           f"{host['python']}, unicorn {host['unicorn']}, {host['qemu'] or 'no QEMU'} -->",  # type: ignore[index]
           "", "| section | figure | unit | median | min | max |", "|---|---|---|---:|---:|---:|"]
    exact = []
    for sec in result["sections"]:  # type: ignore[union-attr]
        if sec["status"] != "ok":
            out.append(f"| {sec['name']} | {sec['status']}: {sec.get('reason', '')} | | | | |")
            continue
        for f in [*sec["figures"], *sec["ratios"]]:
            out.append(f"| {sec['name']} | {f['name']} | {f['unit']} | {_num(f['median'])} "
                       f"| {_num(f['min'])} | {_num(f['max'])} |")
        for key, val in sec["exact"].items():
            exact.append(f"| {sec['name']} | {key} | {_num(val)} |")
        for ref in sec.get("references", ()):
            exact.append(f"| {sec['name']} | reference: {ref['name']} | "
                         f"{_num(ref['value'])} {ref['unit']} |")
    if exact:
        out += ["", "| section | exact count | value |", "|---|---|---:|", *exact]
    return "\n".join(out) + "\n"


def module_main(name: str, argv: Sequence[str] | None, doc: str,
                collect: Callable[..., dict[str, object]] | None = None) -> int:
    """``main(argv)`` of a bench module written for the runner: ``--quick``,
    ``--runs N``; prints the section's table."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes")
    ap.add_argument("--runs", type=int, default=None, help="timed runs (default 3, quick 1)")
    args = ap.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        ap.error("--runs must be >= 1")
    sec = collect_one(name, args.quick, runs, lambda s: print(s, file=sys.stderr), collect)
    print(format_section(sec))
    return 0 if sec["status"] != "error" else 1
