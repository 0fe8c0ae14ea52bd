"""Smoke test of bench_watchdog: it runs on a short idle stretch and its
figures are sane (no timing is asserted: instruction counts and virtual
time only)."""

from __future__ import annotations

from septum.tests.bench import bench_watchdog
from septum.userland import supervision


def test_bench_watchdog_prints_a_table(capsys):
    assert bench_watchdog.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "insns per virtual s" in out and "console looping -> found hung" in out
    rows = {line.split()[0]: float(line.split()[1].replace(",", ""))
            for line in out.splitlines() if line.strip().startswith(("off ", "on "))}
    # The heartbeat costs instructions: with it the idle system retires more.
    assert rows["on"] > rows["off"] > 0


def test_an_idle_system_is_never_taken_for_hung(tmp_path):
    r = bench_watchdog.idle_rate(bench_watchdog.boot_cli.DEFAULT_MANIFEST, 0.5, tmp_path)
    assert r["virtual_s"] >= 0.5 and "hung" not in r["output"] and "faulted" not in r["output"]
    # Without the supervisor's notifies nobody is watched: no "hung" either.
    off = bench_watchdog.unwatched_manifest(tmp_path)
    assert "notifies = [\"console\"" not in off.read_text().split("[tasks.console]")[0]
    fix = bench_watchdog.repair_time(tmp_path)
    per = supervision.HEARTBEAT / bench_watchdog.TICKS_PER_MS
    assert supervision.MISSES * per <= fix["found_ms"] <= (supervision.MISSES + 1) * per
    assert fix["found_ms"] < fix["restarted_ms"]
