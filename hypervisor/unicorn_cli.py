"""``septum unicorn``: build Septum's Unicorn (block-level exact count) and say which one runs."""

from __future__ import annotations

import argparse
import sys

from septum.toolchain.errors import SeptumError


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``septum unicorn build`` and ``septum unicorn status``."""
    p = sub.add_parser(
        "unicorn", help="build Septum's Unicorn (exact instruction count per block, faster)",
        description="Septum pins unicorn==2.1.4, whose exact instruction count (the base\n"
                    "of virtual time) is a hook before every instruction.  'build' downloads\n"
                    "that release's source from PyPI, applies Septum's patch (the same count,\n"
                    "kept once per translated block), builds the RISC-V targets with CMake\n"
                    "and caches the library; importing Septum then loads it.  Runs give the\n"
                    "same counts and output either way (hypervisor/unicorn_build.py).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  septum unicorn build        build once (needs cmake, a C compiler, patch)\n"
               "  septum unicorn build --optional   the same, but never fail (quick start)\n"
               "  septum unicorn status       which Unicorn runs, and where the build is\n"
               "  SEPTUM_UNICORN=stock septum run hello.elf   run with the stock wheel\n")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    b = verbs.add_parser("build", help="build and cache Septum's Unicorn",
                         description="Download unicorn 2.1.4's source, patch, build, cache.")
    b.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel compile jobs "
                   "(default: every CPU)")
    b.add_argument("--force", action="store_true", help="build again even if built")
    b.add_argument("--sdist", metavar="FILE",
                   help="use this unicorn-2.1.4.tar.gz instead of downloading it")
    b.add_argument("--optional", action="store_true",
                   help="if the build cannot be done here (no cmake, compiler, patch or "
                        "network), say why and exit 0: Septum then runs the stock Unicorn")
    b.set_defaults(func=_build)
    s = verbs.add_parser("status", help="which Unicorn runs, where the build is",
                         description="Print which Unicorn library this process loads and "
                                     "where Septum's build is (or would be).")
    s.set_defaults(func=_status)
    p.set_defaults(func=_status)


def _build(args: argparse.Namespace) -> int:
    from septum.hypervisor import unicorn_build
    if args.jobs is not None and args.jobs < 1:
        print(f"septum unicorn build: --jobs {args.jobs}: must be at least 1", file=sys.stderr)
        return 2

    def say(msg: str) -> None:
        print(f"septum unicorn: {msg}", file=sys.stderr, flush=True)

    try:
        unicorn_build.build(jobs=args.jobs, force=args.force, say=say, sdist=args.sdist)
    except (SeptumError, OSError) as exc:
        if not args.optional:
            raise
        say(f"not built ({exc}); Septum runs the stock Unicorn, slower, with the same results")
    return 0


def _status(args: argparse.Namespace) -> int:
    from septum.hypervisor import unicorn_build
    from septum.hypervisor.cpu import Cpu
    where = unicorn_build.lib_dir() / unicorn_build.LIB_NAME
    cpu = Cpu()
    print(f"running:  {unicorn_build.loaded()} unicorn {unicorn_build.VERSION} "
          f"(count per {'translated block' if cpu.tb_count else 'instruction'})")
    print(f"build:    {where} ({'present' if where.is_file() else 'absent: septum unicorn build'})")
    return 0
