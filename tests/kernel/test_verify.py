"""TASK_VERIFY (kernel/ABI.md): the supervisor compares a task's code with
the pristine copy the builder keeps for its restarts.

- Against the reference model, fast path on and off: an intact task (every
  task of a model system: none writes its own code) answers 0, an index out
  of range BAD_TASK, a non-supervisor's call DENIED (counted).
- On a real system (tests/kernel/tasks/verify.toml), the test changes the
  target's memory with ``Machine.write_phys`` between two of the
  supervisor's calls: an instruction just after an ecall the target waits
  in, the last byte of the code region (page padding, never executed) and
  an instruction never executed are each reported as 1 + their byte
  offset; a change in the data after the code is not (data changes
  legitimately); the supervisor's TASK_RESTART repairs the code and the
  next call answers 0 again.
"""

from __future__ import annotations

from septum.hypervisor.machine import Machine
from septum.kernel.abi import Err, Sys
from septum.toolchain.build import build

from .conftest import TASKS
from .ipcbench import symbols
from .test_model import _check_against_model, _write

BUDGET = 20_000_000


def _op(number: int, a0: int = 0) -> tuple[int, ...]:
    return (0, number, a0, 0, 0, 0, 0, 0, 0)


def test_verify_agrees_with_model(tmp_path, fastpath):
    sysdesc = [{"prio": 1, "client": True, "calls": [], "notifies": []},
               {"prio": 2, "client": True, "calls": [], "notifies": []},
               {"prio": 0, "client": False, "calls": [], "notifies": []}]
    scripts = [
        [_op(Sys.TASK_VERIFY, 0), _op(Sys.TASK_VERIFY, 1), _op(Sys.TASK_VERIFY, 2),
         _op(Sys.TASK_VERIFY, 3), _op(Sys.TASK_VERIFY, 99), _op(Sys.TASK_VERIFY + 1, 1)],
        [_op(Sys.TASK_VERIFY, 0), _op(Sys.TASK_VERIFY, 1)],
        [_op(Sys.YIELD)],
    ]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    sup = [r.regs[:2] for r in model.tasks[0].results]
    assert sup[:3] == [[Err.OK, 0]] * 3
    assert [r[0] for r in sup[3:]] == [Err.BAD_TASK, Err.BAD_TASK, Err.BAD_SYSCALL]
    assert [r.regs[0] for r in model.tasks[1].results] == [Err.DENIED, Err.DENIED]
    assert model.tasks[1].denials == 2


def _verify_once(m: Machine, verified: int) -> tuple[int, int]:
    """Run to the supervisor's next return from TASK_VERIFY: (a0, a1)."""
    stop = m.run(max_insns=BUDGET, breakpoints=[verified])
    assert stop.kind == "breakpoint", (stop, m.uart_output.decode(errors="replace"))
    return m.regs.a0, m.regs.a1


def test_verify_reports_the_first_corrupted_byte(tmp_path):
    res = build(TASKS / "verify.toml", tmp_path / "v.elf")
    syms = symbols(res.elf)
    target = next(t for t in res.tasks if t.name == "vtarget")
    base, size = target.text
    verified = syms["vsuper_verified"]
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(res.elf))
    try:
        assert _verify_once(m, verified) == (Err.OK, 0)
        assert "ok vtarget.denied" in m.uart_output.decode(errors="replace")
        # The data after the code changes legitimately: not reported.
        m.write_phys(syms["vtarget_data"], (0x1234).to_bytes(8, "little"))
        assert _verify_once(m, verified) == (Err.OK, 0)
        # The first doubleword of a compared pair, the second one (the last
        # byte), an instruction after an ecall, one never executed.
        for addr in (base, base + size - 1, syms["vtarget_park"], syms["vtarget_cold"]):
            assert base <= addr < base + size
            old = m.read_phys(addr, 1)
            m.write_phys(addr, bytes([old[0] ^ 0x80]))
            assert _verify_once(m, verified) == (Err.OK, 1 + addr - base), hex(addr)
            # The supervisor restarted vtarget: its code is the pristine one.
            assert _verify_once(m, verified) == (Err.OK, 0)
            assert m.read_phys(addr, 1) == old
        # Two differences: the first in memory is the one reported.
        park, cold = syms["vtarget_park"], syms["vtarget_cold"]
        for addr in (cold, park):
            m.write_phys(addr, bytes([m.read_phys(addr, 1)[0] ^ 1]))
        assert _verify_once(m, verified) == (Err.OK, 1 + min(park, cold) - base)
    finally:
        m.close()
