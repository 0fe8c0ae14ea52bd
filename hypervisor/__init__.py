"""The virtual board.  Importing it first points the Unicorn binding at
Septum's build of Unicorn when there is one (hypervisor/unicorn_build.py)."""

from septum.hypervisor import unicorn_build as _unicorn_build

#: What :func:`unicorn_build.select` chose at import: "septum", "stock" or "unchanged".
UNICORN = _unicorn_build.select()
