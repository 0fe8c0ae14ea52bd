"""Whole-system scenarios: `septum boot --script` through the real CLI.

:func:`boot` runs the command in process (``septum.hypervisor.cli.main``)
with a per-session build cache, and returns its exit code, its output (CR
LF already turned into LF by the script mode) and its stderr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from septum.hypervisor.cli import main

#: Guest instructions any scenario here may take (a safety net: every
#: scenario ends with poweroff long before).
BUDGET = 400_000_000


@dataclass
class Run:
    """One `septum boot` run."""

    rc: int
    out: str
    err: str

    def after(self, command: str, nth: int = 1) -> str:
        """What the system printed after the ``nth`` prompt with
        ``command`` typed, up to the next prompt.  Whole log lines of the
        kernel or the supervisor that landed between a prompt and the
        echo of the command (a timer went off) are passed over."""
        seen = 0
        for start in _prompts(self.out):
            pos = start
            while True:
                if self.out.startswith(command + "\n", pos):
                    seen += 1
                    if seen == nth:
                        begin = pos + len(command) + 1
                        end = self.out.find("septum> ", begin)
                        return self.out[begin:] if end < 0 else self.out[begin:end]
                    break
                if not self.out.startswith(LOGGERS, pos):
                    break
                pos = self.out.index("\n", pos) + 1
        raise ValueError(f"no prompt #{nth} with {command!r} typed")


#: Lines printed through the kernel's console, which may fall between a
#: prompt and the echo of the line typed at it.
LOGGERS = ("kernel: ", "supervisor: ")
#: Every task's log lines (the kernel's LOG call): they land wherever the
#: task ran, also inside a command's output (a real fault after `crash`).
LOG_LINES = (*LOGGERS, "storage: ")


def without_logs(text: str) -> str:
    """``text`` without the whole lines of :data:`LOG_LINES`."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(LOG_LINES))


def _prompts(text: str):
    i = text.find("septum> ")
    while i >= 0:
        yield i + len("septum> ")
        i = text.find("septum> ", i + 1)


@pytest.fixture(scope="session")
def boot_cache(tmp_path_factory) -> Path:
    """One build cache for the session's boots."""
    return tmp_path_factory.mktemp("septum-cache")


@pytest.fixture
def boot(boot_cache, tmp_path, monkeypatch, capsysbinary):
    """``boot(lines, *options) -> Run``: the script ``lines`` through
    ``septum boot --script FILE --max-insns BUDGET *options``."""
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(boot_cache))
    count = [0]

    def run(lines: list[str] | str, *options: str, budget: int = BUDGET) -> Run:
        count[0] += 1
        script = tmp_path / f"script{count[0]}.txt"
        script.write_text(lines if isinstance(lines, str) else "\n".join(lines) + "\n")
        rc = main(["boot", "--script", str(script), "--max-insns", str(budget), *options])
        cap = capsysbinary.readouterr()
        return Run(rc, cap.out.decode(errors="replace"), cap.err.decode(errors="replace"))

    return run


#: Columns of a `ps` row (userland/README.md), for indexing ps_rows().
PS_COLUMNS = ("index", "name", "priority", "state", "restarts", "denials", "sent", "recv", "id")


def ps_rows(text: str) -> dict[str, list[str]]:
    """The rows of a `ps` listing by task name, one string per
    :data:`PS_COLUMNS` entry."""
    rows = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) == len(PS_COLUMNS) and cols[0].isdigit():
            rows[cols[1]] = cols
    return rows


def links_watch(task: str, manifest: Path | None = None) -> bool:
    """Whether ``task`` links lib/watch.S: then `crash` is a real fault
    made by its receive loop, else a restart."""
    from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
    from septum.toolchain.manifest import load_manifest
    from septum.userland.supervision import LIB_FILE

    m = load_manifest(manifest or DEFAULT_MANIFEST)
    return any(src.name == LIB_FILE for src in m.task(task).sources)


def crash_reply(task: str) -> str:
    """The shell's answer to `crash TASK` (a task other than the shell)."""
    if links_watch(task):
        return f"crash: {task} told to fault; the supervisor restarts it\n"
    return f"crash: {task} restarted by the supervisor\n"


KERNEL_STOP = re.compile(r"kernel: task (0x[0-9a-f]+) stopped: cause=(0x[0-9a-f]+) "
                         r"tval=(0x[0-9a-f]+) pc=(0x[0-9a-f]+)")
