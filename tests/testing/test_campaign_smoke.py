"""CI smoke runs of the campaigns (issue 7's targets), split for pytest-xdist.

Fuzzing: 100,000 system calls (four campaigns of 25,000, seeds 0..3) with
no kernel crash, no hang and every result as kernel/model.py says -- the
issue's full target.

Fault injection: the issue's 10,000 faults (campaign seed 0, twenty slices
of 500; each xdist worker boots one rig and runs its slices on it), ~10 ms
of CPU time a fault (docs/campaigns.md).  The issue's targets, asserted
slice by slice so that together they hold for the whole run: 0 kernel
crashes, 0 hangs and 0 acknowledged records lost in every slice, and at
most 1% of each slice not recovered (so >= 99% recovered over all of
them); every fault accounted for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from septum.testing.campaign import report as rep
from septum.testing.campaign.swifi import SwifiRig

# Sizes: CI's by default; larger runs set them in the environment and spread
# the slices over xdist workers, local or remote (docs/campaigns.md).
FUZZ_SLICE = 25_000
FUZZ_SEEDS = range(-(-int(os.environ.get("SEPTUM_FUZZ_CALLS", 100_000)) // FUZZ_SLICE))
SWIFI_FAULTS = int(os.environ.get("SEPTUM_SWIFI_FAULTS", 10_000))
SWIFI_SLICE = min(500, SWIFI_FAULTS)
SWIFI_SLICES = range(-(-SWIFI_FAULTS // SWIFI_SLICE))
#: A folder to leave each slice's JSON report in (merge: septum campaign merge).
OUT = os.environ.get("SEPTUM_CAMPAIGN_OUT")


def _keep(report: dict, name: str) -> None:
    if OUT:
        Path(OUT).mkdir(parents=True, exist_ok=True)
        (Path(OUT) / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_fuzz_100k_calls_agree_with_the_model(seed):
    r = rep.run_fuzz(FUZZ_SLICE, seed=seed, stream=None)
    print(rep.format_table(r))
    _keep(r, f"fuzz-{seed}")
    t = r["totals"]
    assert t["calls"] >= FUZZ_SLICE
    assert (t["crashes"], t["hangs"], t["disagreements"]) == (0, 0, 0), r["failures"]


@pytest.fixture(scope="module")
def swifi_rig():
    """One booted rig per process (an xdist worker runs many slices)."""
    rig = SwifiRig()
    yield rig
    rig.close()


@pytest.mark.parametrize("part", SWIFI_SLICES)
def test_swifi_faults_meet_the_targets(part, swifi_rig):
    first = part * SWIFI_SLICE
    r = rep.run_swifi(SWIFI_SLICE, seed=0, start=first, stream=None, rig=swifi_rig)
    print(rep.format_table(r))
    _keep(r, f"swifi-{part}")
    t = r["totals"]
    assert t["injected"] == SWIFI_SLICE
    assert [f["index"] for f in r["faults"]] == list(range(first, first + SWIFI_SLICE))
    assert t["kernel_crashes"] == 0, r["failures"]
    assert t["kernel_crashes"] + t["hangs"] + t["recovered"] + t["not_recovered"] == SWIFI_SLICE
    assert t["hangs"] == 0, r["failures"]
    assert t["records_lost"] == 0, r["failures"]
    assert t["not_recovered"] * 100 <= SWIFI_SLICE, r["failures"]
