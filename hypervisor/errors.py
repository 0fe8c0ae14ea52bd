"""The hypervisor's error type: a machine that cannot be built, loaded or run.

A guest's own mistakes never raise: they become guest traps.  ``MachineError``
is for the host side — a missing image, a bad ``-m`` value, an ELF for another
architecture, a segment outside RAM, an address the host asked to read that is
not mapped — and its ``str`` is one line naming the value at fault.
"""

from __future__ import annotations

from septum.toolchain.errors import SeptumError


class MachineError(SeptumError):
    """The virtual board cannot do what the host asked (one-line message)."""
