"""`septum boot` on a terminal: the shell answers typed keys, Ctrl-A X quits
(as in QEMU), the terminal comes back as it was."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios

from septum.hypervisor import boot_cli


def _read_until(fd: int, buf: bytearray, marker: bytes, limit: float = 120.0) -> bool:
    # The limit only keeps a broken build from hanging the suite: the
    # guest's behaviour is checked on the bytes, never on the time taken.
    import time

    end = time.monotonic() + limit
    while marker not in buf and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return marker in buf


def test_terminal_session_and_ctrl_a_x(boot_cache, monkeypatch):
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(boot_cache))
    boot_cli.cached_build(boot_cli.DEFAULT_MANIFEST, log=lambda _: None)
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([sys.executable, "-m", "septum.hypervisor.cli", "boot"],
                            stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, "SEPTUM_CACHE_DIR": str(boot_cache)})
    buf = bytearray()
    try:
        assert _read_until(master, buf, b"septum> ")
        os.write(master, b"put k typed\rget k\r")
        assert _read_until(master, buf, b"get k\r\ntyped\r\nseptum> ")
        os.write(master, b"\x01x")  # Ctrl-A X
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    assert b"septum> put k typed\r\nok\r\n" in buf
    # Lines from the kernel's console (bare LF) reach the raw terminal as
    # CR LF too.
    assert b"supervisor: up\r\n" in buf and b"\n" not in buf.replace(b"\r\n", b"")
    assert after == before  # raw mode was undone
