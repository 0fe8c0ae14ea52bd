"""``septum campaign``: fault-injection and fuzzing campaigns.

``septum campaign swifi --faults N`` injects N faults into the servers of
the default system and reports kernel crashes, hangs, recoveries and lost
records; ``septum campaign fuzz --calls N`` runs at least N random system
calls and checks each against the kernel's reference model.  Both print a
results table on stdout and a progress bar on stderr, write a JSON report
with ``--json``, run over ``--jobs`` processes, and are reproducible from
``--seed`` (one fault or unit alone with ``--only INDEX``).  The work is in
``septum.testing.campaign``; docs/campaigns.md has the figures and how to
run a campaign across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from septum.toolchain.errors import SeptumError

EPILOG = """\
exit status:
  0  the campaign ran and the kernel held (swifi: no kernel crash; fuzz: no
     crash, no hang, every result as the model says)
  1  a kernel crash (swifi), or a crash, hang or disagreement (fuzz)
  2  bad arguments
"""


def _positive(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be positive")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must not be negative")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``septum campaign swifi`` and ``septum campaign fuzz``."""
    p = sub.add_parser("campaign", help="fault-injection and system-call fuzzing campaigns",
                       description="Fault-injection (swifi) and fuzzing campaigns against "
                                   "the Septum kernel and system.")
    csub = p.add_subparsers(dest="campaign", metavar="CAMPAIGN", required=True)
    for name, size, what in (("swifi", "--faults", "faults to inject into the servers"),
                             ("fuzz", "--calls", "system calls to fuzz (at least)")):
        c = csub.add_parser(name, help=what, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        c.add_argument(size, type=_positive, required=True, metavar="N", help=f"N {what}")
        c.add_argument("--seed", type=_natural, default=0, metavar="S",
                       help="campaign seed (default 0): the same seed gives the same report")
        c.add_argument("--jobs", "-j", type=_positive, default=1, metavar="J",
                       help="local processes (default 1)")
        c.add_argument("--json", default=None, metavar="FILE",
                       help="write the JSON report to FILE ('-' = stdout, no table)")
        c.add_argument("--only", type=_natural, default=None, metavar="INDEX",
                       help="run only fault (swifi) or unit (fuzz) INDEX of the campaign")
        c.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        c.set_defaults(func=campaign_command)
    m = csub.add_parser("merge", help="merge the JSON reports of slices into one",
                        description="Merge JSON reports of one kind (e.g. the slices "
                                    "pytest-xdist workers left in SEPTUM_CAMPAIGN_OUT).")
    m.add_argument("reports", nargs="+", metavar="REPORT.json")
    m.add_argument("--json", default=None, metavar="FILE", help="write the merged report")
    m.set_defaults(func=merge_command)


def _write_json(result: dict, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def merge_command(args: argparse.Namespace) -> int:
    """Body of ``septum campaign merge``."""
    from septum.testing.campaign import report as rep

    reports = []
    for name in args.reports:
        try:
            data = json.loads(Path(name).read_text())
            if not isinstance(data, dict) or data.get("campaign") not in ("swifi", "fuzz"):
                raise ValueError("not a campaign report")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SeptumError(f"{name}: {exc}") from None
        reports.append(data)
    try:
        result = rep.merge(reports)
    except (ValueError, KeyError) as exc:
        raise SeptumError(f"merge: {exc}") from None
    print(rep.format_table(result))
    if args.json is not None:
        _write_json(result, args.json)
    return 0


def campaign_command(args: argparse.Namespace) -> int:
    """Body of ``septum campaign``; returns the exit status."""
    from septum.testing.campaign import report as rep

    if args.json not in (None, "-"):
        parent = Path(args.json).resolve().parent
        if not parent.is_dir():
            raise SeptumError(f"--json {args.json}: no such directory {parent}")
    stream = None if args.quiet else sys.stderr
    if args.campaign == "swifi":
        result = rep.run_swifi(args.faults, args.seed, args.jobs, args.only, stream)
        bad = result["totals"]["kernel_crashes"] > 0
    else:
        result = rep.run_fuzz(args.calls, args.seed, args.jobs, args.only, stream)
        t = result["totals"]
        bad = bool(t["crashes"] or t["hangs"] or t["disagreements"])
    if args.json == "-":
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        if args.json is not None:
            _write_json(result, args.json)  # first: kept even if stdout is closed
        print(rep.format_table(result))
    return 1 if bad else 0
