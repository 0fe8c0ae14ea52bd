"""Running a campaign over local processes, and its figures.

:func:`run_swifi` and :func:`run_fuzz` spread a campaign over ``jobs``
processes (multiprocessing; each process builds its rig once), collect the
per-fault or per-unit results in index order -- so the report depends only
on the seed and the size, never on the number of processes or their timing
-- and return a JSON-ready report.  :func:`format_table` renders it;
:class:`Progress` is the progress bar on stderr.  Host timings go to the
``timing`` key, which :func:`stable` drops for comparisons.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import time
from collections import Counter
from typing import Callable, Iterable, Iterator, TextIO

from . import fuzz, swifi

#: Targets of the issue's CI smoke runs.
SWIFI_TARGETS = {"kernel_crashes": 0, "hangs": 0, "recovered_min": 0.99, "records_lost": 0}
FUZZ_TARGETS = {"crashes": 0, "hangs": 0, "disagreements": 0}


class Progress:
    """A one-line progress bar (``done/total``) redrawn on ``stream``."""

    def __init__(self, total: int, label: str, stream: TextIO | None = sys.stderr,
                 width: int = 30) -> None:
        self.total, self.label, self.stream, self.width = max(total, 1), label, stream, width
        self.done = 0

    def update(self, done: int) -> None:
        """Show ``done`` of the total."""
        self.done = done
        if self.stream is None:
            return
        filled = min(self.width, self.width * done // self.total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


# ----- workers (module level: picklable) ---------------------------------------------

_RIG: swifi.SwifiRig | None = None


def _swifi_init() -> None:
    global _RIG
    _RIG = swifi.SwifiRig()


def _swifi_one(job: tuple[int, int], rig: swifi.SwifiRig | None = None) -> dict:
    """Fault ``job`` = (seed, index), with the CPU seconds it took under
    ``"_cpu"`` (the worker's own time: what a loaded machine does not inflate)."""
    rig = rig or _RIG
    assert rig is not None
    t = time.process_time()
    result = rig.run_fault(*job).to_json()
    result["_cpu"] = time.process_time() - t
    return result


def _fuzz_one(job: tuple[int, int, int]) -> dict:
    return fuzz.run_unit(*job).to_json()


def _map(func: Callable, jobs_list: list, jobs: int,
         init: Callable[[], None] | None = None) -> Iterator[dict]:
    """``func`` over ``jobs_list`` in order, in this process or a pool."""
    if jobs <= 1:
        if init is not None:
            init()
        yield from map(func, jobs_list)
        return
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(jobs, initializer=init) as pool:
        yield from pool.imap(func, jobs_list, chunksize=4)


# ----- the campaigns --------------------------------------------------------------------


def run_swifi(faults: int, seed: int = 0, jobs: int = 1, only: int | None = None,
              stream: TextIO | None = sys.stderr, start: int = 0,
              rig: swifi.SwifiRig | None = None) -> dict:
    """Inject faults ``start .. start + faults - 1`` (or just ``only``) of
    campaign ``seed``; the report (see docs/campaigns.md).  ``rig``: a
    :class:`swifi.SwifiRig` to use (and keep) in this process instead of
    booting one (``jobs`` is then ignored)."""
    indices = [only] if only is not None else list(range(start, start + faults))
    bar = Progress(len(indices), "swifi", stream)
    t0 = time.perf_counter()
    results = []
    cpu = 0.0
    global _RIG
    try:
        if rig is not None:
            work: Iterable[dict] = (_swifi_one((seed, i), rig) for i in indices)
        else:
            work = _map(_swifi_one, [(seed, i) for i in indices], jobs, _swifi_init)
        for r in work:
            cpu += r.pop("_cpu")
            results.append(r)
            bar.update(len(results))
    finally:
        if _RIG is not None:
            _RIG.close()
            _RIG = None
        bar.close()
    return swifi_report(results, seed, time.perf_counter() - t0, cpu)


def swifi_report(results: list[dict], seed: int, seconds: float = 0.0,
                 cpu_seconds: float = 0.0) -> dict:
    """Totals of fault ``results`` (dicts of :class:`swifi.FaultResult`);
    ``seconds`` of wall-clock time, ``cpu_seconds`` of the processes' CPU
    time spent in the faults (both only reported, under ``timing``)."""
    outcomes = Counter(r["outcome"] for r in results)
    n = len(results)
    totals = {
        "injected": n,
        "kernel_crashes": outcomes["crash"],
        "hangs": outcomes["hang"],
        "recovered": outcomes["recovered"],
        "recovered_with_restart": sum(r["outcome"] == "recovered" and r["restarted"]
                                      for r in results),
        "not_recovered": outcomes["not_recovered"],
        "records_acked": sum(r["acked"] for r in results),
        "records_lost": sum(r["lost"] for r in results),
    }
    by = Counter((r["target"], r["kind"], r["outcome"]) for r in results)
    table = [{"target": t, "kind": k, "outcome": o, "count": c}
             for (t, k, o), c in sorted(by.items())]
    how = Counter((r["outcome"], r.get("symptom", "")) for r in results)
    symptoms = [{"outcome": o, "symptom": s, "count": c} for (o, s), c in sorted(how.items())]
    met = {
        "kernel_crashes": totals["kernel_crashes"] == 0,
        "hangs": totals["hangs"] == 0,
        "recovered_min": n > 0 and totals["recovered"] >= SWIFI_TARGETS["recovered_min"] * n,
        "records_lost": totals["records_lost"] == 0,
    }
    return {"campaign": "swifi", "seed": seed, "totals": totals, "targets_met": met,
            "by_target_kind": table, "by_symptom": symptoms,
            "failures": [r for r in results if r["outcome"] != "recovered" or r["lost"]],
            "faults": results,
            "timing": {"seconds": round(seconds, 3),
                       "per_fault_ms": round(1000 * seconds / max(n, 1), 2),
                       "cpu_seconds": round(cpu_seconds, 3),
                       "cpu_per_fault_ms": round(1000 * cpu_seconds / max(n, 1), 2)}}


def units_for(calls: int) -> tuple[int, int]:
    """(rounds per unit, a first guess of units) for about ``calls`` calls:
    small campaigns use short units so that they stay small."""
    rounds = max(1, min(fuzz.ROUNDS, math.ceil(calls / 40)))
    return rounds, max(1, math.ceil(calls / (40 * rounds)))


def run_fuzz(calls: int, seed: int = 0, jobs: int = 1, only: int | None = None,
             stream: TextIO | None = sys.stderr) -> dict:
    """Fuzz at least ``calls`` checked system calls (or unit ``only``)."""
    rounds, guess = units_for(calls)
    bar = Progress(calls if only is None else 1, "fuzz", stream)
    t0 = time.perf_counter()
    results: list[dict] = []
    done = 0
    first = 0 if only is None else only
    try:
        while True:
            batch = [(seed, i, rounds) for i in range(first, first + max(guess, jobs))]
            for r in _map(_fuzz_one, batch, jobs):
                results.append(r)
                done += r["calls"]
                bar.update(min(done, calls) if only is None else 1)
                if only is not None or done >= calls:
                    break
            if only is not None or done >= calls:
                break
            first += len(batch)
            # The remainder, estimated from what the units so far checked.
            per = max(1, done // len(results))
            guess = max(1, math.ceil((calls - done) / per))
    finally:
        bar.close()
    return fuzz_report(results, seed, rounds, time.perf_counter() - t0)


def fuzz_report(results: list[dict], seed: int, rounds: int, seconds: float = 0.0) -> dict:
    """Totals of fuzzing ``results`` (dicts of :class:`fuzz.UnitResult`)."""
    totals = {"units": len(results), "rounds": len(results) * rounds,
              "calls": sum(r["calls"] for r in results),
              "crashes": sum(r["crashes"] for r in results),
              "hangs": sum(r["hangs"] for r in results),
              "disagreements": sum(r["disagreements"] for r in results)}
    met = {k: totals[k] == 0 for k in FUZZ_TARGETS}
    return {"campaign": "fuzz", "seed": seed, "rounds_per_unit": rounds, "totals": totals,
            "targets_met": met,
            "failures": [r for r in results if r["crashes"] or r["hangs"] or r["disagreements"]],
            "units": results,
            "timing": {"seconds": round(seconds, 3),
                       "calls_per_second": round(totals["calls"] / seconds, 1)
                       if seconds else 0.0}}


def stable(report: dict) -> dict:
    """The report without host timings (what must be identical for a seed)."""
    return {k: v for k, v in report.items() if k != "timing"}


def format_table(report: dict) -> str:
    """The report's figures as a small text table."""
    lines = [f"{report['campaign']} campaign, seed {report['seed']}"]
    rows: Iterable[tuple[str, object]] = report["totals"].items()
    width = max(len(k) for k, _ in report["totals"].items())
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    if report["campaign"] == "swifi":
        n = report["totals"]["injected"]
        pct = 100.0 * report["totals"]["recovered"] / n if n else 0.0
        lines.append(f"  {'recovered %':<{width}}  {pct:.2f}")
        lines.append("")
        lines.append(f"  {'target':<8} {'kind':<5} {'outcome':<14} count")
        lines += [f"  {r['target']:<8} {r['kind']:<5} {r['outcome']:<14} {r['count']}"
                  for r in report["by_target_kind"]]
        lines.append("")
        lines.append(f"  {'outcome':<14} {'symptom':<40} count")
        lines += [f"  {r['outcome']:<14} {r['symptom']:<40} {r['count']}"
                  for r in report.get("by_symptom", [])]
    lines.append("")
    lines.append("  targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}"
                                          for k, v in report["targets_met"].items()))
    t = report["timing"]
    lines.append("  host time: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    for f in report["failures"][:20]:
        if report["campaign"] == "swifi":
            lines.append(f"  fault {f['index']}: {f['target']} {f['kind']} {f['detail']} -> "
                         f"{f['outcome']} ({f.get('symptom', '')}), lost {f['lost']} "
                         f"(septum campaign swifi --seed "
                         f"{report['seed']} --only {f['index']})")
        else:
            lines.append(f"  unit {f['index']}: crashes {f['crashes']} hangs {f['hangs']} "
                         f"disagreements {f['disagreements']}: {f['notes'][:2]}")
    return "\n".join(lines)


def merge(reports: list[dict]) -> dict:
    """One report from the reports of slices of one kind (say, written by
    xdist workers): faults or units put together, totals recomputed."""
    kinds = {r["campaign"] for r in reports}
    if len(kinds) != 1:
        raise ValueError(f"cannot merge reports of {sorted(kinds)} campaigns")
    seeds = sorted({r["seed"] for r in reports})
    seed: int | list[int] = seeds[0] if len(seeds) == 1 else seeds
    seconds = sum(r["timing"]["seconds"] for r in reports)
    if kinds == {"swifi"}:
        if len(seeds) != 1:
            raise ValueError(f"swifi slices of different seeds {seeds}")
        faults = sorted((f for r in reports for f in r["faults"]), key=lambda f: f["index"])
        if len({f["index"] for f in faults}) != len(faults):
            raise ValueError("swifi slices overlap (a fault index twice)")
        cpu = sum(r["timing"].get("cpu_seconds", 0.0) for r in reports)
        return swifi_report(faults, seeds[0], seconds, cpu)
    rounds = {r["rounds_per_unit"] for r in reports}
    units = [u for r in reports for u in r["units"]]
    merged = fuzz_report(units, 0, max(rounds), seconds)
    merged["seed"] = seed
    merged["totals"]["rounds"] = sum(r["totals"]["rounds"] for r in reports)
    return merged
