"""The ``ipc`` fixture: the host calls servers through the host-link device
and the proxy task, and the kernel's authority rules apply to those calls
(kernel/ABI.md).  The default system's proxy may call the console and
storage; a one-server system (data/whoami) shows who the server sees as
its caller, and a server that dies mid-call."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.kernel.abi import Err, TaskState, Tcb
from septum.testing.ipc import Ipc, IpcError, proxy_manifest

# userland/lib/msg.inc and userland/storage/proto.inc.
CONS_WRITE = 1
STORE_OP_PUT, STORE_OP_GET = 1, 2
STORE_OK, STORE_NOT_FOUND = 0, 1

WHOAMI = Path(__file__).parent / "data" / "whoami" / "system.toml"
WHOAMI_CRASH = 0xDEAD  # data/whoami/whoami.S: fault while the caller waits


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


def test_the_proxy_sleeps_until_the_doorbell(ipc, system):
    # Interrupt-driven: between requests the proxy waits for notifications
    # only, with no timer armed (no polling).
    assert ipc.proxy == len(system.inject.names) - 1  # the last task
    assert ipc.call("storage", STORE_OP_GET, 1, data=b"k", buflen=8).ok
    system.machine.run(max_insns=200_000)
    assert ipc.proxy_state == TaskState.NOTIFY_WAIT
    assert ipc._tcb_u64(ipc.proxy, Tcb.DEADLINE) == 0  # no timer armed
    assert not system.machine.hostlink.busy and ipc.calls_served == 1


def test_authority_of_the_manifest_applies(ipc, console):
    # The proxy's manifest entry grants the console and storage only.
    r = ipc.call("supervisor", 1, 0)
    assert r.status == Err.DENIED and r.status_name == "DENIED"
    assert ipc.call("proxy").status == Err.DENIED  # not in its own calls either
    assert ipc.call(0, raw_id=31).status == Err.BAD_TASK  # index >= task count
    assert ipc.calls_served == 3
    # Both refusals are counted against the proxy, and `ps` shows it.
    assert ipc.proxy_denials == 2
    console.sendline("ps")
    console.expect(rb"septum> ", timeout=100)
    header = re.search(r"(?m)^ ID NAME .*DENIALS.*$", console.output.decode())
    row = re.search(r"(?m)^\s*(\d+)\s+proxy\s+.*$", console.output.decode())
    assert header is not None and row is not None and int(row.group(1)) == ipc.proxy
    assert row.group(0).split()[header.group(0).split().index("DENIALS")] == "2"


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


def test_the_proxy_restarted_by_the_supervisor_keeps_working(ipc, console):
    # The proxy faults when the doorbell wakes it; the supervisor restarts
    # it, and the new incarnation serves the request still pending on the
    # device (the interrupt is level-triggered).
    ipc.system.inject.kill_task("proxy")
    assert ipc.call("storage", STORE_OP_PUT, 1, 1, data=b"kv", timeout=300).words[0] == STORE_OK
    console.expect(rb"restarting proxy", timeout=10)
    assert ipc.server_id("proxy") >> 16 == 1  # a new incarnation answered
    r = ipc.call("storage", STORE_OP_GET, 1, data=b"k", buflen=8)
    assert r.ok and r.words[:2] == (STORE_OK, 1) and r.data[:1] == b"v"


def test_crash_proxy_from_the_shell(ipc, console):
    # The supervisor watches the proxy like every server: `crash proxy`
    # makes it fault for real, and it comes back.
    console.sendline("crash proxy")
    console.expect(rb"restarting proxy", timeout=100)
    r = ipc.call("storage", STORE_OP_GET, 1, data=b"k", buflen=8, timeout=200)
    assert r.ok and r.words[0] == STORE_NOT_FOUND
    assert ipc.server_id("proxy") >> 16 == 1


def test_the_watchdog_leaves_an_idle_proxy_alone(ipc, system):
    # Pings wake the proxy; it answers them and sleeps again.
    assert ipc.call("storage", STORE_OP_GET, 1, data=b"k", buflen=8).ok
    end = system.machine.clock() + 500 * 10_000  # 500 virtual ms: 10 heartbeats
    system.machine.run(max_insns=100_000_000, until=lambda: system.machine.clock() >= end)
    assert system.machine.clock() >= end
    assert ipc.server_id("proxy") == ipc.proxy  # generation 0: never restarted
    assert b"proxy" not in bytes(system.machine.uart_output)
    assert ipc.call("storage", STORE_OP_GET, 1, data=b"k", buflen=8).ok


# ----- a user's own system with the proxy added -------------------------------------


@pytest.fixture(scope="session")
def whoami_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return proxy_manifest(tmp_path_factory.mktemp("whoami"), base=WHOAMI, calls=("whoami",))


@pytest.fixture
def whoami(system_for, whoami_manifest):
    s = system_for(whoami_manifest, ready=b"whoami: ready\n")
    return Ipc(s)


def test_the_server_sees_the_proxy_as_its_caller(whoami):
    # The kernel, not the host, tells the server who called: the proxy's
    # id.  A host that wrote the message into the server itself would not
    # show up as task 1 with a RECV that the kernel completed.
    r = whoami.call("whoami", 7, data=b"ping")
    proxy_id = whoami.server_id("proxy")
    assert proxy_id == 1  # index 1, generation 0
    assert r.ok and r.words[:2] == (proxy_id, 7) and r.data == b"ping"


def test_a_server_that_dies_mid_call_gives_the_dead_code(whoami):
    r = whoami.call("whoami", WHOAMI_CRASH)
    assert r.status_name == "DEAD(gen 1)" and r.words == (0, 0, 0, 0) and r.data == b""
    whoami.system.console.expect(rb"kernel: task 0x0 stopped: cause=0xd", timeout=10)
    # The proxy survives and reports what the kernel says of later calls:
    # the old id is dead; the new one waits for a restart that, in this
    # system, never comes.
    assert whoami.proxy_state == TaskState.NOTIFY_WAIT
    assert whoami.call("whoami", raw_id=0).status_name == "DEAD(gen 1)"
    with pytest.raises(IpcError, match=r"the proxy \(task 1\) is SEND_WAIT"):
        whoami.call("whoami", timeout=10)


def test_a_dead_proxy_is_a_clear_error(whoami):
    # In this system nobody restarts the proxy: the call times out, and
    # the error says why.
    whoami.system.inject.kill_task("proxy")
    with pytest.raises(IpcError, match=r"no answer within 20 virtual ms; the proxy "
                                       r"\(task 1\) is dead \(FAULTED\)"):
        whoami.call("whoami", 1, timeout=20)
    assert not whoami.m.hostlink.busy  # the request was withdrawn


def test_a_system_without_the_proxy_is_a_clear_error():
    fake = SimpleNamespace(manifest=WHOAMI, machine=None)
    with pytest.raises(IpcError, match=r"no IPC proxy .*proxy_manifest"):
        Ipc(fake)  # type: ignore[arg-type]


def test_proxy_manifest_refuses_a_system_that_has_the_proxy(tmp_path):
    with pytest.raises(IpcError, match="already has the IPC proxy"):
        proxy_manifest(tmp_path, base=DEFAULT_MANIFEST)


def test_bad_requests_are_refused_before_the_guest_sees_them(ipc):
    with pytest.raises(IpcError, match="at most 4"):
        ipc.call("storage", 1, 2, 3, 4, 5)
    with pytest.raises(IpcError, match="holds 2048"):
        ipc.call("storage", data=bytes(2049))
    assert ipc.calls_served == 0 and not ipc.m.hostlink.busy
