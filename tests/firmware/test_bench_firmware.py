"""Smoke test of the SBI call-cost benchmark (tests/bench/bench_firmware.py):
it runs, and its figures are exact and reproducible (virtual time)."""

from __future__ import annotations

from septum.tests.bench import bench_firmware


def test_costs_are_exact_and_reproducible(capsys) -> None:
    calls = [c for c in bench_firmware.CALLS
             if c[0] in ("base.get_spec_version", "legacy.console_putchar")]
    small = bench_firmware.measure(10, calls)
    large = bench_firmware.measure(30, calls)
    for a, b in zip(small, large):
        assert a.label == b.label
        # a whole number of guest instructions per call, the same for any N
        assert a.insns_per_call == b.insns_per_call == int(a.insns_per_call) > 0
    putchar = {r.label: r for r in large}["legacy.console_putchar"]
    assert putchar.output_bytes == 30  # one "." per call, nothing else printed
    assert bench_firmware.main(["--calls", "5"]) == 0
    out = capsys.readouterr().out
    assert "base.get_spec_version" in out and "guest insns/call" in out
