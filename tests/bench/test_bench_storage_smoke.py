"""Smoke test of the storage benchmark on a small size: every operation it
measures succeeded (it raises SystemExit otherwise) and it prints its table
(no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from septum.tests.bench import bench_storage


def test_bench_storage_runs_and_prints_a_table(capsys) -> None:  # type: ignore[no-untyped-def]
    assert bench_storage.main(["--ops", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("operation")
    assert [ln[:28].strip() for ln in out[1:]] == [
        "put (write + flush)", "get", "mount: replay per record", "put, disk completing later"]


def test_bench_storage_counts_are_positive(tmp_path: Path) -> None:
    rows = bench_storage.run(8, tmp_path)
    assert all(insns > 0 for _, insns, _ in rows)
