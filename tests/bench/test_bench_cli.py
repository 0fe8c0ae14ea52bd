"""``septum bench`` through the real CLI: the JSON's structure, and exact
guest-instruction counts that are positive integers, identical across two
runs (virtual time is deterministic).  No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from septum.hypervisor.cli import main
from septum.tests.bench import bench_mips, bench_trap, runner

FIGURE_KEYS = {"name", "unit", "median", "min", "max", "samples"}
SECTION_KEYS = {"name", "title", "status", "params", "figures", "ratios", "exact", "notes"}
#: Sections that must run here (every tool they need is installed in CI).
MUST_RUN = {"mips", "trap", "ipc", "trace", "asm", "boot", "snapshot", "irq"}
#: Exact counts compared across runs.
DETERMINISTIC = ("ipc", "irq", "trap", "mips", "snapshot", "boot")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "out.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def _sections(result: dict) -> dict[str, dict]:
    return {s["name"]: s for s in result["sections"]}


def test_json_structure(quick_run):
    assert quick_run["schema"] == runner.SCHEMA
    assert quick_run["quick"] is True and quick_run["runs"] == 1
    secs = _sections(quick_run)
    assert list(secs) == list(runner.SECTIONS)
    for name, sec in secs.items():
        assert SECTION_KEYS <= set(sec), name
        assert sec["status"] in ("ok", "not yet available", "unavailable"), (name, sec)
        for fig in sec["figures"] + sec["ratios"]:
            assert set(fig) == FIGURE_KEYS, (name, fig)
            assert len(fig["samples"]) <= quick_run["runs"]
            if fig["samples"]:
                assert fig["min"] <= fig["median"] <= fig["max"]
                assert fig["min"] > 0
    for name in MUST_RUN:
        assert secs[name]["status"] == "ok", secs[name]
        assert secs[name]["figures"], name


def test_exact_counts_are_positive_and_plausible(quick_run, tmp_path):
    secs = _sections(quick_run)
    for name in DETERMINISTIC:
        exact = secs[name]["exact"]
        assert exact, name
        for key, val in exact.items():
            assert isinstance(val, int) and val > 0, (name, key, val)
    ipc = secs["ipc"]["exact"]
    # The fast path is a shortcut of the slow path: it must be shorter.
    assert ipc["insns_per_round_trip_fastpath"] < ipc["insns_per_round_trip_slowpath"]
    # The trap guest's loop is ecall, addi, bnez; each handler is csrr,
    # addi, csrw, xret (bench_trap.GUEST): 7 instructions per round trip.
    assert secs["trap"]["exact"] == {"insns_per_round_trip_U_to_M": 7,
                                     "insns_per_round_trip_U_to_S": 7}
    irq = secs["irq"]["exact"]
    assert irq["best_insns"] <= irq["median_insns"] <= irq["worst_insns"]
    # The loop guest (no compressed code) is straight-line code that runs
    # once from _start to after_done, except its 6-instruction loop body.
    iters = secs["mips"]["params"]["iterations"]
    guest = bench_mips.build(iters, tmp_path / "loop.elf")
    once = (guest.addr("after_done") - guest.addr("_start")) // 4 - 6
    assert secs["mips"]["exact"]["guest_insns"] == once + 6 * iters


def test_exact_counts_identical_across_runs(quick_run, tmp_path):
    out = tmp_path / "again.json"
    assert main(["bench", "--quick", "--runs", "1", "--only", ",".join(DETERMINISTIC),
                 "--json", str(out)]) == 0
    again = _sections(json.loads(out.read_text()))
    first = _sections(quick_run)
    assert list(again) == list(DETERMINISTIC)
    for name in DETERMINISTIC:
        assert again[name]["exact"] == first[name]["exact"], name


def test_table_on_stdout_progress_on_stderr(capsys):
    assert main(["bench", "--quick", "--only", "trace,trap"]) == 0
    cap = capsys.readouterr()
    assert "## trace: instruction tracing" in cap.out
    assert "## trap:" in cap.out and "exact: insns_per_round_trip_U_to_M = 7" in cap.out
    assert "== trap" in cap.err and "== trap" not in cap.out


@pytest.mark.parametrize("argv, message", [
    (["--only", "nosuch"],
     f"--only: unknown benchmark nosuch (known: {', '.join(runner.SECTIONS)})"),
    (["--runs", "0"], "--runs: must be at least 1, not 0"),
])
def test_bad_arguments_are_one_line_errors(argv, message):
    proc = subprocess.run([sys.executable, "-m", "septum.hypervisor", "bench", "--quick", *argv],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == f"septum: {message}\n"


def test_a_failing_benchmark_is_reported_not_raised(monkeypatch):
    def broken(**_: object) -> dict:
        raise RuntimeError("guest exploded")

    monkeypatch.setattr(bench_trap, "collect", broken)
    sec = runner.collect_one("trap", True, 1)
    assert sec["status"] == "error" and "guest exploded" in sec["reason"]


def test_module_mains_print_tables(capsys):
    assert bench_trap.main(["--quick"]) == 0
    assert "exact: insns_per_round_trip_U_to_S = 7" in capsys.readouterr().out


def test_ratios_are_taken_run_by_run():
    # Run 1: 10/5 = 2; run 2: 30/10 = 3; run 3: the peer was lost (None).
    r = runner.ratio("a / b", [10.0, 30.0, 20.0], [5.0, 10.0, None])
    assert r["samples"] == [2.0, 3.0]
    assert (r["min"], r["median"], r["max"]) == (2.0, 2.5, 3.0)
    # Not the ratio of the medians (20 / 7.5).
    empty = runner.figure("nothing", "s", [None])
    assert empty["median"] is None and empty["samples"] == []


def test_markdown_table_carries_every_figure(quick_run, tmp_path):
    text = runner.format_markdown(quick_run)
    for sec in quick_run["sections"]:
        if sec["status"] != "ok":
            continue
        for f in [*sec["figures"], *sec["ratios"]]:
            assert f"| {sec['name']} | {f['name']} | {f['unit']} |" in text
        for key, val in sec["exact"].items():
            assert f"| {sec['name']} | {key} | {runner._num(val)} |" in text
    out = tmp_path / "perf.md"
    assert main(["bench", "--quick", "--only", "ipc", "--markdown", str(out)]) == 0
    assert "| ipc | insns_per_round_trip_fastpath |" in out.read_text()
