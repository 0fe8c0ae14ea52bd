"""Crash consistency under power cuts at arbitrary instructions, and random
operation sequences (with server restarts and compactions) against a Python
model of the store.  The cut points and sequences come from fixed seeds."""

from __future__ import annotations

import random
import shutil

from .storage_rig import (MAX_KEYS, NOT_FOUND, OK, Script, build_system, client_lines,
                          instret_at, make_disk, replay, run, run_for)

HALF = MAX_KEYS + 2
SMALL = 2 + 2 * HALF
ROUNDS = HALF + 12  # enough PUTs of one key to force a compaction mid-way


def test_power_cut_anywhere_keeps_every_acknowledged_put(tmp_path):
    s = Script().put(b"a", b"A")
    for i in range(ROUNDS):
        s.put(b"x", b"%d" % i)
    writer = build_system(tmp_path, s, "w")
    reader = build_system(tmp_path, Script().get(b"a").get(b"x"), "r")
    full = make_disk(tmp_path / "full.img", SMALL)
    lines, total, kind = run_for(writer, full, 400_000_000)
    assert kind == "poweroff" and lines.count(f"put x {OK}") == ROUNDS
    rng = random.Random(5)
    cuts = [rng.randrange(total // 20, total) for _ in range(8)]
    # And densely across the compaction: from its start, through the
    # superblock write, to the index update of the PUT that triggered it.
    start, end = instret_at(writer, make_disk(tmp_path / "probe.img", SMALL),
                            ["compact", "sb_write", "entry_set"])[::2]
    cuts += [start + (end - start) * k // 9 for k in range(10)]
    saw_compaction = False
    for n, cut in enumerate(cuts):
        disk = make_disk(tmp_path / f"cut{n}.img", SMALL)
        lines, _, kind = run_for(writer, disk, cut)
        assert kind == "budget"
        acks = [ln for ln in lines if ln.startswith("put ")]
        assert all(ln.endswith(f" {OK}") for ln in acks)
        n_x = sum(ln.startswith("put x ") for ln in acks)
        snapshot = disk.read_bytes()
        got = client_lines(run(reader, disk))
        # "a" was acknowledged (printed) -> it is there; else it may be in flight.
        if acks:
            assert got[0] == f"get a {OK} A", (cut, got)
        # x: the last printed value, or the one in flight after it.
        allowed = {f"get x {OK} {v}" for v in (n_x - 1, n_x) if v >= 0}
        if n_x == 0:
            allowed.add(f"get x {NOT_FOUND}")
        assert got[1] in allowed, (cut, n_x, got)
        saw_compaction |= n_x >= HALF
        # The Python decoder of the format agrees with the guest.
        state = replay(snapshot)
        if got[1].startswith(f"get x {OK}"):
            assert state[b"x"] == got[1].split(" ", 3)[3].encode()
        else:
            assert b"x" not in state
    assert saw_compaction


def _model_script(seed: int, ops: int) -> tuple[Script, list[str], dict[bytes, bytes]]:
    """A random script and the lines a correct store prints for it."""
    rng = random.Random(seed)
    keys = [b"k%d" % i for i in range(6)] + [b"long-key-" + b"z" * 20]
    s, want, state = Script(), [], {}
    for _ in range(ops):
        r = rng.random()
        key = rng.choice(keys)
        name = key.decode()
        if r < 0.5:
            value = bytes(rng.choice(b"abcdefghij0123456789") for _ in range(rng.randrange(0, 60)))
            s.put(key, value)
            state[key] = value
            want.append(f"put {name} {OK}")
        elif r < 0.75:
            s.get(key)
            want.append(f"get {name} {OK} {state[key].decode()}" if key in state
                        else f"get {name} {NOT_FOUND}")
        elif r < 0.92:
            s.delete(key)
            want.append(f"del {name} {OK if key in state else NOT_FOUND}")
            state.pop(key, None)
        else:
            s.crash()
            want.append("crash")
    return s, want, state


def _ls(lines: list[str]) -> tuple[str, set[str]]:
    words = lines[-1].split(" ")
    return " ".join(words[:3]), set(words[3:])


def test_random_operations_match_the_model(tmp_path):
    for seed in (1, 2):
        s, want, state = _model_script(seed, 110)
        disk = make_disk(tmp_path / f"d{seed}.img", SMALL)
        got = client_lines(run(build_system(tmp_path, s.ls(), f"s{seed}"), disk))
        assert got[:-1] == want
        keys = {k.decode() for k in state}
        assert _ls(got) == (f"ls {OK} {len(state):02d}", keys)
        assert replay(disk.read_bytes()) == state
        # A reboot on the same disk sees the same store.
        check = Script()
        for k in sorted(state):
            check.get(k)
        got = client_lines(run(build_system(tmp_path, check.ls(), f"c{seed}"), disk))
        assert got[:-1] == [f"get {k.decode()} {OK} {state[k].decode()}" for k in sorted(state)]
        assert _ls(got) == (f"ls {OK} {len(state):02d}", keys)
    shutil.rmtree(tmp_path, ignore_errors=True)
