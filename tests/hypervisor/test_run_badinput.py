"""``septum run`` with bad input: one clear line naming the file or value on
stderr, exit status 2, never a Python traceback (issue 3, common rules).

Runs the real command line in a subprocess; the images are made at test time
(Septum's assembler for valid RISC-V ELFs placed where they should not be, a
truncated copy of one, and the host's own x86-64 ``/bin/true``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from septum.toolchain import Source, assemble

from . import peer

#: Eight bytes of uncompressed code (so that placing it at RAM end - 4
#: straddles the end).
LOOP = Source("loop.S", ".option norvc\n.globl _start\n_start:\n    j _start\n    nop\n")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("badinput")
    made: dict[str, Path] = {}
    for name, base in (("good", 0x8000_0000), ("low", 0x4000_0000),
                       ("straddle", 0x87FF_FFFC), ("high", 0x8400_0000)):
        made[name] = d / f"{name}.elf"
        made[name].write_bytes(assemble([LOOP], base=base).to_elf())
    elf = made["good"].read_bytes()
    made["truncated-header"] = d / "truncated-header.elf"
    made["truncated-header"].write_bytes(elf[:40])
    made["truncated-segment"] = d / "truncated-segment.elf"
    # Keep the headers, cut the loaded bytes off: the segment's file range
    # runs past the end of the file.
    made["truncated-segment"].write_bytes(elf[:0x40 + 0x38])
    true = shutil.which("true")
    assert true is not None
    made["x86"] = Path(true)
    made["missing"] = d / "missing.elf"
    made["dir"] = d
    return made


#: (case id, argv with {name} placeholders for images, text the line names)
CASES = [
    ("missing-file", ["{missing}"], "missing.elf"),
    ("directory", ["{dir}"], "badinput"),
    ("truncated-elf-header", ["{truncated-header}"], "truncated-header.elf"),
    ("truncated-elf-segment", ["{truncated-segment}"], "truncated-segment.elf"),
    ("non-riscv-elf", ["{x86}"], "true"),
    ("segment-below-ram", ["{low}"], "low.elf"),
    ("segment-past-ram-end", ["{straddle}"], "straddle.elf"),
    ("segment-outside-smaller-ram", ["-m", "64M", "{high}"], "high.elf"),
    ("missing-kernel", ["-bios", "none", "-kernel", "{missing}"], "missing.elf"),
    ("missing-bios", ["-bios", "{missing}", "-kernel", "{good}"], "missing.elf"),
    ("bad-m-word", ["-m", "lots", "{good}"], "lots"),
    ("bad-m-zero", ["-m", "0", "{good}"], "'0'"),
    ("bad-m-tiny", ["-m", "1M", "{good}"], "1M"),
    ("bad-m-unit", ["-m", "128Q", "{good}"], "128Q"),
    ("bad-m-negative", ["-m", "-5", "{good}"], "-5"),
    ("missing-disk", ["-drive", "file={missing}", "{good}"], "missing.elf"),
    ("bad-drive-syntax", ["-drive", "bogus", "{good}"], "bogus"),
]


@pytest.mark.parametrize("argv, named", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2(images: dict[str, Path], argv: list[str], named: str) -> None:
    args = [a.format(**{k: str(v) for k, v in images.items()}) for a in argv]
    run = peer.septum_cli("run", *args, timeout=60)
    err = run.stderr.decode(errors="replace")
    assert run.returncode == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("septum: ")
    assert named in lines[0]
    assert run.stdout == b""


def test_good_image_is_not_bad_input(images: dict[str, Path]) -> None:
    """The control: the same loop at 0x8000_0000 runs (until its budget)."""
    run = peer.septum_cli("run", str(images["good"]), "--max-insns", "1000", timeout=60)
    assert run.returncode == 124
    assert b"Traceback" not in run.stderr
