"""`septum boot` itself: the build cache, --disk, --script -, errors, budget."""

from __future__ import annotations

import io
import re
import shutil
import sys
from pathlib import Path

from septum.hypervisor import boot_cli
from septum.hypervisor.cli import main

from .conftest import LOG_LINES, without_logs

USERLAND = Path(boot_cli.__file__).resolve().parent.parent / "userland"


def test_storage_survives_poweroff_on_the_same_disk(boot, tmp_path):
    disk = tmp_path / "disk.img"
    first = boot(["put city Lisbon", "put gone soon", "del gone", "poweroff"], "--disk", str(disk))
    assert first.rc == 0 and disk.stat().st_size == boot_cli.DISK_SIZE
    again = boot(["get city", "get gone", "ls", "poweroff"], "--disk", str(disk))
    assert again.after("get city") == "Lisbon\n"
    assert again.after("get gone") == "not found\n"
    assert again.after("ls") == "city\n(1 keys)\n"
    # Without --disk every boot starts from a fresh, empty disk.
    fresh = boot(["get city", "poweroff"])
    assert fresh.after("get city") == "not found\n"


def test_script_from_stdin(boot_cache, monkeypatch, capsysbinary):
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(boot_cache))
    stdin = io.TextIOWrapper(io.BytesIO(b"# a comment\n\nput a 1\nget a\npoweroff\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["boot", "--script", "-", "--max-insns", "100000000"]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert "septum> put a 1\nok\nseptum> get a\n1\nseptum> poweroff\n" in out
    assert "# a comment" not in out


def test_script_without_poweroff_ends_at_the_prompt(boot):
    r = boot(["put a 1"])
    assert r.rc == 0 and r.out.endswith("\nseptum> ")
    assert r.after("put a 1").endswith("ok\n")


def test_budget_exhausted(boot):
    r = boot(["attack flood", "poweroff"], budget=100_000)  # the flood alone needs more
    assert r.rc == boot_cli.EXIT_BUDGET
    assert "powering off" not in r.out
    assert r.err.strip().splitlines()[-1] == \
        "septum: instruction budget exhausted (100000 instructions)"


def test_bad_input_is_one_line(boot_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(boot_cache))
    # Bad input is refused before any build: nothing else is said.
    cases = [
        (["--manifest", str(tmp_path / "none.toml")], "none.toml"),
        (["--script", str(tmp_path / "none.txt")], "none.txt"),
        (["--disk", str(tmp_path)], str(tmp_path)),
        (["--max-insns", "0"], "--max-insns 0"),
    ]
    for options, named in cases:
        assert main(["boot", *options]) == 2, options
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and named in err and "building" not in err, err
    bad = tmp_path / "bad.toml"
    bad.write_text('[tasks.a]\nsource = "a.S"\npriority = 99\n')
    (tmp_path / "a.S").write_text("nop\n")
    assert main(["boot", "--manifest", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tasks.a.priority" in err


def test_build_cache_rebuilds_when_a_source_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("SEPTUM_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "userland"
    shutil.copytree(USERLAND, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    manifest = copy / boot_cli.DEFAULT_MANIFEST.name
    said: list[str] = []
    elf, built = boot_cli.cached_build(manifest, log=said.append)
    assert built and said == [f"septum: building {manifest} ..."] and elf.is_file()
    assert boot_cli.cached_build(manifest, log=said.append) == (elf, False)
    assert len(said) == 1  # warm: nothing said, nothing built
    shell = copy / "shell" / "shell.S"
    shell.write_text(shell.read_text() + "# changed\n")
    elf2, built = boot_cli.cached_build(manifest, log=said.append)
    assert built and elf2 != elf and len(said) == 2
    # An included file counts too (the storage protocol, included by the
    # shell's lib/store.S from a sibling folder).
    proto = copy / "storage" / "proto.inc"
    proto.write_text(proto.read_text() + "# changed\n")
    elf2b, built = boot_cli.cached_build(manifest, log=said.append)
    assert built and elf2b not in (elf, elf2) and len(said) == 3
    (copy / "README.md").write_text("not a source\n")
    assert boot_cli.cached_build(manifest, log=said.append) == (elf2b, False)
    # Without the fast path: another build, another cache entry.
    elf3, built = boot_cli.cached_build(manifest, fastpath=False, log=said.append)
    assert built and elf3 not in (elf, elf2, elf2b)


def test_no_fastpath_system_behaves_the_same(boot):
    script = ["put k v", "crash storage", "get k", "attack buffers", "ps", "poweroff"]
    fast, slow = boot(script), boot(script, "--no-fastpath")
    assert fast.rc == slow.rc == 0
    # Same transcript apart from virtual time spent (the slow path costs
    # more instructions): only ps's IPC counts may differ, by the
    # watchdog's pings, which go to tasks found runnable at a heartbeat,
    # and the log lines of the storage server's real fault may land at
    # another place in the shell's output (compared apart, sorted).
    def masked(out: str) -> str:
        out = without_logs(out)
        return re.sub(r"(?m)^( \d+ +\S+ +\d+ +\S+ +\d+ +\d+ +)\d+ +\d+", r"\1-", out)

    def logs(out: str) -> list[str]:
        return sorted(line for line in out.splitlines() if line.startswith(LOG_LINES))
    assert masked(fast.out) == masked(slow.out)
    assert logs(fast.out) == logs(slow.out)
    assert re.search(r"(?m)^ 2  storage .* - ", masked(fast.out))  # (the mask matched)


def test_piped_stdin_is_a_script(boot_cache):
    """Without --script, input that is not a terminal is typed as a script,
    and the end of it ends the run (waiting for keys would hang)."""
    import os
    import subprocess

    env = dict(os.environ, SEPTUM_CACHE_DIR=str(boot_cache))
    cmd = [sys.executable, "-m", "septum.hypervisor", "boot", "--max-insns", "100000000"]
    run = subprocess.run(cmd, input=b"uptime\npoweroff\n", capture_output=True, env=env,
                         timeout=300)
    out = run.stdout.decode()
    assert run.returncode == 0, run.stderr
    assert "septum> uptime\r\nup " in out or "septum> uptime\nup " in out
    assert "powering off" in out
    empty = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                           timeout=300)
    assert empty.returncode == 0 and empty.stdout.decode().endswith("septum> ")
