"""Guest RAM in host memory the board owns, and cheap RAM snapshots.

Unicorn copies nothing here: :class:`HostRam` maps an ``mmap`` region of
this process into the guest with ``mem_map_ptr``, so the board can save and
restore RAM without going through ``mem_read``/``mem_write``, and can ask
the host kernel which pages the guest changed.

How snapshots stay cheap
------------------------
A snapshot (:class:`RamImage`) is a *base* -- a sealed in-memory file
(``memfd``) holding a whole RAM image -- plus the 4 KiB pages that differ
from it.  While the machine runs, RAM is a **private** (copy-on-write)
mapping of the current base: untouched pages are the file's, and the first
guest store to a page makes the kernel copy it into an anonymous page.
``/proc/self/pagemap`` tells the two apart (bit 61, "file page or shared
anonymous", is clear for a private copy; bit 63 present, bit 62 swapped), so
the changed pages are known exactly, without a hook on any guest store:

* save = read the page map (8 bytes per page) and copy the changed pages;
  the first save of a machine writes the present pages once into a new base
  (and so does a save that finds more than :data:`REBASE_SHARE` of RAM
  changed);
* restore = map the snapshot's base over RAM again (``MAP_FIXED``: the kernel
  drops the private copies) and write the snapshot's own pages back.

The host address of RAM never changes, so Unicorn's cached host pointers
stay valid; the caller (``Machine.restore``) still flushes translated code
and the TLB, since their *contents* changed.  Linux only (``memfd_create``,
``/proc/self/pagemap``).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import re
import weakref

#: Host and guest page size.
PAGE = 0x1000
#: A save that finds more than this share of RAM changed writes a new base
#: instead of keeping the pages (restoring a base is cheaper than copying).
REBASE_SHARE = 0.25

# /proc/self/pagemap: one little-endian u64 per page; the top byte holds
# bit 63 (present), 62 (swapped) and 61 (file page or shared anonymous).
_PRESENT, _SWAPPED, _FILE = 0x80, 0x40, 0x20
#: Top byte -> 1 when the page is a private copy (changed), else 0.
_CHANGED = bytes(1 if (b & _SWAPPED) or (b & _PRESENT and not b & _FILE) else 0
                 for b in range(256))
_RUNS = re.compile(b"\x01+")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long)
_MAP_FAILED = ctypes.c_void_p(-1).value
#: mmap(2)'s MAP_FIXED (Linux, every architecture; Python's mmap lacks it).
MAP_FIXED = 0x10


class _Base:
    """A full RAM image in a memfd (closed when no snapshot or RAM uses it)."""

    def __init__(self, size: int) -> None:
        self.fd = os.memfd_create("septum-ram", os.MFD_CLOEXEC)
        self.size = size
        weakref.finalize(self, os.close, self.fd)
        os.ftruncate(self.fd, size)  # sparse: unwritten pages read as zeros

    def read(self, offset: int, n: int) -> bytes:
        return os.pread(self.fd, n, offset)


class RamImage:
    """A saved RAM: a base image and the pages that differ from it.

    Reads like the bytes of RAM from offset 0 (``len``, slicing,
    ``bytes(image)``) for callers that inspect a snapshot."""

    def __init__(self, base: _Base, pages: dict[int, bytes]) -> None:
        self.base = base
        self.pages = pages

    def __len__(self) -> int:
        return self.base.size

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes of the saved RAM at byte ``offset``."""
        n = max(0, min(n, self.base.size - offset))
        out = bytearray(self.base.read(offset, n))
        for page in range(offset // PAGE, (offset + n + PAGE - 1) // PAGE):
            data = self.pages.get(page)
            if data is not None:
                lo = max(offset, page * PAGE)
                hi = min(offset + n, page * PAGE + PAGE)
                out[lo - offset:hi - offset] = data[lo - page * PAGE:hi - page * PAGE]
        return bytes(out)

    def __getitem__(self, key: slice) -> bytes:
        if not isinstance(key, slice):
            raise TypeError("RamImage supports slices only")
        start, stop, step = key.indices(self.base.size)
        if step != 1:
            raise ValueError("RamImage slices take no step")
        return self.read(start, max(0, stop - start))

    def __bytes__(self) -> bytes:
        return self.read(0, self.base.size)

    @property
    def changed_pages(self) -> int:
        """Pages stored beside the base (what this snapshot cost to save)."""
        return len(self.pages)


class HostRam:
    """``size`` bytes of guest RAM in a private host mapping (see the module
    docstring); ``addr`` is its host address for ``mem_map_ptr``."""

    def __init__(self, size: int) -> None:
        if size % PAGE:
            raise ValueError(f"RAM size {size:#x} is not a multiple of 4 KiB")
        self.size = size
        self.npages = size // PAGE
        self._mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                             prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self._anchor = ctypes.c_char.from_buffer(self._mm)
        self.addr = ctypes.addressof(self._anchor)
        self.view = memoryview(self._mm)
        #: The image RAM is currently a private copy of (None: anonymous RAM).
        self.base: _Base | None = None
        self._pagemap = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
        weakref.finalize(self, os.close, self._pagemap)

    # ----- which pages changed ------------------------------------------------

    def changed_runs(self) -> list[tuple[int, int]]:
        """``(first page, page count)`` runs of the pages that differ from
        the current base (with no base: every page ever touched)."""
        raw = os.pread(self._pagemap, 8 * self.npages, 8 * (self.addr // PAGE))
        flags = raw[7::8].translate(_CHANGED)
        return [(m.start(), m.end() - m.start()) for m in _RUNS.finditer(flags)]

    # ----- snapshots ---------------------------------------------------------------

    def save(self) -> RamImage:
        """The current RAM contents as a :class:`RamImage`."""
        runs = self.changed_runs()
        changed = sum(n for _, n in runs)
        if self.base is None or changed > REBASE_SHARE * self.npages:
            return RamImage(self._rebase(runs), {})
        view = self.view
        pages: dict[int, bytes] = {}
        for first, n in runs:
            for page in range(first, first + n):
                pages[page] = bytes(view[page * PAGE:(page + 1) * PAGE])
        return RamImage(self.base, pages)

    def restore(self, image: RamImage) -> None:
        """Make RAM equal ``image`` (which may come from another HostRam of
        the same size)."""
        if image.base.size != self.size:
            raise ValueError(f"RAM image of {image.base.size:#x} bytes for RAM of {self.size:#x}")
        self._map(image.base)
        view = self.view
        for page, data in image.pages.items():
            view[page * PAGE:(page + 1) * PAGE] = data

    def _rebase(self, runs: list[tuple[int, int]]) -> _Base:
        """Write RAM into a new base and make RAM a private copy of it."""
        base = _Base(self.size)
        view = self.view
        if self.base is None:
            # Anonymous RAM: pages never touched are zero, as the file's holes.
            for first, n in runs:
                os.pwrite(base.fd, view[first * PAGE:(first + n) * PAGE], first * PAGE)
        else:
            done = 0
            while done < self.size:
                n = min(self.size - done, 16 << 20)
                os.pwrite(base.fd, view[done:done + n], done)
                done += n
        self._map(base)
        return base

    def _map(self, base: _Base) -> None:
        """Map ``base`` privately over RAM, at the same host address."""
        got = _libc.mmap(ctypes.c_void_p(self.addr), self.size,
                         mmap.PROT_READ | mmap.PROT_WRITE,
                         mmap.MAP_PRIVATE | MAP_FIXED, base.fd, 0)
        if got == _MAP_FAILED or got != self.addr:
            err = ctypes.get_errno()
            raise OSError(err, f"cannot map the RAM image: {os.strerror(err)}")
        self.base = base
