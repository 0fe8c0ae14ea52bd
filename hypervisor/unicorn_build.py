"""Septum's build of Unicorn: the pinned release with exact counting per translated block.

Why
---
Virtual time is the count of retired instructions, so every slice runs
``emu_start(count=N)``.  Unicorn 2.1.4 counts with a code hook: a helper
call before every instruction, 3-5x the cost of the instruction itself on a
tight loop (README, Performance).  QEMU's own answer, icount, counts once per
translated block; Unicorn compiled it out.  hypervisor/native/
unicorn-2.1.4-septum.patch puts a block-level count back, keeping the count
hook's meaning exactly:

* every translated block carries its instruction count into the helper that
  Unicorn already calls at each block's entry (``check_exit_request``); the
  helper adds it to ``uc->emu_counter``;
* a block that would run past the count runs as a shorter block of the
  instructions left (QEMU's ``cflags_next_tb``), then emulation stops before
  the next instruction, with the counter at count + 1 as the hook leaves it;
* leaving a block in the middle (a fault, a stop) takes back the instructions
  after the one that began, where QEMU restores the guest state;
* a device access sees the count and pc of the accessing instruction, and a
  device write that lowers the limit (a timer reprogrammed) stops the run
  right after that instruction (a device *read* that lowered it would stop
  the run at the next block's entry instead: a load cannot be left before
  its register is written; no device of Septum's lowers it on a read);
* ``wfi`` ends its block, since nothing after it runs.

Same image and input, same counts, stops, interrupts and output as with the
per-instruction hook (tests/hypervisor/test_unicorn_build.py runs both and
compares); only faster.  Without the build, Septum runs the stock wheel and
counts per instruction.

How
---
``septum unicorn build`` downloads the pinned source release from PyPI
(``pip download unicorn==2.1.4 --no-binary :all:``, checked against
:data:`SDIST_SHA256`), applies the patch, builds only the RISC-V targets with
CMake (about half a minute on two cores) and puts ``libunicorn.so.2`` in the
user's cache (:func:`lib_dir`).  Importing ``septum.hypervisor`` points the
Unicorn binding at it (``LIBUNICORN_PATH``) when it exists, unless
``SEPTUM_UNICORN=stock``, ``LIBUNICORN_PATH`` is already set, or Unicorn was
imported first (the binding then has the stock library loaded).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from septum.toolchain.errors import SeptumError

#: The Unicorn release Septum pins (pyproject.toml) and patches.
VERSION = "2.1.4"
#: sha256 of PyPI's unicorn-2.1.4.tar.gz.
SDIST_SHA256 = "00567a70e323f749b419cd86bee4f9115beab7ebba32194581c090cbb7c59cff"
#: The patch, applied at the source release's top directory.
PATCH = Path(__file__).resolve().parent / "native" / f"unicorn-{VERSION}-septum.patch"
#: The library's file name, as the binding loads it on Linux.
LIB_NAME = "libunicorn.so.2"
#: ``SEPTUM_UNICORN``: ``auto`` (the build when there is one), ``stock``.
ENV_CHOICE = "SEPTUM_UNICORN"


def patch_id() -> str:
    """First 12 hex digits of the patch's sha256: a changed patch is a new build."""
    return hashlib.sha256(PATCH.read_bytes()).hexdigest()[:12]


def lib_dir() -> Path:
    """Where the build lives: ``$SEPTUM_CACHE``, else ``$XDG_CACHE_HOME/septum``,
    else ``~/.cache/septum``, then ``unicorn-<version>-septum-<patch id>``."""
    base = os.environ.get("SEPTUM_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg, "septum") if xdg else os.path.join(
            os.path.expanduser("~"), ".cache", "septum")
    return Path(base) / f"unicorn-{VERSION}-septum-{patch_id()}"


def built() -> bool:
    """True when this patch's library has been built."""
    return (lib_dir() / LIB_NAME).is_file()


def select() -> str:
    """Point the Unicorn binding at Septum's build if it can still be done;
    returns what Unicorn will load: ``"septum"``, ``"stock"`` or
    ``"unchanged"`` (Unicorn already imported, or ``LIBUNICORN_PATH`` set by
    the user)."""
    if os.environ.get(ENV_CHOICE, "auto") == "stock":
        return "stock"
    if "unicorn" in sys.modules or os.environ.get("LIBUNICORN_PATH"):
        return "unchanged"
    try:
        if not built():
            return "stock"
    except OSError:
        return "stock"
    os.environ["LIBUNICORN_PATH"] = str(lib_dir())
    return "septum"


def loaded() -> str:
    """Which Unicorn this process runs: ``"septum"`` (block-level count) or
    ``"stock"``."""
    from unicorn.unicorn_py3.unicorn import uclib
    return "septum" if hasattr(uclib, "uc_septum_tb_count") else "stock"


def _run(cmd: list[str], cwd: Path, what: str, log: Path) -> None:
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        try:
            r = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise SeptumError(f"unicorn build: {what}: {cmd[0]} is not installed") from None
    if r.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        raise SeptumError(f"unicorn build: {what} failed (exit {r.returncode}; see {log}): "
                          f"{tail[0][:200]}")


def build(jobs: int | None = None, force: bool = False,
          say: Callable[[str], None] = lambda s: None, sdist: str | None = None) -> Path:
    """Build Septum's Unicorn into :func:`lib_dir` and return the library's
    path.  ``sdist``: a local unicorn-2.1.4.tar.gz instead of PyPI's.
    Raises :class:`SeptumError` (one line, the log's path) on failure."""
    dest = lib_dir()
    lib = dest / LIB_NAME
    if lib.is_file() and not force:
        say(f"already built: {lib}")
        return lib
    for tool in ("cmake", "cc", "patch"):
        if shutil.which(tool) is None:
            raise SeptumError(f"unicorn build: {tool} is not installed "
                              "(apt-get install cmake build-essential patch)")
    jobs = jobs or os.cpu_count() or 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="septum-unicorn-", dir=dest.parent) as tmp_s:
        tmp = Path(tmp_s)
        log = dest.parent / f"unicorn-{VERSION}-septum-build.log"
        log.write_text("")
        if sdist is None:
            say(f"downloading unicorn=={VERSION} (source) from PyPI")
            _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                  "--no-binary", ":all:", "-d", str(tmp),
                  f"unicorn=={VERSION}"], tmp, "download", log)
            found = sorted(tmp.glob(f"unicorn-{VERSION}.tar.gz"))
            if not found:
                raise SeptumError(f"unicorn build: pip gave no unicorn-{VERSION}.tar.gz")
            archive = found[0]
        else:
            archive = Path(sdist)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise SeptumError(f"unicorn build: {archive.name}: sha256 {digest}, "
                              f"expected {SDIST_SHA256}")
        say("unpacking and patching")
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse links out, devices
                tar.extractall(tmp, filter="data")
            else:  # the archive's sha256 was checked above
                tar.extractall(tmp)
        top = tmp / f"unicorn-{VERSION}"
        _run(["patch", "-p1", "--forward", "--batch", "-i", str(PATCH)], top, "patch", log)
        src = top / "src"
        say(f"building (RISC-V only, {jobs} jobs; about half a minute on two cores)")
        _run(["cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=Release",
              "-DUNICORN_ARCH=riscv", "-DUNICORN_BUILD_TESTS=off"], src, "cmake", log)
        _run(["cmake", "--build", "build", "-j", str(jobs)], src, "compile", log)
        made = src / "build" / LIB_NAME
        if not made.is_file():
            raise SeptumError(f"unicorn build: no {LIB_NAME} after the build (see {log})")
        dest.mkdir(parents=True, exist_ok=True)
        part = dest / (LIB_NAME + ".part")
        shutil.copy2(made, part)
        os.replace(part, lib)
    say(f"built: {lib}")
    return lib
