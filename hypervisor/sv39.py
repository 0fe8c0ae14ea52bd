"""Host-side Sv39 address translation (Privileged spec §4.3.2, §4.4).

The guest's own translation is Unicorn's (QEMU's) MMU.  This walker is for the
host: reading the instruction at a virtual ``xepc`` for ``xtval``, and
``Machine.read_virt``/``write_virt``.  It is a debugger's view of the page
tables: it follows the walk exactly (valid bits, leaves, misaligned
superpages) but does not check U/SUM/MXR permissions or set A/D bits.
"""

from __future__ import annotations

from typing import Callable

from septum.toolchain.riscv import (
    PAGE_SHIFT,
    PTE_PPN_SHIFT,
    SATP_MODE_BARE,
    SATP_MODE_SHIFT,
    SATP_MODE_SV39,
    SATP_PPN_MASK,
    Pte,
)

LEVELS = 3
VPN_BITS = 9
PTE_SIZE = 8
PTE_PPN_MASK = (1 << 44) - 1


def satp_mode(satp: int) -> int:
    """The MODE field of ``satp`` (0 Bare, 8 Sv39)."""
    return satp >> SATP_MODE_SHIFT


def translate(satp: int, va: int, read_u64: Callable[[int], int | None]) -> int | None:
    """Physical address of virtual ``va`` under ``satp``, or None when the
    walk ends in a page fault.  ``read_u64(pa)`` returns the PTE at ``pa``
    (None if not RAM: an access fault, reported here as None too)."""
    mode = satp_mode(satp)
    if mode == SATP_MODE_BARE:
        return va
    if mode != SATP_MODE_SV39:
        return None
    # Bits 63..39 must all equal bit 38.
    top = va >> 38
    if top not in (0, (1 << 26) - 1):
        return None
    a = (satp & SATP_PPN_MASK) << PAGE_SHIFT
    for level in range(LEVELS - 1, -1, -1):
        vpn = (va >> (PAGE_SHIFT + VPN_BITS * level)) & ((1 << VPN_BITS) - 1)
        pte = read_u64(a + vpn * PTE_SIZE)
        if pte is None or not pte & Pte.V or (not pte & Pte.R and pte & Pte.W):
            return None
        ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK
        if pte & (Pte.R | Pte.X):
            # A leaf; a superpage's low PPN fields must be zero.
            low_bits = VPN_BITS * level
            if ppn & ((1 << low_bits) - 1):
                return None
            offset_bits = PAGE_SHIFT + low_bits
            return ((ppn >> low_bits) << offset_bits) | (va & ((1 << offset_bits) - 1))
        a = ppn << PAGE_SHIFT
    return None
