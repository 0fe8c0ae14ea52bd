"""The board's device tree against the one real QEMU generates for ``virt``
(``qemu-system-riscv64 -M virt -machine dumpdtb=...``), and booted by real
OpenSBI + U-Boot under real QEMU (``-dtb``) to prove they find their devices."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import fdt
import pytest

from septum.hypervisor.dtb import build_dtb

QEMU = "qemu-system-riscv64"
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"

#: Nodes QEMU has and the board leaves out because it does not emulate them
#: (documented in hypervisor/dtb.py).
LEFT_OUT = {"/pmu", "/fw-cfg@10100000", "/flash@20000000", "/soc/pci@30000000"}
#: Nodes the board adds: its own devices on QEMU's platform bus.
ADDED = {"/platform-bus@4000000/hostlink@0"}
#: Properties that differ on purpose: (node, property) -> our value.
DIFFERENT = {
    ("/cpus/cpu@0", "riscv,isa"): ("strings", ("rv64imafdc_zicsr_zifencei",)),
    ("/cpus/cpu@0", "mmu-type"): ("strings", ("riscv,sv39",)),
    ("/soc/plic@c000000", "riscv,ndev"): ("words", (95,)),
    ("/chosen", "rng-seed"): None,  # random in QEMU: absent here
}


def qemu_dtb(tmp_path: Path, *args: str) -> bytes:
    out = tmp_path / "qemu.dtb"
    subprocess.run([QEMU, "-M", "virt", *args, "-display", "none",
                    "-machine", f"dumpdtb={out}"], check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def props(tree: fdt.FDT) -> dict[str, dict[str, tuple[str, tuple[object, ...]]]]:
    """node path -> property name -> (kind, values)."""
    out: dict[str, dict[str, tuple[str, tuple[object, ...]]]] = {}

    def walk(node: fdt.Node, path: str) -> None:
        entry = out.setdefault(path or "/", {})
        for p in node.props:
            if isinstance(p, fdt.PropWords):
                entry[p.name] = ("words", tuple(p.data))
            elif isinstance(p, fdt.PropStrings):
                entry[p.name] = ("strings", tuple(p.data))
            elif isinstance(p, fdt.PropBytes):
                entry[p.name] = ("bytes", tuple(p.data))
            else:
                entry[p.name] = ("flag", ())
        for sub in node.nodes:
            walk(sub, f"{path}/{sub.name}")

    walk(tree.root, "")
    return out


@pytest.fixture(scope="module")
def qemu_128m(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return props(fdt.parse_dtb(qemu_dtb(tmp_path_factory.mktemp("dtb"), "-m", "128M")))


def test_same_nodes_as_qemu_minus_the_devices_we_lack(qemu_128m: dict) -> None:
    ours = props(fdt.parse_dtb(build_dtb(128 << 20)))
    qemu_nodes = set(qemu_128m)
    kept = {n for n in qemu_nodes if not any(n == x or n.startswith(x + "/") for x in LEFT_OUT)}
    assert LEFT_OUT <= qemu_nodes  # what we leave out really is in QEMU's tree
    assert set(ours) == kept | ADDED


def test_same_properties_as_qemu(qemu_128m: dict) -> None:
    ours = props(fdt.parse_dtb(build_dtb(128 << 20)))
    for node, theirs in qemu_128m.items():
        if node not in ours:
            continue
        for name, value in theirs.items():
            key = (node, name)
            if key in DIFFERENT:
                expected = DIFFERENT[key]
                if expected is None:
                    assert name not in ours[node], key
                else:
                    assert ours[node][name] == expected, key
                continue
            assert ours[node].get(name) == value, key
        assert set(ours[node]) <= set(theirs) | {n for (p, n) in DIFFERENT if p == node}, node


def test_memory_node_follows_ram_size(tmp_path: Path) -> None:
    theirs = props(fdt.parse_dtb(qemu_dtb(tmp_path, "-m", "3G")))
    ours = props(fdt.parse_dtb(build_dtb(3 << 30)))
    assert ours["/memory@80000000"]["reg"] == theirs["/memory@80000000"]["reg"]
    assert ours["/memory@80000000"]["reg"] == ("words", (0, 0x8000_0000, 0, 0xC000_0000))


def test_bootargs_and_initrd_in_chosen() -> None:
    tree = props(fdt.parse_dtb(build_dtb(64 << 20, bootargs="console=ttyS0 quiet",
                                         initrd=(0x8400_0000, 0x8410_0000))))
    chosen = tree["/chosen"]
    assert chosen["bootargs"] == ("strings", ("console=ttyS0 quiet",))
    assert chosen["linux,initrd-start"] == ("words", (0, 0x8400_0000))
    assert chosen["linux,initrd-end"] == ("words", (0, 0x8410_0000))
    assert "bootargs" not in props(fdt.parse_dtb(build_dtb(64 << 20)))["/chosen"]


def test_header_and_determinism() -> None:
    blob = build_dtb(128 << 20)
    assert blob[:4] == bytes.fromhex("d00dfeed")
    assert int.from_bytes(blob[4:8], "big") == len(blob)  # totalsize
    assert int.from_bytes(blob[20:24], "big") == 17  # version
    assert blob == build_dtb(128 << 20, virtio_disks={7})


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_ram_size(bad: int) -> None:
    with pytest.raises(ValueError):
        build_dtb(bad)


def _expect(proc: subprocess.Popen, buf: bytearray, pattern: bytes, limit: float = 90.0) -> None:
    """Read the guest console until ``pattern`` shows up (``limit`` is a
    safety net against a hung QEMU, not a timing assertion)."""
    deadline = time.monotonic() + limit
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    while pattern not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {pattern!r}; console:\n{buf.decode(errors='replace')[-2000:]}"
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    assert pattern in buf, buf.decode(errors="replace")[-2000:]


@pytest.mark.slow
def test_opensbi_and_uboot_boot_on_our_tree_under_qemu(tmp_path: Path) -> None:
    dtb = tmp_path / "septum.dtb"
    dtb.write_bytes(build_dtb(128 << 20))
    proc = subprocess.Popen(
        [QEMU, "-M", "virt", "-m", "128M", "-nographic", "-dtb", str(dtb),
         "-bios", FW_JUMP, "-kernel", UBOOT],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = bytearray()
    try:
        assert proc.stdin is not None
        _expect(proc, buf, b"Platform Console Device   : uart8250")
        _expect(proc, buf, b"Hit any key to stop autoboot")
        proc.stdin.write(b"\r")
        proc.stdin.flush()
        _expect(proc, buf, b"=> ")
        proc.stdin.write(b"version\r")
        proc.stdin.flush()
        _expect(proc, buf, b"U-Boot 20")
        proc.stdin.write(b"poweroff\r")
        proc.stdin.flush()
        # poweroff goes through the syscon-poweroff node to the test finisher.
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = buf.decode(errors="replace")
    assert "Model: riscv-virtio,qemu" in text
    assert "serial@10000000" in text
    assert "DRAM:  128 MiB" in text
