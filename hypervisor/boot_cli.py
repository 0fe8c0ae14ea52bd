"""``septum boot``: build (cached) and boot the Septum system, shell on the terminal.

The default system is :data:`DEFAULT_MANIFEST` (``userland/system.toml``).  The built ELF is cached under the user's cache
directory (``$SEPTUM_CACHE_DIR``, else ``$XDG_CACHE_HOME/septum``, else
``~/.cache/septum``), keyed by a hash of every source the build reads (the
manifest, the tasks' sources and what they include, the kernel, the
firmware, the builder) and the build options: it is rebuilt when any of
them changes, and "building ..." is said on stderr when that happens.

Interactive: the UART is the terminal (raw mode; Ctrl-A X quits, as in
QEMU).  ``--script FILE|-``: shell commands, one a line (blank lines and
lines starting with ``#`` are skipped), each typed only once the shell's
prompt is back -- deterministic, in virtual time; the process exits with
the system's exit code (``poweroff`` -> 0).  A script that ends without
powering off stops the machine at the next prompt and exits 0.
``reboot`` resets the board and the run goes on (same disk).

Debugging: ``--gdb tcp::PORT`` (QEMU's ``-gdb``; ``-s`` = ``tcp::1234``)
serves the GDB remote protocol on 127.0.0.1 (``tcp:HOST:PORT`` for another
address) while the system runs, script or terminal alike; ``-S`` halts
before the first instruction until a debugger attaches.  GDB's ``kill``
ends the run with status 0, as it does QEMU.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from septum.hypervisor.errors import MachineError

ROOT = Path(__file__).resolve().parent.parent
#: The system ``septum boot`` runs when no --manifest is given.
DEFAULT_MANIFEST = ROOT / "userland" / "system.toml"
#: The shell's prompt: a script line is typed only after it appears.
PROMPT = b"septum> "
#: Size of the fresh disk image made when --disk names no existing file.
DISK_SIZE = 1 << 20
RAM_SIZE = 128 << 20
#: Bump when the cache's key or layout changes meaning.
CACHE_FORMAT = 1

EXIT_BUDGET = 124
EXIT_HANG = 125
EXIT_ERROR = 126

EPILOG = f"""\
exit status:
  the system's exit code  (poweroff from the shell: 0)
  0                       Ctrl-A X typed, the script ended at a prompt, or gdb killed it
  2                       bad input (manifest, script or disk file)
  {EXIT_BUDGET}                     --max-insns exhausted
  {EXIT_HANG}                     guest hang: wfi with nothing that can wake it
  {EXIT_ERROR}                     emulation error (message on stderr)
"""


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``septum boot``."""
    p = sub.add_parser(
        "boot", help="build (cached) and boot the Septum system with its shell",
        description="Build the system a manifest describes (cached) and boot it on the "
                    "virtual board; the console server's UART is the terminal.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default=str(DEFAULT_MANIFEST), metavar="M",
                   help="the system manifest (default: the bundled userland system)")
    p.add_argument("--script", default=None, metavar="FILE|-",
                   help="type these shell commands (one a line; '-' = stdin), each "
                        "after the prompt, then exit with the system's exit code "
                        "(the default when stdin is not a terminal)")
    p.add_argument("--disk", default=None, metavar="FILE",
                   help="host file holding the storage disk (created, 1 MiB, if missing); "
                        "default: a fresh temporary one, deleted at exit")
    p.add_argument("--max-insns", type=int, default=None, metavar="N",
                   help="stop after N guest instructions")
    p.add_argument("--no-fastpath", action="store_true",
                   help="a kernel without its IPC fast path")
    from septum.hypervisor.trace_cli import add_observe_arguments

    add_observe_arguments(p)
    from septum.hypervisor.gdbstub import add_gdb_arguments

    add_gdb_arguments(p)
    p.set_defaults(func=boot_command)


# ----- the build cache ---------------------------------------------------------------


def cache_dir() -> Path:
    """Where built systems are kept (see the module docstring)."""
    env = os.environ.get("SEPTUM_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "septum"


_INCLUDE_RE = re.compile(rb'^\s*\.include\s+"([^"]+)"', re.M)


def _source_files(manifest: Path) -> list[Path]:
    """Every file a build of ``manifest`` reads: the manifest, the tasks'
    sources and everything they ``.include`` (found as the builder finds
    it: beside the including file or in a source folder; the generated
    abi.inc and manifest.inc come from the kernel and the builder), the
    kernel, the firmware, the builder."""
    from septum.toolchain.manifest import load_manifest

    m = load_manifest(manifest)
    search = sorted({s.parent.resolve() for t in m.tasks for s in t.sources})
    files: set[Path] = {manifest.resolve()}
    todo = [s.resolve() for t in m.tasks for s in t.sources]
    while todo:
        f = todo.pop()
        if f in files or not f.is_file():
            continue
        files.add(f)
        for name in _INCLUDE_RE.findall(f.read_bytes()):
            rel = Path(name.decode(errors="replace"))
            for folder in (f.parent, *search):
                candidate = (folder / rel).resolve()
                if candidate.is_file():  # every candidate: hashing more is harmless
                    todo.append(candidate)
    for sub, suffixes in (("kernel", (".S", ".inc", ".py")), ("firmware", (".S", ".inc", ".py")),
                          ("toolchain", (".py",))):
        folder = ROOT / sub
        files |= {f.resolve() for f in folder.rglob("*") if f.suffix in suffixes}
    return sorted(files)


def cache_key(manifest: Path, fastpath: bool = True) -> str:
    """The hash naming the cached build of ``manifest``."""
    h = hashlib.sha256(f"septum-boot {CACHE_FORMAT} fastpath={fastpath}\n".encode())
    for f in _source_files(manifest):
        h.update(str(f).encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:32]


def cached_build(manifest: str | Path, fastpath: bool = True,
                 log: Callable[[str], None] | None = None) -> tuple[Path, bool]:
    """The built ELF of ``manifest``, from the cache or built now.

    Returns ``(path, built)``: ``built`` is True when it had to build.
    ``log`` (default: stderr) hears "building ..." before a build.
    """
    from septum.toolchain.build import build

    manifest = Path(manifest)
    if not manifest.is_file():
        raise MachineError(f"{manifest}: no such manifest")
    key = cache_key(manifest, fastpath)
    folder = cache_dir()
    elf = folder / f"system-{key}.elf"
    if elf.is_file():
        return elf, False
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    say(f"septum: building {manifest} ...")
    folder.mkdir(parents=True, exist_ok=True)
    # Build beside the final name and rename: a concurrent boot never sees
    # half an ELF.
    fd, tmp = tempfile.mkstemp(prefix="system-", suffix=".elf.tmp", dir=folder)
    os.close(fd)
    try:
        build(manifest, tmp, fastpath=fastpath)
        os.replace(tmp, elf)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return elf, True


# ----- running -------------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def read_script(source: str, stdin: BinaryIO | None = None) -> list[bytes]:
    """The command lines of a script file (``-`` = stdin): without their
    line ends; blank lines and ``#`` comments dropped."""
    if source == "-":
        data = (stdin or sys.stdin.buffer).read()
    else:
        data = Path(source).read_bytes()
    lines = []
    for raw in data.splitlines():
        line = raw.rstrip(b"\r")
        if line.strip() and not line.lstrip().startswith(b"#"):
            lines.append(line)
    return lines


class ScriptRun:
    """Types ``lines`` into machine ``m``'s shell, one per prompt.

    Output goes to ``out`` as it comes (CR LF turned into LF) and into
    :attr:`transcript`.
    """

    def __init__(self, m: object, lines: Iterable[bytes], out: BinaryIO | None) -> None:
        self.m = m
        self.lines = list(lines)
        self.out = out
        self.transcript = bytearray()
        self._mark = 0  # prompts before this offset are answered already
        self.finished = False  # the script is out of lines at a prompt

    def sink(self, data: bytes) -> None:
        """The machine's console sink."""
        self.transcript += data
        if self.out is not None:
            self.out.write(data.replace(b"\r", b""))
            self.out.flush()

    def poll(self) -> bool:
        """The run loop's ``until``: at a new prompt, type the next line;
        True when there is none left."""
        i = self.transcript.find(PROMPT, self._mark)
        if i < 0:
            return False
        self._mark = i + len(PROMPT)
        if not self.lines:
            self.finished = True
            return True
        self.m.uart_feed(self.lines.pop(0) + b"\n")  # type: ignore[attr-defined]
        return False


def _make_disk(path: str | None) -> tuple[str, bool]:
    """The disk file to use and whether it is a temporary one."""
    if path is None:
        fd, tmp = tempfile.mkstemp(prefix="septum-disk-", suffix=".img")
        os.ftruncate(fd, DISK_SIZE)
        os.close(fd)
        return tmp, True
    p = Path(path)
    if p.is_dir():
        raise MachineError(f"--disk {path}: is a directory")
    if not p.exists():
        with open(p, "wb") as f:
            f.truncate(DISK_SIZE)
    return str(p), False


def boot_command(args: argparse.Namespace) -> int:
    """Body of ``septum boot``; returns the exit status."""
    from septum.hypervisor.machine import Machine
    from septum.hypervisor.trace_cli import attach_observers

    if args.max_insns is not None and args.max_insns <= 0:
        raise MachineError(f"--max-insns {args.max_insns}: must be positive")
    gdb = getattr(args, "gdb", None)
    if gdb is not None:
        from septum.hypervisor.gdbstub import parse_spec

        parse_spec(gdb)  # a bad spec is one line, before a long build
        if args.max_insns is not None:
            raise MachineError("--max-insns and --gdb: the debugger decides when the "
                               "guest stops; give one of them")
    elif getattr(args, "gdb_wait", False):
        raise MachineError("-S waits for a debugger: give --gdb tcp::PORT or -s too")
    lines = read_script(args.script) if args.script is not None else None
    if args.disk is not None and Path(args.disk).is_dir():
        raise MachineError(f"--disk {args.disk}: is a directory")  # before a long build
    elf, _ = cached_build(args.manifest, fastpath=not args.no_fastpath)
    if lines is None and not _stdin_is_terminal():
        # Piped or redirected input is a script (`echo ps | septum boot`):
        # waiting at the prompt for keys that can never come would hang.
        lines = read_script("-")
    disk, temporary = _make_disk(args.disk)
    try:
        m = Machine(ram_size=RAM_SIZE, disk=disk)
        close_observers = lambda: None  # noqa: E731
        try:
            m.boot(bios=str(elf))
            close_observers = attach_observers(m, args, [elf])
            runner = _runner(m, args.max_insns, gdb, getattr(args, "gdb_wait", False))
            if lines is not None:
                return _run_script(m, lines, runner)
            return _run_interactive(m, runner)
        finally:
            close_observers()
            m.close()
    finally:
        if temporary:
            os.unlink(disk)


#: ``runner(until) -> StopReason``: runs the machine until ``until()``.
Runner = Callable[[Callable[[], bool] | None], object]


def _runner(m: object, max_insns: int | None, gdb: str | None, wait: bool) -> Runner:
    """How the run loops below run the machine: plainly, with the total
    budget ``max_insns``, or under the GDB stub listening on ``gdb``
    (``wait``: halted until a debugger attaches; the first run only)."""
    if gdb is None:
        def plain(until: Callable[[], bool] | None) -> object:
            budget = None if max_insns is None else max(1, max_insns - m.instret)  # type: ignore[attr-defined]
            return m.run(max_insns=budget, until=until)  # type: ignore[attr-defined]
        return plain
    from septum.hypervisor.gdbstub import serve

    first = [wait]

    def debugged(until: Callable[[], bool] | None) -> object:
        halt, first[0] = first[0], False
        return serve(m, gdb, halt, until=until)  # type: ignore[arg-type]
    return debugged


def _run_script(m: object, lines: list[bytes], runner: Runner) -> int:
    run = ScriptRun(m, lines, sys.stdout.buffer)
    m.console_sink = run.sink  # type: ignore[attr-defined]
    try:
        while True:
            reason = runner(run.poll)
            if reason.kind == "reset":  # type: ignore[attr-defined]
                m.reset()  # type: ignore[attr-defined]
                continue
            break
    finally:
        m.console_sink = None  # type: ignore[attr-defined]
    if reason.kind == "until" and run.finished:  # type: ignore[attr-defined]
        return 0
    return _exit_status(reason)


def _run_interactive(m: object, runner: Runner) -> int:
    from septum.hypervisor.console import Console

    with Console(m) as console:  # type: ignore[arg-type]
        if console.interactive:
            m.console_sink = _terminal_sink(sys.stdout.buffer)  # type: ignore[attr-defined]
        while True:
            reason = runner(console.poll if console.interactive else None)
            if reason.kind == "reset":  # type: ignore[attr-defined]
                m.reset()  # type: ignore[attr-defined]
                continue
            break
    if console.quit:
        return 0
    return _exit_status(reason)


def _terminal_sink(out: BinaryIO) -> Callable[[bytes], None]:
    """A console sink for a raw-mode terminal: a bare LF becomes CR LF.
    The console server sends CR LF itself, but the kernel's and the
    supervisor's lines come through the firmware's console as bare LFs."""
    last = [0]

    def sink(data: bytes) -> None:
        buf = bytearray()
        for byte in data:
            if byte == 0x0A and last[0] != 0x0D:
                buf.append(0x0D)
            buf.append(byte)
            last[0] = byte
        out.write(bytes(buf))
        out.flush()

    return sink


def _exit_status(reason: object) -> int:
    kind = reason.kind  # type: ignore[attr-defined]
    if kind == "poweroff":
        return int(reason.exit_code) & 0xFF  # type: ignore[attr-defined]
    if kind == "killed":  # GDB's kill: QEMU exits 0
        return 0
    if kind == "budget":
        print(f"septum: instruction budget exhausted ({reason.message})",  # type: ignore[attr-defined]
              file=sys.stderr)
        return EXIT_BUDGET
    if kind == "hang":
        print(f"septum: guest hang: {reason.message}", file=sys.stderr)  # type: ignore[attr-defined]
        return EXIT_HANG
    print(f"septum: {reason}", file=sys.stderr)
    return EXIT_ERROR
