"""``septum.testing``: Septum's pytest plugin (registered through ``pytest11``).

Fixtures for hardware-in-the-loop style tests of RISC-V images on Septum's
board and of tasks on Septum's kernel; see the modules of this package.
"""
