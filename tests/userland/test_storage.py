"""The storage server on Septum's board: PUT/GET/DEL/LIST, validation,
durability across a server restart and a machine reboot on the same host
disk file, torn records, a full store, compaction and its crash safety,
device errors.  Expected answers come from the protocol (proto.inc) and a
Python model of a key-value map; the disk is also decoded in Python with
zlib's CRC-32 (storage_rig.replay), which must agree with the guest."""

from __future__ import annotations

import subprocess

from elftools.elf.elffile import ELFFile

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build

from .storage_rig import (BUDGET, BAD_REQUEST, DEL, FULL, GET, IO_ERROR, LIST, MAX_KEYS, NOT_FOUND,
                          OK, PUT, SECTOR, Script, build_system, client_lines, make_disk,
                          read_log, read_superblocks, replay, run, symbol)


def test_put_get_del_list(tmp_path):
    s = (Script().put(b"a", b"apple").put(b"b", b"banana").get(b"a").get(b"zz").ls()
         .put(b"a", b"avocado").get(b"a").delete(b"a").get(b"a").delete(b"a").ls()
         .put(b"e", b"").get(b"e").put(b"k" * 32, b"v" * 256).get(b"k" * 32))
    disk = make_disk(tmp_path / "d.img", 200)
    lines = run(build_system(tmp_path, s), disk)
    assert lines[0] == "storage: ready"
    assert client_lines(lines) == [
        f"put a {OK}", f"put b {OK}", f"get a {OK} apple", f"get zz {NOT_FOUND}",
        f"ls {OK} 02 a b",
        f"put a {OK}", f"get a {OK} avocado", f"del a {OK}", f"get a {NOT_FOUND}",
        f"del a {NOT_FOUND}", f"ls {OK} 01 b",
        f"put e {OK}", f"get e {OK} ", f"put {'k' * 32} {OK}", f"get {'k' * 32} {OK} {'v' * 256}",
    ]
    assert replay(disk.read_bytes()) == {b"b": b"banana", b"e": b"", b"k" * 32: b"v" * 256}


def test_list_sends_only_keys_that_fit(tmp_path):
    s = Script().put(b"a", b"1").put(b"bb", b"2").put(b"ccc", b"3")
    for n in (0, 1, 2, 4, 5, 6, 8, 9):
        s.ls_short(n)
    lines = client_lines(run(build_system(tmp_path, s), make_disk(tmp_path / "d.img", 200)))
    assert lines[3:] == [f"ls {OK} 00", f"ls {OK} 00", f"ls {OK} 01 a", f"ls {OK} 01 a",
                         f"ls {OK} 02 a bb", f"ls {OK} 02 a bb", f"ls {OK} 02 a bb",
                         f"ls {OK} 03 a bb ccc"]


def test_bad_requests_answered_not_fatal(tmp_path):
    s = (Script()
         .raw(0, 1, 0, 8).raw(5, 1, 0, 8).raw(255, 1, 0, 8)           # unknown ops
         .raw(PUT, 0, 1, 8).raw(PUT, 33, 0, 64).raw(PUT, 1, 257, 300)  # key/value lengths
         .raw(PUT, 4, 10, 8)                                           # more than sent
         .raw(GET, 0, 0, 8).raw(GET, 9, 0, 8).raw(DEL, 33, 0, 64)
         .raw(DEL, 2, 0, 0)                                            # no buffer at all
         .raw(PUT, 1, 0, 1).raw(GET, 1, 0, 1).raw(LIST, 0, 0, 0)       # valid ones
         .raw(PUT, 1, 0, 0xFFFF)                                       # kernel: BAD_BUFFER
         .put(b"", b"x").put(b"k" * 33, b"x").put(b"k", b"v" * 257).get(b"")  # client side
         .put(b"still", b"alive").get(b"still"))
    lines = client_lines(run(build_system(tmp_path, s), make_disk(tmp_path / "d.img", 200)))
    assert lines == [f"raw {BAD_REQUEST}"] * 11 + [f"raw {OK}"] * 3 + ["raw 9"] + [
        f"put  {BAD_REQUEST}", f"put {'k' * 33} {BAD_REQUEST}", f"put k {BAD_REQUEST}",
        f"get  {BAD_REQUEST}", f"put still {OK}", f"get still {OK} alive"]


def test_values_survive_a_server_restart(tmp_path):
    s = (Script().put(b"x", b"1").put(b"y", b"2").delete(b"y").crash()
         .get(b"x").get(b"y").put(b"z", b"3").crash().crash()
         .get(b"z").ls().raw(GET, 1, 0, 1))
    lines = run(build_system(tmp_path, s), make_disk(tmp_path / "d.img", 200))
    assert lines.count("storage: ready") == 4  # boot + three restarts
    assert client_lines(lines) == [
        f"put x {OK}", f"put y {OK}", f"del y {OK}", "crash", f"get x {OK} 1",
        f"get y {NOT_FOUND}", f"put z {OK}", "crash", "crash", f"get z {OK} 3",
        f"ls {OK} 02 x z", f"raw {OK}"]


def test_values_survive_a_reboot_on_the_same_disk(tmp_path):
    disk = make_disk(tmp_path / "d.img", 200)
    first = Script().put(b"alpha", b"one").put(b"beta", b"two").put(b"alpha", b"uno")
    assert client_lines(run(build_system(tmp_path, first, "a"), disk)) == [
        f"put alpha {OK}", f"put beta {OK}", f"put alpha {OK}"]
    second = Script().get(b"alpha").get(b"beta").delete(b"beta")
    elf = build_system(tmp_path, second, "b")
    assert client_lines(run(elf, disk)) == [
        f"get alpha {OK} uno", f"get beta {OK} two", f"del beta {OK}"]
    third = Script().ls()
    assert client_lines(run(build_system(tmp_path, third, "c"), disk)) == [f"ls {OK} 01 alpha"]
    assert replay(disk.read_bytes()) == {b"alpha": b"uno"}


def test_torn_record_at_the_end_is_ignored(tmp_path):
    disk = make_disk(tmp_path / "d.img", 200)
    run(build_system(tmp_path, Script().put(b"a", b"1").put(b"b", b"2").put(b"c", b"3"), "a"),
        disk)
    records, base = read_log(disk.read_bytes())
    assert [r[1] for r in records] == [b"a", b"b", b"c"]
    # Tear the last record: its value byte changes, the checksum no longer matches.
    image = bytearray(disk.read_bytes())
    last = (base + 2) * SECTOR
    image[last + 16 + 1] ^= 0xFF
    disk.write_bytes(bytes(image))
    assert replay(disk.read_bytes()) == {b"a": b"1", b"b": b"2"}
    s = Script().get(b"a").get(b"b").get(b"c").put(b"d", b"4")
    assert client_lines(run(build_system(tmp_path, s, "b"), disk)) == [
        f"get a {OK} 1", f"get b {OK} 2", f"get c {NOT_FOUND}", f"put d {OK}"]
    # The new record replaced the torn one; a later boot sees it.
    s = Script().ls().get(b"d")
    assert client_lines(run(build_system(tmp_path, s, "c"), disk)) == [
        f"ls {OK} 03 a b d", f"get d {OK} 4"]


def test_full_store_answers_full(tmp_path):
    keys = [b"key%02d" % i for i in range(MAX_KEYS)]
    s = Script()
    for k in keys:
        s.put(k, k.upper())
    s.put(b"one-more", b"x").put(b"key07", b"new").delete(b"key03").put(b"one-more", b"x").ls()
    lines = client_lines(run(build_system(tmp_path, s), make_disk(tmp_path / "d.img", 200)))
    assert lines[:MAX_KEYS] == [f"put {k.decode()} {OK}" for k in keys]
    assert lines[MAX_KEYS:MAX_KEYS + 4] == [
        f"put one-more {FULL}", f"put key07 {OK}", f"del key03 {OK}", f"put one-more {OK}"]
    listed = lines[-1].split(" ")
    assert listed[:3] == ["ls", str(OK), str(MAX_KEYS)]
    assert sorted(listed[3:]) == sorted([k.decode() for k in keys if k != b"key03"] + ["one-more"])


HALF_MIN = MAX_KEYS + 1  # the smallest half the server accepts (log.inc)
HALF = HALF_MIN + 1
SMALL = 2 + 2 * HALF


def test_compaction_keeps_every_live_value(tmp_path):
    disk = make_disk(tmp_path / "d.img", SMALL)
    s = Script()
    for i in range(5):
        s.put(b"k%d" % i, b"v%d" % i)
    s.delete(b"k4")
    for i in range(3 * HALF):
        s.put(b"x", b"value-%d" % i)
    s.ls()
    lines = client_lines(run(build_system(tmp_path, s, "a"), disk))
    assert all(ln.endswith(f" {OK}") for ln in lines[:-1])
    assert lines[-1] == f"ls {OK} 05 k0 k1 k2 k3 x"
    supers = read_superblocks(disk.read_bytes())
    assert max(supers)[0] >= 3 and all(h == HALF for _, _, h in supers)
    want = {b"k0": b"v0", b"k1": b"v1", b"k2": b"v2", b"k3": b"v3", b"x": b"value-%d" % (3 * HALF - 1)}
    assert replay(disk.read_bytes()) == want
    s = Script().get(b"x").get(b"k3").get(b"k4")
    assert client_lines(run(build_system(tmp_path, s, "b"), disk)) == [
        f"get x {OK} value-{3 * HALF - 1}", f"get k3 {OK} v3", f"get k4 {NOT_FOUND}"]


def _fill_then_compact(tmp_path, name: str):
    """HALF puts fill half 0; one more compacts into half 1 (generation 2)."""
    disk = make_disk(tmp_path / f"{name}.img", SMALL)
    s = Script()
    for i in range(HALF + 1):
        s.put(b"x", b"%d" % i)
    run(build_system(tmp_path, s, name), disk)
    assert sorted(read_superblocks(disk.read_bytes())) == [(1, 0, HALF), (2, 1, HALF)]
    return disk


def test_compaction_without_its_superblock_keeps_the_old_half(tmp_path):
    # A crash before the new superblock reaches the disk: the copy for
    # generation 2 (sector 0) is missing or torn; the old half is intact.
    for name, damage in (("zeroed", lambda sb: bytes(SECTOR)),
                         ("torn", lambda sb: sb[:8] + b"\xff" + sb[9:])):
        disk = _fill_then_compact(tmp_path, name)
        image = bytearray(disk.read_bytes())
        image[:SECTOR] = damage(bytes(image[:SECTOR]))
        disk.write_bytes(bytes(image))
        assert read_superblocks(disk.read_bytes()) == [(1, 0, HALF)]
        lines = client_lines(run(build_system(tmp_path, Script().get(b"x").put(b"y", b"1"),
                                              name + "2"), disk))
        # The last PUT acknowledged before the interrupted compaction.
        assert lines == [f"get x {OK} {HALF - 1}", f"put y {OK}"]


def test_no_disk_or_unusable_disk_gives_io_error(tmp_path):
    s = Script().put(b"a", b"1").get(b"a").ls().raw(0, 0, 0, 0)
    elf = build_system(tmp_path, s)
    want = [f"put a {IO_ERROR}", f"get a {IO_ERROR}", f"ls {IO_ERROR} 00", f"raw {BAD_REQUEST}"]
    for disk in (None, make_disk(tmp_path / "tiny.img", 2 + 2 * HALF_MIN - 1)):
        lines = run(elf, disk)
        assert "storage: no usable disk, answering IO_ERROR" in lines, disk
        assert client_lines(lines) == want
    # One sector more is enough.
    lines = run(elf, make_disk(tmp_path / "least.img", 2 + 2 * HALF_MIN))
    assert lines[0] == "storage: ready" and client_lines(lines)[0] == f"put a {OK}"


def test_read_only_disk_reads_but_refuses_writes(tmp_path):
    disk = make_disk(tmp_path / "d.img", 200)
    run(build_system(tmp_path, Script().put(b"a", b"1"), "a"), disk)
    s = Script().get(b"a").put(b"b", b"2").delete(b"a").get(b"a")
    lines = client_lines(run(build_system(tmp_path, s, "b"), disk, readonly=True))
    assert lines == [f"get a {OK} 1", f"put b {IO_ERROR}", f"del a {IO_ERROR}", f"get a {OK} 1"]
    # A blank read-only disk cannot even be formatted.
    blank = make_disk(tmp_path / "blank.img", 200)
    lines = run(build_system(tmp_path, Script().get(b"a"), "c"), blank, readonly=True)
    assert "storage: no usable disk, answering IO_ERROR" in lines


def _run_qemu(elf, disk) -> list[str]:
    """The same image under real QEMU (modern virtio-mmio, the disk as the
    first virtio-blk-device: slot 7, as on our board)."""
    proc = subprocess.run(
        ["qemu-system-riscv64", "-M", "virt", "-m", "128M", "-nographic", "-bios", str(elf),
         "-global", "virtio-mmio.force-legacy=false",
         "-drive", f"file={disk},format=raw,if=none,id=hd0",
         "-device", "virtio-blk-device,drive=hd0"],
        capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode(errors="replace").replace("\r\n", "\n").splitlines()


def test_disk_shared_with_real_qemu(tmp_path):
    disk = make_disk(tmp_path / "d.img", 200)
    run(build_system(tmp_path, Script().put(b"a", b"board").put(b"b", b"gone"), "a"), disk)
    lines = _run_qemu(build_system(tmp_path, Script().get(b"a").delete(b"b").put(b"q", b"qemu")
                                   .ls(), "q"), disk)
    assert "storage: ready" in lines
    assert client_lines([ln.strip() for ln in lines if ln.startswith(("put", "get", "del", "ls"))]) \
        == [f"get a {OK} board", f"del b {OK}", f"put q {OK}", f"ls {OK} 02 a q"]
    assert replay(disk.read_bytes()) == {b"a": b"board", b"q": b"qemu"}
    assert client_lines(run(build_system(tmp_path, Script().get(b"q").get(b"b"), "b"), disk)) \
        == [f"get q {OK} qemu", f"get b {NOT_FOUND}"]


def _memory(elf) -> dict[int, int]:
    """Every loadable byte of ``elf`` by physical address."""
    out: dict[int, int] = {}
    with open(elf, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
            for i, b in enumerate(data):
                out[seg["p_paddr"] + i] = b
    return out


def test_gnu_binutils_build_the_same_server(tmp_path):
    s = Script().put(b"a", b"1").get(b"a")
    ours = build_system(tmp_path, s, "ours")
    manifest = ours.parent / "storage.toml"
    gnu = build(manifest, tmp_path / "gnu.elf", kernel_only=True, backend="gnu")
    mine = build(manifest, tmp_path / "mine.elf", kernel_only=True)
    assert gnu.tasks == mine.tasks
    a, b = _memory(mine.elf), _memory(gnu.elf)
    diff = sorted(k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0))
    assert not diff, [hex(k) for k in diff[:10]]


def test_server_fault_between_write_and_flush_is_retried(tmp_path):
    # The server dies (a U-mode instruction fetch fault, injected by jumping
    # to address 0) right before the FLUSH of the second PUT: its record is
    # written but not acknowledged.  The supervisor restarts the server, the
    # client library retries on the dead code, and the PUT completes once.
    s = Script().put(b"a", b"1").put(b"b", b"2").get(b"b").ls()
    elf = build_system(tmp_path, s)
    disk = make_disk(tmp_path / "d.img", 200)
    flush = symbol(elf, "sync")
    m = Machine(ram_size=128 << 20, disk=str(disk))
    try:
        m.boot(bios=str(elf))
        for _ in range(3):  # format, PUT a, PUT b
            stop = m.run(max_insns=BUDGET, breakpoints=[flush])
            assert stop.kind == "breakpoint"
        assert b"put a 0" in m.uart_output and b"put b" not in m.uart_output
        m.pc = 0
        stop = m.run(max_insns=BUDGET)
        assert stop.kind == "poweroff" and stop.exit_code == 0
        out = m.uart_output.decode()
    finally:
        m.close()
    assert "kernel: task 0x1 stopped: cause=0xc tval=0x0 pc=0x0" in out
    assert "tsuper: restarted a stopped task" in out
    assert out.count("storage: ready") == 2
    lines = [ln for ln in out.splitlines() if ln.startswith(("put ", "get ", "ls "))]
    assert lines == [f"put a {OK}", f"put b {OK}", f"get b {OK} 2",
                     f"ls {OK} 02 a b"]
    records, _ = read_log(disk.read_bytes())
    assert [r[1] for r in records] == [b"a", b"b", b"b"]  # written, then written again
    assert replay(disk.read_bytes()) == {b"a": b"1", b"b": b"2"}
