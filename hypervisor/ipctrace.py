"""IPC and system-call trace of a Septum system, and its Perfetto timeline.

:class:`IpcTracer` records every ``ecall`` from U-mode — task, call, arguments,
result, virtual timestamps — plus U-mode faults and task restarts, without a
per-instruction hook:

* the call: the trap unit's ``on_trap`` observer (chained) sees cause 8
  (``ECALL_U``) with the task's ``a0..a7`` still in the registers and its
  ``satp`` still installed (the kernel does not switch ``satp`` on a trap):
  the ASID names the task (ASID = task index + 1, toolchain/build.py);
* the result: ``UC_HOOK_CODE`` hooks restricted to the kernel's ``sret``
  instructions (found by scanning the image's kernel code for the ``sret``
  encoding): when an ``sret`` resumes that task (by ``satp``) at
  ``ecall pc + 4`` (``sepc``), ``a0..a7`` hold what the task sees;
* faults: any other exception whose previous level was U;
* restarts: a TASK_RESTART that returns OK (and any resumption of a task
  somewhere other than its pending call's return: the call is "abandoned").

Events are dictionaries (:meth:`IpcTracer.events`), written as JSON lines by
:meth:`IpcTracer.save`; :func:`format_event` prints one for humans and
:func:`perfetto` turns a list into Chrome trace-event JSON (tasks as
threads of one process, calls as complete slices, CALL→RECV→REPLY as flow
events, faults and restarts as instant events) that ui.perfetto.dev opens.
Timestamps: ``t`` = the CLINT's ``mtime`` (10 MHz ticks); Perfetto's ``ts``
is that in microseconds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Sequence

from unicorn import UC_HOOK_CODE

from septum.hypervisor.trace import SATP_ASID_MASK, SATP_ASID_SHIFT, TaskInfo, TraceError
from septum.kernel.abi import RecvKind, Sys, TaskId, describe_call, describe_status
from septum.toolchain.riscv import CSR, Exc, Mstatus, Priv

#: The encoding of ``sret``.
SRET = 0x10200073
#: mtime ticks per microsecond (10 MHz timebase).
TICKS_PER_US = 10


def find_sret(path: str | Path, sections_prefix: str = ".kernel") -> list[int]:
    """Addresses of every ``sret`` in the executable sections of the ELF at
    ``path`` whose names start with ``sections_prefix`` (all executable
    sections when none does)."""
    from elftools.elf.elffile import ELFFile

    SHF_EXECINSTR = 0x4
    out: list[int] = []
    with open(path, "rb") as f:
        secs = [s for s in ELFFile(f).iter_sections()
                if s["sh_flags"] & SHF_EXECINSTR and s["sh_type"] == "SHT_PROGBITS"]
        chosen = [s for s in secs if s.name.startswith(sections_prefix)] or secs
        for s in chosen:
            data, base = s.data(), s["sh_addr"]
            for off in range(0, len(data) - 3, 2):
                if int.from_bytes(data[off:off + 4], "little") == SRET:
                    out.append(base + off)
    return out


class IpcTracer:
    """System-call, fault and restart events of a running Septum system."""

    def __init__(self, machine: object, tasks: Sequence[TaskInfo], sret_addrs: Iterable[int]) -> None:
        self.m = machine
        self.tasks = {t.asid: t.name for t in tasks}
        self.sret_addrs = sorted(set(sret_addrs))
        self._events: list[dict] = []
        self._pending: dict[int, dict] = {}
        self._hooks: list[int] = []
        self._prev = None
        self._seq = 0

    def _name(self, asid: int) -> str:
        return self.tasks.get(asid, f"asid{asid}")

    def start(self) -> "IpcTracer":
        """Install the hooks."""
        uc = self.m.cpu.uc  # type: ignore[attr-defined]
        for a in self.sret_addrs:
            self._hooks.append(uc.hook_add(UC_HOOK_CODE, self._on_sret, None, a, a))
        trap = self.m.trap  # type: ignore[attr-defined]
        self._prev = trap.on_trap
        trap.on_trap = self._on_trap
        return self

    def stop(self) -> None:
        """Remove the hooks; pending calls stay pending."""
        uc = self.m.cpu.uc  # type: ignore[attr-defined]
        for h in self._hooks:
            uc.hook_del(h)
        self._hooks = []
        trap = self.m.trap  # type: ignore[attr-defined]
        if trap.on_trap == self._on_trap:
            trap.on_trap = self._prev

    def _asid(self) -> int:
        return (self.m.cpu.csr_read(CSR.SATP) >> SATP_ASID_SHIFT) & SATP_ASID_MASK  # type: ignore[attr-defined]

    def _on_trap(self, cause: int, epc: int, tval: int, target: int) -> None:
        try:
            self._trap(cause, epc, tval, target)
        finally:
            if self._prev is not None:
                self._prev(cause, epc, tval, target)

    def _trap(self, cause: int, epc: int, tval: int, target: int) -> None:
        cpu = self.m.cpu  # type: ignore[attr-defined]
        if target == Priv.S:
            prev = Priv.S if cpu.csr_read(CSR.SSTATUS) & Mstatus.SPP else Priv.U
        else:
            prev = (cpu.csr_read(CSR.MSTATUS) & Mstatus.MPP) >> 11
        if prev != Priv.U:
            return
        asid = self._asid()
        now = int(self.m.time)  # type: ignore[attr-defined]
        if cause == Exc.ECALL_U:
            regs = [cpu.gpr(10 + i) for i in range(8)]
            self._seq += 1
            self._pending[asid] = {
                "kind": "syscall", "seq": self._seq, "t": now, "task": self._name(asid),
                "asid": asid, "pc": epc, "nr": regs[7], "args": regs[:7],
                "call": describe_call(regs[7], regs[:7]),
            }
            return
        try:
            name = Exc(cause).name
        except ValueError:
            name = f"cause {cause:#x}"
        self._events.append({"kind": "fault", "t": now, "task": self._name(asid), "asid": asid,
                             "cause": cause, "cause_name": name, "pc": epc, "tval": tval})

    def _on_sret(self, uc: object, address: int, size: int, ud: object) -> None:
        cpu = self.m.cpu  # type: ignore[attr-defined]
        asid = self._asid()
        call = self._pending.pop(asid, None)
        if call is None:
            return
        now = int(self.m.time)  # type: ignore[attr-defined]
        sepc = cpu.csr_read(CSR.SEPC)
        call["t_end"] = now
        if sepc != call["pc"] + 4:
            call["result"] = None
            call["status"] = "abandoned"
            self._events.append(call)
            return
        res = [cpu.gpr(10 + i) for i in range(8)]
        call["result"] = res
        call["status"] = describe_status(res[0])
        self._events.append(call)
        if call["nr"] == Sys.TASK_RESTART and res[0] == 0:
            target = call["args"][0] & TaskId.INDEX_MASK
            self._events.append({"kind": "restart", "t": now, "task": self._name(target + 1),
                                 "asid": target + 1, "by": call["task"], "id": res[1]})

    def events(self, include_pending: bool = True) -> list[dict]:
        """Every event so far, ordered by start time (calls still blocked
        appear with ``result`` None and ``status`` "pending")."""
        out = list(self._events)
        if include_pending:
            for call in self._pending.values():
                out.append({**call, "result": None, "status": "pending"})
        out.sort(key=lambda e: (e["t"], e.get("seq", 0)))
        return out

    def save(self, path: str | Path) -> None:
        """Write the events as JSON lines."""
        write_jsonl(self.events(), path)


def write_jsonl(events: Iterable[dict], path: str | Path) -> None:
    """One JSON object per line."""
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e, sort_keys=True) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """The events of a JSON-lines IPC trace; TraceError names the bad line."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError as exc:
                raise TraceError(f"{path}:{n}: not JSON ({exc.args[0]})") from None
            if not isinstance(e, dict) or "kind" not in e or "t" not in e:
                raise TraceError(f"{path}:{n}: not an IPC trace event")
            out.append(e)
    return out


def _result_text(e: dict) -> str:
    res = e.get("result")
    if res is None:
        return e.get("status", "?")
    try:
        nr = Sys(e["nr"])
    except ValueError:
        return e["status"]
    extra = ""
    if res[0] == 0 and nr in (Sys.RECV, Sys.REPLY_RECV):
        if res[0] == RecvKind.MESSAGE:
            extra = f" from={res[1]:#x} w=[{', '.join(hex(w) for w in res[2:6])}]"
    elif res[0] == RecvKind.NOTIFICATION and nr in (Sys.RECV, Sys.REPLY_RECV):
        extra = f" notification bits={res[1]:#x}"
    elif res[0] == 0 and nr == Sys.CALL:
        extra = f" w=[{', '.join(hex(w) for w in res[2:6])}]"
    if nr in (Sys.RECV, Sys.REPLY_RECV) and res[0] == RecvKind.NOTIFICATION:
        return "NOTIFICATION" + extra
    return e["status"] + extra


def format_event(e: dict) -> str:
    """One event as a line of text."""
    t = f"{e['t']:>12}"
    if e["kind"] == "syscall":
        dur = e.get("t_end", e["t"]) - e["t"]
        return f"{t} {e['task']:<10} {e['call']} -> {_result_text(e)}  (+{dur} ticks)"
    if e["kind"] == "fault":
        return (f"{t} {e['task']:<10} FAULT {e['cause_name']} pc={e['pc']:#x} "
                f"tval={e['tval']:#x}")
    if e["kind"] == "restart":
        return f"{t} {e['task']:<10} RESTART by {e['by']} (id {e['id']:#x})"
    return f"{t} {json.dumps(e)}"


def perfetto(events: Sequence[dict]) -> dict:
    """Chrome trace-event JSON (the object) for ``events``: one thread per task."""
    tids: dict[str, int] = {}
    asid_of: dict[str, int] = {}
    for e in events:
        if e["task"] not in tids:
            tids[e["task"]] = e.get("asid", len(tids) + 1)
            asid_of[e["task"]] = tids[e["task"]]
    out: list[dict] = [{"ph": "M", "pid": 1, "tid": 0, "name": "process_name",
                        "args": {"name": "septum"}}]
    for name, tid in sorted(tids.items(), key=lambda kv: kv[1]):
        out.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name",
                    "args": {"name": name}})
    by_index = {tid - 1: name for name, tid in tids.items()}

    def us(ticks: int) -> float:
        return ticks / TICKS_PER_US

    # Flows: a CALL (client) -> the RECV that delivered it (server) -> the
    # REPLY that answered it (server) -> the CALL's end.
    calls: dict[str, list[dict]] = {}  # client task -> its CALL events
    for e in events:
        if e["kind"] == "syscall" and e["nr"] == Sys.CALL:
            calls.setdefault(e["task"], []).append(e)

    def open_call(client: str, when: int) -> dict | None:
        for c in calls.get(client, ()):
            if c["t"] <= when <= c.get("t_end", 1 << 62) or (
                    c["t"] <= when and c.get("result") is None):
                return c
        return None

    flow_of: dict[int, int] = {}  # CALL seq -> flow id
    served: dict[tuple[str, int], int] = {}  # (server, client index) -> flow id
    next_flow = 1
    for e in sorted(events, key=lambda e: e.get("t_end", e["t"])):
        task = e["task"]
        tid = tids[task]
        if e["kind"] == "syscall":
            end = e.get("t_end", e["t"])
            name = e["call"].split("(")[0]
            out.append({"ph": "X", "pid": 1, "tid": tid, "name": name, "cat": "syscall",
                        "ts": us(e["t"]), "dur": us(end - e["t"]),
                        "args": {"call": e["call"], "status": e["status"]}})
            res = e.get("result")
            nr = e["nr"]
            if nr == Sys.CALL:
                fid = flow_of.get(e["seq"])
                if fid is None:
                    fid = next_flow
                    next_flow += 1
                    flow_of[e["seq"]] = fid
                    out.append({"ph": "s", "id": fid, "pid": 1, "tid": tid, "name": "msg",
                                "cat": "ipc", "ts": us(e["t"])})
                if res is not None:
                    out.append({"ph": "f", "bp": "e", "id": fid, "pid": 1, "tid": tid,
                                "name": "msg", "cat": "ipc", "ts": us(end)})
            if nr in (Sys.REPLY, Sys.REPLY_RECV):
                client = e["args"][0] & TaskId.INDEX_MASK
                fid = served.pop((task, client), None)
                if fid is not None:
                    out.append({"ph": "t", "id": fid, "pid": 1, "tid": tid, "name": "msg",
                                "cat": "ipc", "ts": us(e["t"])})
            if (nr in (Sys.RECV, Sys.REPLY_RECV) and res is not None
                    and res[0] == RecvKind.MESSAGE):
                client = res[1] & TaskId.INDEX_MASK
                cname = by_index.get(client)
                call = open_call(cname, end) if cname is not None else None
                if call is not None:
                    fid = flow_of.get(call["seq"])
                    if fid is None:
                        fid = next_flow
                        next_flow += 1
                        flow_of[call["seq"]] = fid
                        out.append({"ph": "s", "id": fid, "pid": 1, "tid": tids[cname],
                                    "name": "msg", "cat": "ipc", "ts": us(call["t"])})
                    out.append({"ph": "t", "id": fid, "pid": 1, "tid": tid, "name": "msg",
                                "cat": "ipc", "ts": us(end)})
                    served[(task, client)] = fid
        else:
            label = "fault" if e["kind"] == "fault" else "restart"
            args = ({"cause": e["cause_name"], "pc": hex(e["pc"]), "tval": hex(e["tval"])}
                    if e["kind"] == "fault" else {"by": e["by"]})
            out.append({"ph": "i", "s": "t", "pid": 1, "tid": tid, "name": label,
                        "cat": e["kind"], "ts": us(e["t"]), "args": args})
    # Slices first at equal timestamps keeps flow points inside their slices.
    out.sort(key=lambda ev: (ev.get("ts", -1.0), 0 if ev["ph"] in ("M", "X") else 1))
    return {"traceEvents": out, "displayTimeUnit": "ns"}


#: Metadata events the format defines, and the ``args`` key each carries.
_METADATA_ARG = {"process_name": "name", "process_labels": "labels",
                 "process_sort_index": "sort_index", "thread_name": "name",
                 "thread_sort_index": "sort_index"}
#: Tolerance for flow points on slice edges (``ts + dur`` is float arithmetic).
_EPS_US = 1e-3


def _number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def validate_perfetto(doc: dict) -> None:
    """Check ``doc`` against the Trace Event Format's rules (JSON object
    form) for the phases Septum writes; raise TraceError naming the first
    bad event.

    Checked: the object form (a ``traceEvents`` list; ``displayTimeUnit``
    ``ms`` or ``ns``); per event, a known phase, integer pid/tid, a string
    name, ``cat`` a string and ``args`` an object when present, finite
    numbers (JSON has no NaN); metadata events of a defined kind with their
    ``args`` key; ``ts``; ``dur >= 0`` for complete events, which on one
    thread must nest (a viewer drops a slice that half-overlaps another);
    instant scope ``g``, ``p`` or ``t`` when given; flow events with ``cat``
    and an integer or string ``id``, a flow being the events of one
    (cat, name, id) -- what viewers join -- that open with one ``s``, go on
    with ``t`` steps and close with at most one ``f``, never back in time;
    ``s`` and ``t`` bind to the slice enclosing them on their thread, ``f``
    to the enclosing slice with ``"bp": "e"``, else to the next slice that
    starts on its thread.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        raise TraceError("perfetto: not a JSON object with a traceEvents list")
    if "displayTimeUnit" in doc and doc["displayTimeUnit"] not in ("ms", "ns"):
        raise TraceError(f"perfetto: displayTimeUnit {doc['displayTimeUnit']!r} "
                         "(the format allows 'ms' or 'ns')")
    events = doc["traceEvents"]
    slices: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise TraceError(f"perfetto: event {i}: not a JSON object")
        ph = ev.get("ph")
        if ph not in ("M", "X", "i", "s", "t", "f"):
            raise TraceError(f"perfetto: event {i}: unknown phase {ph!r}")
        if not isinstance(ev.get("pid"), int) or not isinstance(ev.get("tid"), int):
            raise TraceError(f"perfetto: event {i}: pid/tid must be integers")
        if not isinstance(ev.get("name"), str):
            raise TraceError(f"perfetto: event {i}: name must be a string")
        if "cat" in ev and not isinstance(ev["cat"], str):
            raise TraceError(f"perfetto: event {i}: cat must be a string")
        if "args" in ev and not isinstance(ev["args"], dict):
            raise TraceError(f"perfetto: event {i}: args must be an object")
        if ph == "M":
            key = _METADATA_ARG.get(ev["name"])
            if key is None or key not in ev.get("args", {}):
                raise TraceError(f"perfetto: event {i}: bad metadata event {ev['name']!r}")
            continue
        if not _number(ev.get("ts")) or ev["ts"] < 0:
            raise TraceError(f"perfetto: event {i}: ts must be a finite number >= 0")
        if ph == "X":
            if not _number(ev.get("dur")) or ev["dur"] < 0:
                raise TraceError(f"perfetto: event {i}: complete event needs dur >= 0")
            slices.setdefault((ev["pid"], ev["tid"]), []).append(
                (ev["ts"], ev["ts"] + ev["dur"]))
        if ph == "i" and ev.get("s", "t") not in ("t", "p", "g"):
            raise TraceError(f"perfetto: event {i}: instant scope must be t, p or g")
    for (pid, tid), spans in slices.items():
        spans.sort(key=lambda se: (se[0], -se[1]))
        open_ends: list[float] = []
        for lo, hi in spans:
            # (Touching slices may overlap by a float rounding of ts + dur.)
            while open_ends and open_ends[-1] <= lo + _EPS_US:
                open_ends.pop()
            if open_ends and hi > open_ends[-1] + _EPS_US:
                raise TraceError(f"perfetto: pid {pid} tid {tid}: slice [{lo}, {hi}] "
                                 "half-overlaps another (slices of a thread must nest)")
            open_ends.append(hi)
    flows: dict[tuple[str, str, object], list[tuple[str, float]]] = {}
    for i, ev in enumerate(events):
        ph = ev["ph"]
        if ph not in ("s", "t", "f"):
            continue
        if not isinstance(ev.get("cat"), str):
            raise TraceError(f"perfetto: event {i}: flow event needs a cat")
        fid = ev.get("id")
        if not isinstance(fid, (int, str)) or isinstance(fid, bool):
            raise TraceError(f"perfetto: event {i}: flow event needs an integer or string id")
        seq = flows.setdefault((ev["cat"], ev["name"], fid), [])
        if (ph == "s") == bool(seq):
            raise TraceError(f"perfetto: event {i}: flow {fid} must start with one 's'")
        if seq and seq[-1][0] == "f":
            raise TraceError(f"perfetto: event {i}: flow {fid} continues after 'f'")
        if seq and ev["ts"] < seq[-1][1]:
            raise TraceError(f"perfetto: event {i}: flow {fid} goes back in time")
        seq.append((ph, ev["ts"]))
        spans = slices.get((ev["pid"], ev["tid"]), ())
        if ph == "f" and "bp" in ev and ev["bp"] != "e":
            raise TraceError(f"perfetto: event {i}: binding point {ev['bp']!r} (only 'e')")
        if ph == "f" and ev.get("bp") != "e":
            if not any(lo >= ev["ts"] - _EPS_US for lo, _ in spans):
                raise TraceError(f"perfetto: event {i}: flow end at {ev['ts']} has no "
                                 "next slice on its thread")
        elif not any(lo - _EPS_US <= ev["ts"] <= hi + _EPS_US for lo, hi in spans):
            raise TraceError(f"perfetto: event {i}: flow point at {ev['ts']} is inside "
                             "no slice of its thread")
