"""`septum boot` with the observers of issue 6 attached: what the traces say
about a real session agrees with what the shell printed; and the same boot
under the real gdb-multiarch (``--gdb``, ``-S``)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST, cached_build
from septum.hypervisor.ipctrace import read_jsonl, validate_perfetto
from septum.kernel.abi import Sys
from septum.tests.hypervisor.test_gdb import GDB, TIMEOUT, values
from septum.tests.kernel.ipcbench import symbols


def test_ipc_trace_and_perfetto_of_a_session(boot, tmp_path):
    ipc, timeline = tmp_path / "ipc.jsonl", tmp_path / "timeline.json"
    r = boot(["put colour blue", "get colour", "poweroff"],
             "--trace-ipc", str(ipc), "--perfetto", str(timeline))
    assert r.rc == 0 and r.after("get colour") == "blue\n"
    events = read_jsonl(ipc)
    calls = [e for e in events if e.get("task") == "shell" and e.get("nr") == Sys.CALL]
    assert calls, "the shell's calls are in the trace"
    # Every call was answered, but the last: poweroff, which never returns.
    assert all(e["status"] == "OK" for e in calls[:-1])
    assert calls[-1]["status"] == "pending"
    # Timestamps are virtual time: they never go backwards, and each call
    # ends no earlier than it began.
    stamps = [e["t"] for e in events if "t" in e]
    assert stamps == sorted(stamps)
    assert all(e["t_end"] >= e["t"] for e in events if "t_end" in e)
    doc = json.loads(timeline.read_text())
    validate_perfetto(doc)
    tracks = {ev["args"]["name"] for ev in doc["traceEvents"]
              if ev.get("ph") == "M" and ev.get("name") == "thread_name"}
    assert {"shell", "storage", "console"} <= tracks


def test_two_traced_sessions_are_identical(boot, tmp_path):
    runs = []
    for n in range(2):
        path = tmp_path / f"ipc{n}.jsonl"
        r = boot(["put k v", "get k", "poweroff"], "--trace-ipc", str(path))
        runs.append((r.out, path.read_bytes()))
    assert runs[0] == runs[1]


def test_boot_under_gdb(boot_cache, tmp_path, monkeypatch):
    """``septum boot --gdb tcp::PORT -S``: the real gdb-multiarch attaches
    before the first instruction, breaks in the kernel, reads registers,
    single-steps, detaches; the system then boots, runs the script and
    powers off with status 0."""
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(boot_cache))
    elf, _ = cached_build(DEFAULT_MANIFEST)
    rotate = symbols(elf)["sched_rotate"]
    script = tmp_path / "script.txt"
    script.write_text("poweroff\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "septum.hypervisor", "boot", "--gdb",
                          f"tcp::{port}", "-S", "--script", str(script)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None
        seen = []
        for line in p.stderr:  # the stub announces itself once listening
            seen.append(line)
            if "waiting for gdb" in line:
                break
        else:
            raise AssertionError(f"septum boot exited before listening: {seen}")
        g = subprocess.run(
            [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
             "-ex", f"target remote 127.0.0.1:{port}", "-ex", "p/x $pc",
             "-ex", "break sched_rotate", "-ex", "continue", "-ex", "p/x $pc",
             "-ex", "p $priv", "-ex", "info breakpoints", "-ex", "stepi", "-ex", "p/x $pc",
             "-ex", "delete", "-ex", "detach", str(elf)],
            capture_output=True, text=True, timeout=TIMEOUT)
        out = g.stdout + g.stderr
        vals = values(out)
        # The reset vector (QEMU virt's MROM), then the breakpoint, in
        # S-mode (privilege 1), then one instruction further.
        assert vals[0] == "0x1000", out
        assert vals[1] == f"{rotate:#x}", out
        assert vals[2].startswith("1"), out
        assert re.search(r"breakpoint already hit 1 time", out), out
        step = int(vals[3], 16) - rotate
        assert step in (2, 4), out  # sched_rotate does not start with a jump
        stdout, _ = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, stdout
        assert "septum> poweroff" in stdout
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_boot_gdb_bad_options(boot):
    r = boot(["poweroff"], "--gdb", "udp::1")
    assert r.rc == 2 and "udp::1" in r.err and r.err.count("\n") == 1
    r = boot(["poweroff"], "-S")
    assert r.rc == 2 and "-S" in r.err
