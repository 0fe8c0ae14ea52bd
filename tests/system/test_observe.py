"""`septum boot` with the observers of issue 6 attached: what the traces say
about a real session agrees with what the shell printed."""

from __future__ import annotations

import json

from septum.hypervisor.ipctrace import read_jsonl, validate_perfetto
from septum.kernel.abi import Sys


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
