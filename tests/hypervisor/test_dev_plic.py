"""PLIC: priorities, pending, enables, thresholds and claim/complete for
contexts 0 (M, MEIP) and 1 (S, SEIP); register offsets as QEMU virt
(RISC-V PLIC specification; QEMU hw/intc/sifive_plic.c)."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from septum.hypervisor.devices.plic import Plic
from septum.toolchain.riscv import Irq

PRIORITY = 0x0
PENDING = 0x1000
ENABLE = 0x2000
ENABLE_STRIDE = 0x80
THRESHOLD = 0x200000
CLAIM = 0x200004
CONTEXT_STRIDE = 0x1000
M, S = 0, 1


class Board:
    def __init__(self) -> None:
        self.mip = {Irq.MEI: False, Irq.SEI: False}
        self.plic = Plic(self.on_irq)

    def on_irq(self, bit: int, level: bool) -> None:
        self.mip[Irq(bit)] = level

    def prio(self, src: int, value: int) -> None:
        self.plic.write(PRIORITY + 4 * src, 4, value)

    def enable(self, ctx: int, *sources: int) -> None:
        words = [0, 0, 0]
        for s in sources:
            words[s // 32] |= 1 << (s % 32)
        for w, v in enumerate(words):
            self.plic.write(ENABLE + ENABLE_STRIDE * ctx + 4 * w, 4, v)

    def threshold(self, ctx: int, value: int) -> None:
        self.plic.write(THRESHOLD + CONTEXT_STRIDE * ctx, 4, value)

    def claim(self, ctx: int) -> int:
        return self.plic.read(CLAIM + CONTEXT_STRIDE * ctx, 4)

    def complete(self, ctx: int, src: int) -> None:
        self.plic.write(CLAIM + CONTEXT_STRIDE * ctx, 4, src)


def test_reset_values_are_zero() -> None:
    b = Board()
    for src in range(1, 96):
        assert b.plic.read(PRIORITY + 4 * src, 4) == 0
    for w in range(3):
        assert b.plic.read(PENDING + 4 * w, 4) == 0
        for ctx in (M, S):
            assert b.plic.read(ENABLE + ENABLE_STRIDE * ctx + 4 * w, 4) == 0
    for ctx in (M, S):
        assert b.plic.read(THRESHOLD + CONTEXT_STRIDE * ctx, 4) == 0
        assert b.claim(ctx) == 0
    assert b.mip == {Irq.MEI: False, Irq.SEI: False}


def test_priority_and_threshold_are_warl_mod_8() -> None:
    b = Board()
    b.prio(5, 7)
    assert b.plic.read(PRIORITY + 20, 4) == 7
    b.prio(5, 9)  # 7 priorities: QEMU keeps value % 8
    assert b.plic.read(PRIORITY + 20, 4) == 1
    b.threshold(S, 15)
    assert b.plic.read(THRESHOLD + CONTEXT_STRIDE, 4) == 7


def test_pending_follows_a_level_triggered_line() -> None:
    b = Board()
    line = b.plic.line(33)
    line.set(True)
    assert b.plic.read(PENDING + 4, 4) == 1 << 1  # source 33 = word 1, bit 1
    line.set(False)
    assert b.plic.read(PENDING + 4, 4) == 0


def test_claim_complete_gateway() -> None:
    b = Board()
    uart = b.plic.line(10)
    b.prio(10, 1)
    b.enable(S, 10)
    uart.set(True)
    assert b.mip[Irq.SEI] is True and b.mip[Irq.MEI] is False
    assert b.claim(S) == 10
    # Claimed: no longer pending, the context output drops.
    assert b.plic.read(PENDING, 4) == 0
    assert b.mip[Irq.SEI] is False
    assert b.claim(S) == 0
    # Line still high at completion: the source is pending again.
    b.complete(S, 10)
    assert b.mip[Irq.SEI] is True
    assert b.claim(S) == 10
    uart.set(False)
    b.complete(S, 10)
    assert b.mip[Irq.SEI] is False and b.claim(S) == 0


def test_highest_priority_wins_lowest_id_on_ties() -> None:
    b = Board()
    for src, p in ((3, 2), (7, 5), (9, 5), (40, 4)):
        b.prio(src, p)
        b.plic.line(src).set(True)
    b.enable(M, 3, 7, 9, 40)
    assert b.mip[Irq.MEI] is True
    assert [b.claim(M) for _ in range(5)] == [7, 9, 40, 3, 0]


def test_threshold_masks_priorities_at_or_below_it() -> None:
    b = Board()
    b.prio(1, 3)
    b.plic.line(1).set(True)
    b.enable(M, 1)
    b.threshold(M, 3)
    assert b.mip[Irq.MEI] is False and b.claim(M) == 0
    b.threshold(M, 2)
    assert b.mip[Irq.MEI] is True and b.claim(M) == 1


def test_priority_zero_never_interrupts_and_enables_are_per_context() -> None:
    b = Board()
    b.plic.line(2).set(True)
    b.enable(M, 2)
    b.enable(S, 2)
    assert b.mip == {Irq.MEI: False, Irq.SEI: False}
    b.prio(2, 1)
    assert b.mip == {Irq.MEI: True, Irq.SEI: True}
    b.enable(S)
    assert b.mip == {Irq.MEI: True, Irq.SEI: False}
    assert b.plic.read(ENABLE + ENABLE_STRIDE * M, 4) == 1 << 2


def test_pending_register_is_read_only_and_complete_of_bad_id_ignored() -> None:
    b = Board()
    b.plic.write(PENDING, 4, 0xFFFF_FFFF)
    assert b.plic.read(PENDING, 4) == 0
    b.complete(M, 1000)  # ids >= 96 are ignored
    assert b.claim(M) == 0


def test_snapshot_round_trip() -> None:
    b = Board()
    b.prio(4, 6)
    b.enable(S, 4)
    b.plic.line(4).set(True)
    state = pickle.loads(pickle.dumps(b.plic.save()))
    assert b.claim(S) == 4
    b.plic.restore(state)
    assert b.mip[Irq.SEI] is True
    assert b.claim(S) == 4



@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.dictionaries(st.integers(1, 95), st.integers(0, 7), max_size=12),
       st.integers(0, 7), st.sampled_from([M, S]))
def test_claim_order_is_priority_then_id(prios: dict[int, int], threshold: int, ctx: int) -> None:
    """The PLIC spec's selection rule: highest priority above the threshold
    first, ties to the lowest id; each claim removes one source."""
    b = Board()
    for src, p in prios.items():
        b.prio(src, p)
        b.plic.line(src).set(True)
    b.enable(ctx, *prios)
    b.threshold(ctx, threshold)
    expected = sorted((s for s, p in prios.items() if p > threshold), key=lambda s: (-prios[s], s))
    assert b.mip[Irq.MEI if ctx == M else Irq.SEI] is bool(expected)
    assert [b.claim(ctx) for _ in range(len(expected) + 1)] == expected + [0]
