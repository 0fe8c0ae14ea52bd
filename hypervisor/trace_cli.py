"""``septum trace`` and ``septum coverage``, and the observation options of
``septum run`` / ``septum boot``.

Commands::

    septum trace show FILE [--from A] [--to A] [--symbol [TASK:]NAME] [--priv M|S|U]
                           [--task NAME] [--window START:COUNT] [--detailed]

A task's instructions show their symbols as ``TASK:symbol+off``, resolved
among that task's own symbols (trace.TaskSymbolizer): every task links its
own ``_start`` and runtime.
    septum trace ipc FILE                  # a --trace-ipc JSON-lines file, for humans
    septum trace perfetto FILE -o OUT.json # the same as a Perfetto timeline
    septum coverage FILE.info [--listing] [--under DIR]

Run/boot options (:func:`add_observe_arguments`, :func:`attach_observers`)::

    --trace FILE [--trace-mode compact|text|detailed]
    --trace-ipc FILE  --perfetto FILE  --log-mmio [FILE]  --coverage FILE.info

``attach_observers(machine, args, image_paths)`` installs what the options
ask for and returns a ``closer()`` that stops the observers and writes their
files; call it once the run is over (also after an error: it is idempotent).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from septum.hypervisor.trace import TraceError

TRACE_MODES = ("compact", "text", "detailed")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``septum trace`` and ``septum coverage``."""
    p = sub.add_parser("trace", help="read instruction and IPC traces",
                       description="Read traces written by 'septum run|boot --trace/--trace-ipc'.")
    tsub = p.add_subparsers(dest="trace_command", metavar="ACTION")
    s = tsub.add_parser("show", help="print an instruction trace (spike commit-log style)")
    s.add_argument("file", help="a --trace file (compact format)")
    s.add_argument("--from", dest="lo", type=_int, default=None, metavar="ADDR",
                   help="only addresses >= ADDR")
    s.add_argument("--to", dest="hi", type=_int, default=None, metavar="ADDR",
                   help="only addresses < ADDR")
    s.add_argument("--symbol", default=None, metavar="[TASK:]NAME",
                   help="only instructions inside symbol NAME (TASK:NAME for a task's "
                        "own symbol; a bare name several tasks define is ambiguous)")
    s.add_argument("--priv", default=None, metavar="M|S|U", help="only this privilege level")
    s.add_argument("--task", default=None, metavar="NAME",
                   help="only while task NAME runs (by satp ASID, else by address)")
    s.add_argument("--window", default=None, metavar="START:COUNT",
                   help="instruction indices START .. START+COUNT-1")
    s.add_argument("--detailed", action="store_true",
                   help="show register writes (traces recorded with --trace-mode detailed)")
    s.set_defaults(func=_show)
    i = tsub.add_parser("ipc", help="print an IPC/syscall trace (JSON lines) for humans")
    i.add_argument("file")
    i.set_defaults(func=_ipc)
    f = tsub.add_parser("perfetto", help="convert an IPC trace to a Perfetto timeline")
    f.add_argument("file")
    f.add_argument("-o", dest="output", required=True, metavar="OUT.json")
    f.set_defaults(func=_perfetto)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    c = sub.add_parser("coverage", help="summarise or annotate a --coverage lcov file",
                       description="Per-source-line coverage of guest assembly from an lcov "
                                   "file written by 'septum run|boot --coverage FILE.info'.")
    c.add_argument("file", help="the .info file")
    c.add_argument("--listing", action="store_true",
                   help="print every source file annotated with execution counts")
    c.add_argument("--under", default=None, metavar="DIR",
                   help="only source files under DIR (e.g. kernel/)")
    c.set_defaults(func=_coverage)


def _show(args: argparse.Namespace) -> int:
    from septum.hypervisor.trace import TraceData, filter_insns, format_insn, parse_window

    data = TraceData.load(args.file)
    window = parse_window(args.window) if args.window else None
    out = sys.stdout
    try:
        for ti in filter_insns(data, data.instructions(), lo=args.lo, hi=args.hi,
                               symbol=args.symbol, priv=args.priv, task=args.task,
                               window=window):
            out.write(format_insn(ti, args.detailed) + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader (head, less) is gone: not an error for a listing.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return 0


def _ipc(args: argparse.Namespace) -> int:
    from septum.hypervisor.ipctrace import format_event, read_jsonl

    for e in read_jsonl(args.file):
        print(format_event(e))
    return 0


def _perfetto(args: argparse.Namespace) -> int:
    from septum.hypervisor.ipctrace import perfetto, read_jsonl

    doc = perfetto(read_jsonl(args.file))
    Path(args.output).write_text(json.dumps(doc))
    return 0


def _coverage(args: argparse.Namespace) -> int:
    from septum.hypervisor.coverage import parse_lcov

    try:
        res = parse_lcov(Path(args.file).read_text())
    except ValueError as exc:
        raise TraceError(f"{args.file}: not an lcov file ({exc})") from None
    if args.under:
        res = res.select(args.under)
    if args.listing:
        sys.stdout.write(res.listing())
        return 0
    for f in sorted(res.files):
        d = res.files[f]
        hit = sum(1 for n in d.values() if n)
        print(f"{100.0 * hit / len(d):6.1f}%  {hit:5}/{len(d):<5} {f}")
    hit, total = res.totals()
    print(f"{res.percent():6.1f}%  {hit:5}/{total:<5} total")
    return 0


# ----- run/boot integration --------------------------------------------------------------


def add_observe_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--trace``, ``--trace-mode``, ``--trace-ipc``, ``--perfetto``,
    ``--log-mmio`` and ``--coverage`` to a run/boot parser."""
    g = parser.add_argument_group("observation")
    g.add_argument("--trace", default=None, metavar="FILE",
                   help="instruction trace (see 'septum trace show')")
    g.add_argument("--trace-mode", choices=TRACE_MODES, default="compact",
                   help="compact (binary, default), text (spike style) or detailed "
                        "(text with register writes; slow)")
    g.add_argument("--trace-ipc", default=None, metavar="FILE",
                   help="system calls, faults and restarts as JSON lines")
    g.add_argument("--perfetto", default=None, metavar="FILE",
                   help="IPC timeline as Chrome trace-event JSON (ui.perfetto.dev)")
    g.add_argument("--log-mmio", nargs="?", const="-", default=None, metavar="FILE",
                   help="log every device access (to FILE, default stderr; write "
                        "--log-mmio=FILE when a positional argument follows)")
    g.add_argument("--coverage", default=None, metavar="FILE.info",
                   help="source-line coverage as an lcov tracefile")


def attach_observers(machine: object, args: argparse.Namespace,
                     image_paths: Sequence[str | Path | None]) -> Callable[[], None]:
    """Install the observers ``args`` asks for on ``machine``; ``image_paths``
    are the ELF files loaded (symbols, tasks, line tables; None and non-ELF
    entries are skipped).  Returns the closer that writes every output."""
    from septum.hypervisor.trace import load_symbols, tasks_from_elf

    paths = [str(p) for p in image_paths if p is not None and _is_elf(str(p))]
    closers: list[Callable[[], None]] = []
    want_ipc = getattr(args, "trace_ipc", None) or getattr(args, "perfetto", None)
    tasks = []
    if want_ipc or getattr(args, "trace", None):
        for p in paths:
            tasks += tasks_from_elf(p)

    if getattr(args, "trace", None):
        from septum.hypervisor.trace import Tracer, format_insn

        mode = getattr(args, "trace_mode", "compact") or "compact"
        tracer = Tracer(machine, load_symbols(paths), tasks,
                        detailed=mode == "detailed").start()
        out = args.trace

        def close_trace() -> None:
            tracer.stop()
            if mode == "compact":
                tracer.save(out)
                return
            data = tracer.data()
            with open(out, "w") as f:
                for ti in data.instructions():
                    f.write(format_insn(ti, mode == "detailed") + "\n")

        closers.append(close_trace)

    if want_ipc:
        from septum.hypervisor.ipctrace import IpcTracer, find_sret, perfetto, write_jsonl

        srets: list[int] = []
        for p in paths:
            srets += find_sret(p)
        ipc = IpcTracer(machine, tasks, srets).start()

        def close_ipc() -> None:
            ipc.stop()
            events = ipc.events()
            if getattr(args, "trace_ipc", None):
                write_jsonl(events, args.trace_ipc)
            if getattr(args, "perfetto", None):
                Path(args.perfetto).write_text(json.dumps(perfetto(events)))

        closers.append(close_ipc)

    if getattr(args, "log_mmio", None):
        from septum.hypervisor.mmiolog import MmioLog, open_log

        stream = open_log(args.log_mmio)
        log = MmioLog(machine, stream).start()

        def close_mmio() -> None:
            log.stop()
            if stream is not sys.stderr:
                stream.close()

        closers.append(close_mmio)

    if getattr(args, "coverage", None):
        from septum.hypervisor.coverage import Coverage, code_lines

        cov = Coverage(machine).start()

        def close_cov() -> None:
            cov.stop()
            lines = []
            for p in paths:
                lines += code_lines(p)
            Path(args.coverage).write_text(cov.result(lines).lcov())

        closers.append(close_cov)

    done = [False]

    def closer() -> None:
        if done[0]:
            return
        done[0] = True
        for c in closers:
            c()

    return closer


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False
