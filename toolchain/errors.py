"""The error hierarchy shared by every part of Septum.

Each package raises its own subclass (``AsmError`` here, ``ImageError`` for
image building, ``MachineError`` in the hypervisor).  The command line catches
``SeptumError`` and prints its one-line message; anything else is a bug.
"""

from __future__ import annotations


class SeptumError(Exception):
    """A user-facing error: its ``str`` is one line naming the value at fault."""


class AsmError(SeptumError):
    """An assembly source could not be assembled.

    ``file`` and ``line`` locate the fault (``line`` is 1-based; 0 when the
    fault belongs to no line, such as an undefined symbol at link time with no
    reference site); ``message`` names it.
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: error: {message}")


class ImageError(SeptumError):
    """An image (ELF, flat binary, manifest) is unusable."""
