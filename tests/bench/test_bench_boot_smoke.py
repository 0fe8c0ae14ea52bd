"""Smoke test of bench_boot: one cold and one warm boot reach the prompt
(no timing is asserted)."""

from __future__ import annotations

from septum.tests.bench import bench_boot


def test_bench_boot_prints_a_table(capsys):
    assert bench_boot.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("septum boot to the shell prompt")
    assert out[1].startswith("warm cache") and out[2].startswith("cold cache")
    insns = int(out[3].rsplit(" ", 1)[1])
    assert insns > 0


def test_boot_once_cold_then_warm(tmp_path):
    cold = bench_boot.boot_once(tmp_path)
    warm = bench_boot.boot_once(tmp_path)
    assert cold["built"] and not warm["built"]
    # Virtual time: the same guest work to the same prompt.
    assert cold["insns"] == warm["insns"]
    assert cold["console"] == warm["console"]
    assert cold["console"].endswith("septum> ")
