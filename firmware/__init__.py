"""Septum's M-mode boot firmware: a small SBI implementation in assembly.

The firmware sits at 0x8000_0000, hides its 2 MiB region from S and U mode
with PMP, delegates U-mode exceptions and S-level interrupts, serves the SBI
calls a single-hart kernel needs and enters the kernel at 0x8020_0000 in
S-mode with ``a0`` = hart id and ``a1`` = DTB.  See ``README.md`` beside this
file for what it implements, and :mod:`septum.firmware.sbi` for its numbers.

``sources()`` lists the assembly files (found through ``importlib.resources``
so that a non-editable install works); ``build()`` assembles them with
Septum's own assembler.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from septum.hypervisor.memmap import FIRMWARE_BASE

if TYPE_CHECKING:  # pragma: no cover
    from septum.toolchain.image import Image

#: The sources in link order: entry.S first, so that _start is at FIRMWARE_BASE.
SOURCE_NAMES: tuple[str, ...] = ("entry.S", "trap.S", "sbi.S", "console.S")

#: Where the firmware's code is linked.
LAYOUT: dict[str, int] = {".text": FIRMWARE_BASE}

#: The symbol a build defines to assemble in the self-test extension.
SELFTEST_SYMBOL = "SBI_SELFTEST"


def source_dir() -> Path:
    """The directory holding the firmware's ``.S`` files and its generated
    ``sbi_consts.inc`` (the include path for assembling them)."""
    return Path(str(resources.files(__name__)))


def sources() -> list[Path]:
    """The firmware's assembly sources, in link order."""
    base = source_dir()
    return [base / name for name in SOURCE_NAMES]


def defines(*, selftest: bool = False) -> dict[str, int]:
    """The symbols to predefine for a build (``--defsym``): ``SBI_SELFTEST``
    adds the firmware-specific self-test extension (for tests only)."""
    return {SELFTEST_SYMBOL: 1} if selftest else {}


def build(*, selftest: bool = False) -> "Image":
    """Assemble and link the firmware with :func:`septum.toolchain.assemble`,
    code at 0x8000_0000; returns the linked :class:`~septum.toolchain.image.Image`
    (``Image.to_elf()`` gives a file for ``-bios``).  Raises ``AsmError`` if a
    source does not assemble."""
    from septum.toolchain import assemble

    return assemble(sources(), layout=dict(LAYOUT), include_dirs=(str(source_dir()),),
                    defines=defines(selftest=selftest) or None)
