"""``septum campaign``: small swifi and fuzz campaigns through the CLI.

The JSON report's structure, totals that add up, determinism (the same
seed gives the same report, whatever the number of processes), ``--only``
reproducing one fault of a campaign alone, and one-line errors.
"""

from __future__ import annotations

import json

import pytest

from septum.hypervisor.cli import main
from septum.testing.campaign import report as rep

OUTCOMES = ("crash", "hang", "recovered", "not_recovered")


def _run(tmp_path, name: str, *argv: str) -> tuple[int, dict]:
    out = tmp_path / f"{name}.json"
    rc = main(["campaign", *argv, "--json", str(out), "-q"])
    return rc, json.loads(out.read_text())


@pytest.fixture(scope="module")
def swifi_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("swifi")
    return (_run(tmp, "a", "swifi", "--faults", "8", "--seed", "11"),
            _run(tmp, "b", "swifi", "--faults", "8", "--seed", "11", "--jobs", "2"),
            _run(tmp, "c", "swifi", "--faults", "8", "--seed", "11", "--only", "5"))


def test_swifi_report_adds_up(swifi_runs):
    (rc, r), _, _ = swifi_runs
    t = r["totals"]
    assert rc == (1 if t["kernel_crashes"] else 0)
    assert t["injected"] == len(r["faults"]) == 8
    assert [f["index"] for f in r["faults"]] == list(range(8))
    assert t["kernel_crashes"] + t["hangs"] + t["recovered"] + t["not_recovered"] == 8
    assert sum(row["count"] for row in r["by_target_kind"]) == 8
    assert t["records_acked"] == sum(f["acked"] for f in r["faults"])
    assert t["records_lost"] <= t["records_acked"]
    assert t["recovered_with_restart"] <= t["recovered"]
    for f in r["faults"]:
        assert f["outcome"] in OUTCOMES and f["detail"]
        assert f["target"] in ("console", "storage", "shell")
    assert set(r["targets_met"]) == {"kernel_crashes", "hangs", "recovered_min",
                                     "records_lost"}


def test_swifi_same_seed_same_report_any_jobs(swifi_runs):
    (_, a), (_, b), _ = swifi_runs
    assert rep.stable(a) == rep.stable(b)


def test_swifi_only_reproduces_one_fault(swifi_runs):
    (_, a), _, (_, c) = swifi_runs
    assert c["faults"] == [a["faults"][5]]


def test_swifi_another_seed_other_faults(tmp_path, swifi_runs):
    (_, a), _, _ = swifi_runs
    _, d = _run(tmp_path, "d", "swifi", "--faults", "2", "--seed", "12")
    assert [f["detail"] for f in d["faults"]] != [f["detail"] for f in a["faults"][:2]]


def test_fuzz_report_and_determinism(tmp_path):
    rc, a = _run(tmp_path, "a", "fuzz", "--calls", "150", "--seed", "3")
    _, b = _run(tmp_path, "b", "fuzz", "--calls", "150", "--seed", "3", "--jobs", "2")
    t = a["totals"]
    assert rc == 0 and t["crashes"] == t["hangs"] == t["disagreements"] == 0
    assert t["calls"] >= 150 and t["calls"] == sum(u["calls"] for u in a["units"])
    assert t["units"] == len(a["units"]) and t["rounds"] == t["units"] * a["rounds_per_unit"]
    assert rep.stable(a) == rep.stable(b)
    _, c = _run(tmp_path, "c", "fuzz", "--calls", "150", "--seed", "3", "--only", "0")
    assert c["units"][0] == a["units"][0]


def test_table_on_stdout(capsys):
    assert main(["campaign", "swifi", "--faults", "1", "--seed", "4", "-q"]) in (0, 1)
    out = capsys.readouterr().out
    assert out.startswith("swifi campaign, seed 4\n")
    assert "injected                1" in out and "recovered %" in out


@pytest.mark.parametrize("argv, message", [
    (["swifi", "--faults", "0"], "must be positive"),
    (["fuzz", "--calls", "x"], "not a number"),
    (["swifi", "--faults", "1", "--seed", "-1"], "must not be negative"),
])
def test_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["campaign", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_json_into_missing_directory(tmp_path, capsys):
    rc = main(["campaign", "swifi", "--faults", "1", "--json", str(tmp_path / "no" / "r.json")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no such directory" in err


def test_merge_of_slices_equals_the_whole(tmp_path, swifi_runs, capsys):
    (_, whole), _, _ = swifi_runs
    for name, first in (("s0", 0), ("s1", 5)):
        r = rep.run_swifi(5 if first == 0 else 3, seed=11, start=first, stream=None)
        (tmp_path / f"{name}.json").write_text(json.dumps(r))
    out = tmp_path / "merged.json"
    assert main(["campaign", "merge", str(tmp_path / "s1.json"), str(tmp_path / "s0.json"),
                 "--json", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert {k: v for k, v in rep.stable(merged).items()} == rep.stable(whole)
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    assert main(["campaign", "merge", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.json" in err
