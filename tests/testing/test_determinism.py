"""The same test run twice gives the same run: output, instruction count,
virtual time and injected faults hash the same (issue 7, "Determinism")."""

from __future__ import annotations

import hashlib

from septum.hypervisor import memmap


def scenario(system, seed: int) -> str:
    """A session with seeded faults, from the boot snapshot; its hash."""
    system.restore(seed=seed)
    inj, con, m = system.inject, system.console, system.machine
    inj.flip_memory("attack", region="data")
    inj.delay_irq(memmap.UART0_IRQ)
    for line in ("put a 1", "get a", "attack peer", "ps"):
        con.sendline(line)
        con.expect(rb"septum> ", timeout=2000)
    h = hashlib.sha256(bytes(m.uart_output))
    h.update(repr((m.instret, m.clock(), [str(i) for i in inj.log],
                   inj.line(memmap.UART0_IRQ).events)).encode())
    return h.hexdigest()


def test_same_seed_same_run(system):
    assert scenario(system, 11) == scenario(system, 11)


def test_another_seed_other_faults(system):
    system.restore(seed=1)
    a = str(system.inject.flip_memory("attack", region="data"))
    system.restore(seed=2)
    b = str(system.inject.flip_memory("attack", region="data"))
    assert a != b
