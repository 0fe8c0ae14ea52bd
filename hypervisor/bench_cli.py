"""The ``septum bench`` command: every benchmark beside its peer, in one run.

    septum bench [--quick] [--json FILE] [--only NAME,...] [--runs N]

The benchmarks live in ``septum.tests.bench`` (installed with the package);
the runner (tests/bench/runner.py) runs them and formats the table.  The
table goes to stdout, progress to stderr, and ``--json FILE`` writes the
whole result for tools.  The exit code is 0 when every section ran (``ok``
or ``not yet available``), 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from septum.toolchain.errors import SeptumError


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``septum bench``."""
    try:
        from septum.tests.bench.runner import SECTIONS
        known = f" (of: {', '.join(SECTIONS)})"
    except ImportError:  # never break the other commands over the benchmarks
        known = ""
    p = sub.add_parser(
        "bench", help="measure Septum beside its peers (table + JSON)",
        description="Run Septum's benchmarks, each beside its reference (bare Unicorn, "
                    "real QEMU, GNU as, seL4's figure as issue 4 states it), and print a table: "
                    "median of several runs with min and max, ratios taken run by run.")
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds, for tests)")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON to FILE")
    p.add_argument("--markdown", metavar="FILE",
                   help="write every figure as a Markdown table to FILE (the README's table)")
    p.add_argument("--only", metavar="NAME,...",
                   help=f"run only these sections{known}")
    p.add_argument("--runs", type=int, metavar="N",
                   help="timed runs per figure (default 3; 1 with --quick)")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from septum.tests.bench.runner import SECTIONS, format_all, format_markdown, run_all

    names = None
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in SECTIONS]
        if unknown or not names:
            raise SeptumError(f"--only: unknown benchmark {', '.join(unknown) or repr(args.only)} "
                              f"(known: {', '.join(SECTIONS)})")
    if args.runs is not None and args.runs < 1:
        raise SeptumError(f"--runs: must be at least 1, not {args.runs}")
    result = run_all(names, quick=args.quick, runs=args.runs,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(format_all(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_markdown(result))
    failed = [s["name"] for s in result["sections"] if s["status"] == "error"]  # type: ignore[union-attr]
    if failed:
        print(f"septum bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
