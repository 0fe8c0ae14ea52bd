"""IPC/syscall trace (hypervisor/ipctrace.py) on real kernel systems: calls,
results as the task sees them, faults, restarts; JSON lines; the Perfetto
timeline validated structurally (PyPI's ``perfetto`` trace processor
downloads its binary at run time, which CI cannot do)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from septum.hypervisor import cli
from septum.hypervisor.ipctrace import (IpcTracer, find_sret, perfetto, read_jsonl,
                                        validate_perfetto, write_jsonl)
from septum.hypervisor.machine import Machine
from septum.hypervisor.trace import TraceError, tasks_from_elf
from septum.hypervisor.trace_cli import add_observe_arguments, attach_observers
from septum.kernel.abi import Sys
from septum.toolchain.build import build
from septum.toolchain.riscv import Exc

TASKS = Path(__file__).resolve().parent.parent / "kernel" / "tasks"


def _run(elf: Path) -> tuple[Machine, list[dict]]:
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(elf))
    ipc = IpcTracer(m, tasks_from_elf(elf), find_sret(elf)).start()
    r = m.run(max_insns=5_000_000)
    assert r.kind == "poweroff" and r.exit_code == 0
    ipc.stop()
    return m, ipc.events()


@pytest.fixture(scope="module")
def pingpong(tmp_path_factory) -> tuple[Path, list[dict]]:
    elf = build(TASKS / "pingpong.toml", tmp_path_factory.mktemp("ipc") / "pp.elf").elf
    return elf, _run(elf)[1]


@pytest.fixture(scope="module")
def syscalls(tmp_path_factory) -> tuple[Path, list[dict]]:
    elf = build(TASKS / "syscalls.toml", tmp_path_factory.mktemp("ipc") / "sys.elf").elf
    return elf, _run(elf)[1]


def test_pingpong_calls_and_replies(pingpong):
    _, events = pingpong
    calls = [e for e in events if e["kind"] == "syscall" and e["nr"] == Sys.CALL]
    assert len(calls) > 100 and all(e["task"] == "ping" for e in calls)
    for e in calls:
        if e["status"] != "OK":
            continue
        # pong.S replies to every message with each word plus one.
        assert e["result"][2:6] == [(w + 1) & (2**64 - 1) for w in e["args"][2:6]]
        assert e["t_end"] >= e["t"]
    serves = [e for e in events if e["kind"] == "syscall" and e["task"] == "pong"]
    assert {e["nr"] for e in serves} == {Sys.RECV, Sys.REPLY_RECV}
    # What the server receives is what the client sent: words a2..a5.
    sent = {tuple(e["args"][2:6]) for e in calls}
    got = {tuple(e["result"][2:6]) for e in serves if e["result"] and e["result"][0] == 0}
    assert got and got <= sent


def test_faults_and_restarts(syscalls):
    _, events = syscalls
    faults = [e for e in events if e["kind"] == "fault"]
    assert faults and {e["task"] for e in faults} <= {"faulty", "server", "super"}
    # The kernel reports an access or page fault for the faulty task's probes.
    assert any(e["cause"] in (Exc.LOAD_PAGE_FAULT, Exc.STORE_PAGE_FAULT, Exc.INST_PAGE_FAULT,
                              Exc.ILLEGAL_INSTRUCTION) for e in faults)
    restarts = [e for e in events if e["kind"] == "restart"]
    assert restarts and all(e["by"] == "super" for e in restarts)
    # A restart follows a TASK_RESTART that returned OK, at the same time.
    ok = [e for e in events if e["kind"] == "syscall" and e["nr"] == Sys.TASK_RESTART
          and e["status"] == "OK"]
    assert len(ok) == len(restarts)
    # The supervisor's TASK_STATUS sees the cause the fault event recorded.
    st = [e for e in events if e["kind"] == "syscall" and e["nr"] == Sys.TASK_STATUS
          and e["result"] and e["result"][3] in {f["cause"] for f in faults}]
    assert st


def test_jsonl_and_perfetto(syscalls, pingpong, tmp_path):
    for _, events in (syscalls, pingpong):
        path = tmp_path / "ipc.jsonl"
        write_jsonl(events, path)
        assert read_jsonl(path) == json.loads(json.dumps(events))
        doc = perfetto(events)
        validate_perfetto(json.loads(json.dumps(doc)))
        names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M"}
        assert {e["task"] for e in events} <= names
    kinds = {e["ph"] for e in perfetto(pingpong[1])["traceEvents"]}
    assert {"X", "s", "t", "f"} <= kinds
    kinds = {e["ph"] for e in perfetto(syscalls[1])["traceEvents"]}
    assert "i" in kinds


def test_validate_rejects_bad_documents():
    with pytest.raises(TraceError):
        validate_perfetto({"traceEvents": [{"ph": "X", "pid": 1, "tid": 1, "name": "a",
                                            "ts": 0}]})
    with pytest.raises(TraceError):
        validate_perfetto({"traceEvents": [{"ph": "f", "pid": 1, "tid": 1, "name": "a",
                                            "ts": 0, "id": 1, "cat": "c"}]})
    with pytest.raises(TraceError, match="inside no slice"):
        validate_perfetto({"traceEvents": [
            {"ph": "X", "pid": 1, "tid": 1, "name": "a", "ts": 0, "dur": 1},
            {"ph": "s", "pid": 1, "tid": 1, "name": "m", "ts": 5, "id": 1, "cat": "c"}]})


def _ev(ph: str, ts: float = 0, tid: int = 1, **kw) -> dict:
    return {"ph": ph, "pid": 1, "tid": tid, "name": kw.pop("name", "m"), "ts": ts, **kw}


#: A flow from thread 1's slice [0, 10] to thread 2's slice [20, 30].
GOOD_FLOW = [_ev("X", 0, dur=10), _ev("X", 20, tid=2, dur=10),
             _ev("s", 5, id=1, cat="ipc"), _ev("f", 20, tid=2, id=1, cat="ipc")]


@pytest.mark.parametrize("doc, message", [
    ({"traceEvents": GOOD_FLOW, "displayTimeUnit": "us"}, "displayTimeUnit"),
    ({"traceEvents": [_ev("X", float("nan"), dur=1)]}, "finite"),
    ({"traceEvents": [_ev("X", 0, dur=1, args=[1])]}, "args must be an object"),
    ({"traceEvents": [_ev("X", 0, dur=1, cat=3)]}, "cat must be a string"),
    ({"traceEvents": [{"ph": "M", "pid": 1, "tid": 1, "name": "thread_sort_index",
                       "args": {"name": "x"}}]}, "bad metadata"),
    ({"traceEvents": [_ev("i", 0, s="x")]}, "instant scope"),
    # Half-overlapping slices on one thread.
    ({"traceEvents": [_ev("X", 0, dur=10), _ev("X", 5, dur=10)]}, "nest"),
    # A flow's points must share cat and name to be one flow.
    ({"traceEvents": GOOD_FLOW[:3] + [_ev("f", 20, tid=2, id=1, cat="other")]},
     "must start with one 's'"),
    ({"traceEvents": GOOD_FLOW[:2] + [_ev("s", 5, id=True, cat="ipc")]}, "id"),
    # Back in time: the end before the start.
    ({"traceEvents": GOOD_FLOW[:2] + [_ev("s", 25, tid=2, id=1, cat="ipc"),
                                      _ev("f", 5, id=1, cat="ipc", bp="e")]}, "back in time"),
    ({"traceEvents": GOOD_FLOW[:3] + [_ev("f", 20, tid=2, id=1, cat="ipc", bp="x")]},
     "binding point"),
    # 'f' without bp "e" binds to the next slice: there is none after 25.
    ({"traceEvents": GOOD_FLOW[:3] + [_ev("f", 25, tid=2, id=1, cat="ipc")]},
     "no next slice"),
])
def test_validate_follows_the_trace_event_format(doc, message):
    with pytest.raises(TraceError, match=message):
        validate_perfetto(doc)


def test_validate_accepts_what_the_format_allows():
    validate_perfetto({"traceEvents": GOOD_FLOW, "displayTimeUnit": "ms"})
    # Nested slices, an instant without a scope (thread scope by default),
    # the same id in another category (another flow), a string id, and an
    # 'f' bound to its enclosing slice.
    validate_perfetto({"traceEvents": [
        _ev("X", 0, dur=10), _ev("X", 2, dur=3), _ev("i", 1),
        _ev("X", 20, tid=2, dur=10), *GOOD_FLOW[2:],
        _ev("s", 1, id=1, cat="other"), _ev("f", 29, tid=2, id=1, cat="other", bp="e"),
        _ev("s", 3, id="0x2", cat="ipc"), _ev("t", 21, tid=2, id="0x2", cat="ipc")]})


def test_cli_ipc_and_perfetto(pingpong, tmp_path, capsys):
    path = tmp_path / "ipc.jsonl"
    write_jsonl(pingpong[1], path)
    assert cli.main(["trace", "ipc", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ping" in out and "CALL(server=0x1" in out and "-> OK" in out
    out_json = tmp_path / "p.json"
    assert cli.main(["trace", "perfetto", str(path), "-o", str(out_json)]) == 0
    validate_perfetto(json.loads(out_json.read_text()))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert cli.main(["trace", "ipc", str(bad)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_attach_observers_writes_every_output(pingpong, tmp_path):
    elf, events = pingpong
    p = argparse.ArgumentParser()
    add_observe_arguments(p)
    args = p.parse_args(["--trace", str(tmp_path / "t.bin"), "--trace-ipc",
                         str(tmp_path / "i.jsonl"), "--perfetto", str(tmp_path / "p.json"),
                         "--log-mmio", str(tmp_path / "mmio.log"),
                         "--coverage", str(tmp_path / "c.info")])
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(elf))
    close = attach_observers(m, args, [elf, None])
    m.run(max_insns=5_000_000)
    close()
    close()  # idempotent
    assert read_jsonl(tmp_path / "i.jsonl") == json.loads(json.dumps(events))
    validate_perfetto(json.loads((tmp_path / "p.json").read_text()))
    assert "uart0.THR" in (tmp_path / "mmio.log").read_text()
    assert "SF:" in (tmp_path / "c.info").read_text()
    assert cli.main(["trace", "show", str(tmp_path / "t.bin"), "--window", "0:3"]) == 0
