"""The plugin's fixtures: ``machine`` + ``console`` on a bare-metal image,
``system`` restored per test, ``system_for`` on a user's manifest, and the
console transcript in a failing test's report (through ``pytester``)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.testing.console import TICKS_PER_MS, ExpectTimeout

from .conftest import DATA, build_bare

USERLAND_LIB = DEFAULT_MANIFEST.parent / "lib"


@pytest.fixture(scope="module")
def echo_elf(tmp_path_factory) -> Path:
    return build_bare(DATA / "echo.S", tmp_path_factory.mktemp("echo"))


def test_bare_metal_image_with_machine_and_console(machine, console, echo_elf):
    m = machine(echo_elf)
    assert console.m is m  # the console of the last machine made
    console.expect(rb"type a line: ", timeout=10)
    console.sendline("Hello, board")
    # The program echoes in upper case what the UART received.
    assert console.expect(rb"HELLO, BOARD\s+bye", timeout=10)
    r = m.run(max_insns=1_000_000)
    assert (r.kind, r.exit_code) == ("poweroff", 0)  # finisher 0x5555: pass
    assert console.transcript == "hello, type a line: \u00abHello, board\n\u00bbHELLO, BOARD\nbye\n"


def test_expect_timeout_is_virtual_time(machine, console, echo_elf):
    m = machine(echo_elf)
    console.expect(rb"line: ", timeout=10)
    start = m.clock()
    with pytest.raises(ExpectTimeout, match="within 5 virtual ms"):
        console.expect(rb"never printed", timeout=5)
    # The guest spins polling the UART: time ran out in virtual time, at a
    # slice boundary at most one slice past the deadline.
    elapsed = m.clock() - start
    assert 5 * TICKS_PER_MS <= elapsed <= 5 * TICKS_PER_MS + m.slice_insns // 10


def test_text_patterns_give_text_matches(system, console):
    console.sendline("uptime")
    m = console.expect(r"uptime\r?\n(.+?)\r?\n", timeout=100)
    assert isinstance(m.group(1), str) and m.group(1)


def test_system_restores_to_the_same_state(system, console):
    boot_out, boot_clock = bytes(system.machine.uart_output), system.machine.clock()
    console.sendline("put a 1")
    console.expect(rb"ok", timeout=500)
    assert system.machine.clock() > boot_clock
    system.restore()
    assert bytes(system.machine.uart_output) == boot_out
    assert system.machine.clock() == boot_clock
    assert system.machine.read_phys(system.machine.symbols["tcbs"], 512) == \
        system.snapshot.ram[system.machine.symbols["tcbs"] - 0x8000_0000:][:512]


def test_restore_time_is_printed(system, capsys):
    times, states = [], set()
    for _ in range(5):
        t = time.perf_counter()
        system.restore()
        times.append(time.perf_counter() - t)
        states.add((system.machine.clock(), system.machine.instret,
                    bytes(system.machine.uart_output)))
    with capsys.disabled():
        print(f"\nseptum.testing: system restore (RAM {system.machine.ram_size >> 20} MiB): "
              f"median {statistics.median(times) * 1e3:.1f} ms, min {min(times) * 1e3:.1f} ms "
              f"over {len(times)} restores")
    # Printed, never asserted (timings are for benchmarks); what is checked
    # is that each restore put the machine back at the boot snapshot.
    assert len(states) == 1


HELLO = """\
    .include "abi.inc"
    .equ HI_LEN, 19             # len("hello from my task\\n")
    .section .rodata
hi: .ascii "hello from my task\\n"
    .text
    .globl _start
_start:
    la      a0, hi
    li      a1, HI_LEN
    call    sys_log             # printed through the kernel's console
1:  call    sys_yield
    j       1b
"""


def test_system_for_a_users_own_manifest(system_for, tmp_path, monkeypatch):
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(tmp_path / "cache"))  # not the user's cache
    (tmp_path / "hello.S").write_text(HELLO)
    manifest = tmp_path / "system.toml"
    manifest.write_text(f'[tasks.hello]\nsource = ["hello.S", "{USERLAND_LIB / "sys.S"}"]\n'
                        "priority = 0\nsupervisor = true\n")
    s = system_for(manifest, ready=b"hello from my task\n")
    assert s.inject.names == ["hello"]
    inj = s.inject.kill_task("hello")
    s.console.expect(rb"kernel: task 0x0 stopped: cause=0xc tval=0x0", timeout=10)
    assert inj.old != 0


INNER = """
def test_passes(system, console):
    console.sendline("help")
    console.expect(rb"poweroff", timeout=100)

def test_fails(system, console):
    console.sendline("help")
    console.expect(rb"no such text", timeout=20)
"""


def test_transcript_is_attached_to_failures(pytester):
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    # The section appears once: for the failing test only.
    assert text.count("septum console") == 1
    result.stdout.fnmatch_lines(["*expected b'no such text' within 20 virtual ms*",
                                 "*septum console*", "septum> \u00abhelp*"])


def test_expect_after_poweroff_says_so(machine, console, echo_elf):
    machine(echo_elf)
    console.sendline("x")  # typed ahead: the program reads it once it asks
    console.expect(rb"bye\n", timeout=10)
    with pytest.raises(ExpectTimeout, match=r"stopped: poweroff \(exit code 0\)"):
        console.expect(rb"more", timeout=10)
