"""The real kernel agrees with the reference model (kernel/model.py).

Random systems (priorities, call and notify grants) run random system-call
scripts through tests/kernel/tasks/interp.S on Septum's board, fast path on
and off.  When the kernel first idles (nothing READY) the test reads every
task's stored results, every TCB and every task's buffer area from guest RAM
and compares them with the model run on the same scripts.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from septum.hypervisor.machine import Machine
from septum.kernel.abi import (Layout, RecvMode, RegionPerm, Sys, Tcb, TaskState,
                               task_id)
from septum.kernel.model import Model, Op, Region, TaskSpec
from septum.toolchain.build import DEFAULT_SLOT, build

from .conftest import TASKS
from .ipcbench import symbols

BUFSIZE = 256
MAX_OPS = 40  # results array size in interp.S (scripts have at most 24 ops)
F_LAST_SENDER, F_BUFREL, F_FAULT = 1, 2, 4
RECORD = 9
BUDGET = 50_000_000


def _pattern(index: int) -> bytes:
    return bytes((index * 37 + k) & 0xFF for k in range(BUFSIZE))


def _gen_system(rng: random.Random, n: int) -> list[dict]:
    """Random priorities and grants.  The first tasks (the supervisor is 0)
    are clients; the last two mostly serve, and call only higher indices,
    so that most calls find a server, several callers queue on one server,
    and a run lasts a while."""
    tasks = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        tasks.append({
            "prio": rng.randrange(3),
            "client": i < max(2, n - 2),
            "calls": sorted(j for j in others
                            if rng.random() < (0.85 if j > max(i, 1) else 0.1)),
            "notifies": sorted(j for j in others if rng.random() < 0.4),
        })
    return tasks


def _gen_buffer(rng: random.Random, n: int, writable: bool = True,
                own: int = -1) -> tuple[int, int, int]:
    """(flags, a1, a6) for a bulk buffer: none, inside bufarea, or bad.
    A bad one may start at a task's slot -- never task ``own``'s: its code
    is readable to it, so a REPLY would copy bytes the model does not
    know (it knows the buffer areas only)."""
    r = rng.random()
    if r < 0.45:
        return 0, 0, 0
    if r < 0.85:
        off = rng.randrange(0, BUFSIZE - 8)
        return F_BUFREL, off, rng.randrange(1, min(64, BUFSIZE - off) + 1)
    slot = rng.randrange(n)
    if slot == own:
        slot = (slot + 1) % n
    bad = rng.choice([Layout.KERNEL_BASE, Layout.TASKS_BASE + slot * DEFAULT_SLOT,
                      (1 << 64) - 16])
    if rng.random() < 0.5:
        return F_BUFREL, 8, (1 << 64) - 4  # huge length from a good address
    return 0, bad, 32


def _gen_script(rng: random.Random, i: int, sysdesc: list[dict]) -> list[tuple[int, ...]]:
    n = len(sysdesc)
    client = sysdesc[i]["client"]
    ops: list[tuple[int, ...]] = []

    def peer(granted: list[int]) -> int:
        r = rng.random()
        if granted and r < 0.8:
            j = rng.choice(granted)
        elif r < 0.92:
            j = rng.randrange(n)
        else:
            j = 99
        gen = 1 if rng.random() < 0.08 else 0
        return task_id(j, gen)

    # Clients never wait to receive (nobody would call them): their RECVs
    # only take error paths, or wait for notifications.
    kinds = (["call"] * 45 + ["notify"] * 12 + ["yield"] * 8 + ["status"] * 8
             + ["restart"] * 5 + ["stop"] * 4 + ["reply"] * 6 + ["badrecv"] * 8 + ["fault"] * 3
             + ["badsys"] * 3 + ["nrecv"] * 2) if client else \
        (["serve"] * 55 + ["reply"] * 8 + ["call"] * 12 + ["notify"] * 8 + ["recv"] * 6
         + ["yield"] * 5 + ["status"] * 3 + ["fault"] * 2 + ["badrecv"] * 1)
    for _ in range(rng.randrange(12, 24)):
        kind = rng.choice(kinds)
        words = [rng.randrange(1 << 16) for _ in range(4)]
        if kind == "call":
            f, a1, a6 = _gen_buffer(rng, n, own=i)
            ops.append((f, Sys.CALL, peer(sysdesc[i]["calls"]), a1, *words, a6))
        elif kind == "recv":
            f, a1, a6 = _gen_buffer(rng, n, own=i)
            ops.append((f, Sys.RECV, RecvMode.OPEN, a1, 0, 0, 0, 0, a6))
        elif kind == "nrecv":
            ops.append((0, Sys.RECV, RecvMode.NOTIFICATIONS_ONLY, 0, 0, 0, 0, 0, 0))
        elif kind == "badrecv":
            if rng.random() < 0.5:
                ops.append((0, Sys.RECV, 5, 0, 0, 0, 0, 0, 0))
            else:
                ops.append((0, Sys.RECV, RecvMode.OPEN, Layout.KERNEL_BASE, 0, 0, 0, 0, 16))
        elif kind == "reply":
            f, a1, a6 = _gen_buffer(rng, n, writable=False, own=i)
            last = F_LAST_SENDER if rng.random() < 0.85 else 0
            ops.append((f | last, Sys.REPLY, peer([]), a1, *words, a6))
        elif kind == "serve":
            f, a1, a6 = _gen_buffer(rng, n, own=i) if rng.random() < 0.4 else (0, 0, 0)
            ops.append((f | F_LAST_SENDER, Sys.REPLY_RECV, 0, a1, *words, a6))
        elif kind == "notify":
            ops.append((0, Sys.NOTIFY, peer(sysdesc[i]["notifies"]),
                        rng.randrange(1, 256), 0, 0, 0, 0, 0))
        elif kind == "yield":
            ops.append((0, Sys.YIELD, 0, 0, 0, 0, 0, 0, 0))
        elif kind == "status":
            ops.append((0, Sys.TASK_STATUS, rng.choice([*range(n), 99]), 0, 0, 0, 0, 0, 0))
        elif kind == "restart":
            ops.append((0, Sys.TASK_RESTART, rng.choice([*range(n), 99]), 0, 0, 0, 0, 0, 0))
        elif kind == "stop":
            ops.append((0, Sys.TASK_STOP, rng.choice([*range(n), 99]), 0, 0, 0, 0, 0, 0))
        elif kind == "fault":
            ops.append((F_FAULT, 0, Layout.KERNEL_BASE, 0, 0, 0, 0, 0, 0))
        else:
            ops.append((0, 99, 0, 0, 0, 0, 0, 0, 0))
    return ops


def _write_system(tmp: Path, seed: int, n: int) -> tuple[Path, list[dict], list[list]]:
    rng = random.Random(seed)
    sysdesc = _gen_system(rng, n)
    scripts = [_gen_script(rng, i, sysdesc) for i in range(n)]
    return _write(tmp, sysdesc, scripts), sysdesc, scripts


def _write(tmp: Path, sysdesc: list[dict], scripts: list[list]) -> Path:
    """The manifest and one script source per task, in ``tmp``."""
    toml = ["[kernel]", f"tick = {(1 << 32) - 1}  # no preemption: the model has none", ""]
    for i, (d, ops) in enumerate(zip(sysdesc, scripts)):
        src = tmp / f"script{i}.S"
        body = ["    .data", "    .globl bufarea", "bufarea:"]
        pat = _pattern(i)
        body += ["    .byte " + ", ".join(map(str, pat[k:k + 16])) for k in range(0, BUFSIZE, 16)]
        body += ["    .section .rodata", "    .balign 8", "    .globl script, script_end",
                 "script:"]
        body += ["    .dword " + ", ".join(f"{v & ((1 << 64) - 1):#x}" for v in op) for op in ops]
        body += ["script_end:", ""]
        src.write_text("\n".join(body))
        toml += [f"[tasks.t{i}]",
                 f'source = ["script{i}.S", "{TASKS / "interp.S"}"]',
                 f"priority = {d['prio']}",
                 f"supervisor = {'true' if i == 0 else 'false'}",
                 f"calls = {[f't{j}' for j in d['calls']]}".replace("'", '"'),
                 f"notifies = {[f't{j}' for j in d['notifies']]}".replace("'", '"'), ""]
    manifest = tmp / "system.toml"
    manifest.write_text("\n".join(toml))
    return manifest


def _local_symbol(elf_syms: list[tuple[str, int]], name: str, base: int, size: int) -> int:
    return next(v for s, v in elf_syms if s == name and base <= v < base + size)


def _all_symbols(elf: Path) -> list[tuple[str, int]]:
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        return [(s.name, s["st_value"])
                for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()]


def _model_for(res, sysdesc, scripts, bufareas) -> Model:
    specs = []
    for i, d in enumerate(sysdesc):
        lay = res.tasks[i]
        specs.append(TaskSpec(prio=d["prio"], supervisor=(i == 0), calls=set(d["calls"]),
                              notifies=set(d["notifies"]),
                              regions=[Region(*lay.text, RegionPerm.R | RegionPerm.X),
                                       Region(*lay.data, RegionPerm.R | RegionPerm.W)]))
    model = Model(specs, lambda i: {bufareas[i] + k: b for k, b in enumerate(_pattern(i))})

    def next_op(t) -> Op:
        ops = scripts[t.index]
        if t.pc >= len(ops):
            return Op(Sys.EXIT, (0,))
        flags, num, *args = ops[t.pc]
        args = [a & ((1 << 64) - 1) for a in args]
        if flags & F_LAST_SENDER:
            last = (1 << 64) - 1
            for done, res_ in zip(ops, t.results):
                if done[1] in (Sys.RECV, Sys.REPLY_RECV) and res_.regs[0] == 0:
                    last = res_.regs[1]
            args[0] = last
        if flags & F_BUFREL:
            args[1] = (args[1] + bufareas[t.index]) & ((1 << 64) - 1)
        if flags & F_FAULT:
            return Op(0, tuple(args), fault_addr=args[0])
        return Op(num, tuple(args))

    model.run(next_op)
    return model


def _u64s(data: bytes) -> list[int]:
    return [int.from_bytes(data[k:k + 8], "little") for k in range(0, len(data), 8)]


def _check_against_model(tmp_path: Path, sysdesc: list[dict], scripts: list[list],
                         manifest: Path, fastpath: bool) -> Model:
    n = len(sysdesc)
    res = build(manifest, tmp_path / "sys.elf", fastpath=fastpath)
    syms = _all_symbols(res.elf)
    bufareas = [_local_symbol(syms, "bufarea", *res.tasks[i].data) for i in range(n)]
    results = [_local_symbol(syms, "results", *res.tasks[i].data) for i in range(n)]
    model = _model_for(res, sysdesc, scripts, bufareas)

    idle = _local_symbol(syms, "idle", Layout.KERNEL_BASE,
                         Layout.KERNEL_LIMIT - Layout.KERNEL_BASE)
    tcbs = symbols(res.elf)["tcbs"]
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(res.elf))
    stop = m.run(max_insns=BUDGET, breakpoints=[idle])
    assert stop.kind == "breakpoint", (stop, m.uart_output.decode(errors="replace"))

    for t in model.tasks:
        i = t.index
        got = _u64s(m.read_phys(results[i], 64 * MAX_OPS))
        assert len(t.results) <= MAX_OPS
        for k, r in enumerate(t.results):
            real = tuple(got[8 * k + j] if j in r.defined else None for j in range(8))
            assert real == r.masked(), f"task {i} op {k} {scripts[i][k]}"
        assert not any(got[8 * len(t.results):]), f"task {i}: more results than the model"
        tcb = _u64s(m.read_phys(tcbs + i * Tcb.SIZE, Tcb.SIZE))
        field = lambda off: tcb[off // 8]  # noqa: E731
        assert field(Tcb.STATE) == t.state, f"task {i} state"
        assert field(Tcb.ID) == t.id, f"task {i} id"
        assert field(Tcb.NOTIF) == t.notif, f"task {i} notifications"
        assert field(Tcb.DENIALS) == t.denials, f"task {i} denials"
        assert (field(Tcb.SENT), field(Tcb.RECEIVED)) == (t.sent, t.received), \
            f"task {i} IPC counts"
        assert (field(Tcb.CAUSE), field(Tcb.TVAL)) == (t.cause, t.tval), f"task {i} fault"
        if t.state in (TaskState.SEND_WAIT, TaskState.REPLY_WAIT):
            assert field(Tcb.WAIT) == t.wait, f"task {i} waits on"
        mem = m.read_phys(bufareas[i], BUFSIZE)
        assert mem == bytes(model.memory[bufareas[i] + k] for k in range(BUFSIZE)), \
            f"task {i} buffer"
    return model


@pytest.mark.parametrize("seed", range(10))
def test_kernel_agrees_with_model(tmp_path, seed, fastpath):
    n = 3 + seed % 4
    manifest, sysdesc, scripts = _write_system(tmp_path, seed, n)
    _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)


def test_queued_callers_served_by_priority_then_index(tmp_path, fastpath):
    """Four clients queue on a busy, less urgent server; it serves the most
    urgent first, then equal priorities by index (the receive scan)."""
    prios = [1, 1, 0, 1, 2]  # clients 0..3, server 4
    sysdesc = [{"prio": p, "client": i < 4, "calls": [4] if i < 4 else [], "notifies": []}
               for i, p in enumerate(prios)]
    call = lambda i: (0, Sys.CALL, 4, 0, i, 0, 0, 0, 0)  # noqa: E731
    serve = (F_LAST_SENDER, Sys.REPLY_RECV, 0, 0, 7, 7, 7, 7, 0)
    scripts = [[call(i)] for i in range(4)] + [[serve] * 5]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    order = [r.regs[2] for r in model.tasks[4].results[:4]]  # word 0 = client index
    assert order == [2, 0, 1, 3]
