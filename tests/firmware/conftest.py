"""Fixtures for the firmware tests: GNU-built firmware and payload images,
built once per test session (per xdist worker) into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum.tests.firmware import helpers


@pytest.fixture(scope="session")
def fw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("firmware")


@pytest.fixture(scope="session")
def gnu_firmware(fw_dir: Path) -> Path:
    """The firmware ELF (default build) from GNU binutils."""
    return helpers.build_firmware(fw_dir)


@pytest.fixture(scope="session")
def gnu_firmware_selftest(fw_dir: Path) -> Path:
    """The firmware ELF with the self-test extension."""
    return helpers.build_firmware(fw_dir, selftest=True)


@pytest.fixture(scope="session")
def payload(fw_dir: Path) -> Path:
    """The payload that ends with a plain shutdown."""
    return helpers.build_payload(fw_dir)


@pytest.fixture(scope="session")
def qemu_run(gnu_firmware: Path, payload: Path) -> helpers.Run:
    """One QEMU run of the default firmware and payload, shared by the tests
    that only read its output."""
    return helpers.run_qemu(gnu_firmware, payload)
