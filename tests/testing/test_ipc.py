"""The ``ipc`` fixture: the host calls servers through the proxy task, and
the kernel's authority rules apply to those calls (kernel/ABI.md)."""

from __future__ import annotations

from septum.kernel.abi import Err

# userland/lib/msg.inc and userland/storage/proto.inc.
CONS_WRITE = 1
STORE_OP_PUT, STORE_OP_GET = 1, 2
STORE_OK, STORE_NOT_FOUND = 0, 1


def test_console_write_reaches_the_uart(ipc, console):
    r = ipc.call("console", CONS_WRITE, data=b"hello from the host\n")
    assert r.ok and r.words[0] == 0  # CONS_OK
    console.expect(rb"hello from the host", timeout=10)


def test_storage_put_then_get(ipc):
    assert ipc.call("storage", STORE_OP_PUT, 3, 5, data=b"keyvalue").words[0] == STORE_OK
    r = ipc.call("storage", STORE_OP_GET, 3, data=b"key", buflen=64)
    assert r.ok and r.words[:2] == (STORE_OK, 5) and r.data[:5] == b"value"


def test_each_test_starts_from_the_snapshot(ipc):
    # The put of the previous test is gone: RAM and the disk overlay restored.
    r = ipc.call("storage", STORE_OP_GET, 3, data=b"key", buflen=64)
    assert r.words[0] == STORE_NOT_FOUND


def test_authority_of_the_manifest_applies(ipc):
    # The proxy's manifest entry grants console and storage only.
    r = ipc.call("supervisor", 1, 0)
    assert r.status == Err.DENIED and r.status_name == "DENIED"
    assert ipc.call("proxy").status == Err.DENIED  # not in its own calls either
    assert ipc.call(0, raw_id=31).status == Err.BAD_TASK  # index >= task count
    assert ipc.calls_served == 3


def test_calls_follow_a_restarted_server(ipc, console):
    # Storage waits in RECV: it faults when our call wakes it, and the
    # caller gets the dead code with the new generation (ABI.md, CALL).
    ipc.system.inject.kill_task("storage")
    r = ipc.call("storage", STORE_OP_GET, 3, data=b"key", buflen=64)
    assert r.status_name == "DEAD(gen 1)"
    console.expect(rb"restarting storage", timeout=50)
    console.expect(rb"storage: ready", timeout=200)
    r = ipc.call("storage", STORE_OP_GET, 3, data=b"key", buflen=64)
    assert r.ok and r.words[0] == STORE_NOT_FOUND
    assert ipc.server_id("storage") >> 16 == 1  # new generation
