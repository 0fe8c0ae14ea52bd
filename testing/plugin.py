"""The pytest plugin's entry point (``pytest11``: ``septum``).

Fixtures (their logic lives in this module's siblings, usable without
pytest):

``machine``      factory: ``machine(image=None, bios="none", kernel=None,
                 ram=128 MiB, disk=None, entry=None)`` -> a fresh, booted
                 :class:`Machine` (``image``: an ELF loaded as the firmware,
                 like QEMU's ``-bios``); every machine is closed after the test.
``system``       the default system (userland/system.toml), booted once per
                 session to the shell prompt, restored from its snapshot
                 before each test (:class:`~septum.testing.system.BootedSystem`).
``system_for``   factory: ``system_for(manifest, ready=PROMPT, elf=None)`` ->
                 the same for another manifest (one boot per manifest per
                 session).
``console``      :class:`~septum.testing.console.Console` of the last system
                 or machine the test made (``expect``/``send``/``sendline``),
                 looked up at each use; every console's transcript is added
                 to a failing test's report (``pytest_runtest_makereport``).
``inject``       the :class:`~septum.testing.inject.Injector` of ``system``.
``ipc``          :class:`~septum.testing.ipc.Ipc` of ``system``: call a server
                 from the host through the host-link device and the proxy
                 task, the default system's last task (see testing/ipc.py).
``proxy_manifest`` session: the path of a manifest with the proxy (the
                 default system's).

The tutorial is docs/testing.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST, PROMPT
from septum.hypervisor.machine import Machine

from .console import Console
from .system import BootedSystem

_CONSOLES = pytest.StashKey[list]()


def _consoles(request: pytest.FixtureRequest) -> list:
    return request.node.stash.setdefault(_CONSOLES, [])


@pytest.fixture(scope="session")
def _septum_systems() -> Iterator[dict]:
    """Every booted system of the session, by (manifest, ready)."""
    systems: dict[tuple[str, bytes | None], BootedSystem] = {}
    yield systems
    for s in systems.values():
        s.close()


@pytest.fixture
def system_for(_septum_systems: dict, request: pytest.FixtureRequest) -> Callable[..., BootedSystem]:
    """``system_for(manifest, ready=b"septum> ", elf=None)``: that system
    booted once per session (built through ``septum boot``'s cache unless
    ``elf`` is its prebuilt image), restored from its snapshot for this test."""

    def get(manifest: str | Path = DEFAULT_MANIFEST, ready: bytes | None = PROMPT,
            elf: str | Path | None = None) -> BootedSystem:
        key = (str(Path(manifest).resolve()), ready)
        s = _septum_systems.get(key)
        if s is None:
            s = _septum_systems[key] = BootedSystem(manifest, ready=ready, elf=elf)
        else:
            s.restore()
        _consoles(request).append(lambda: s.console)
        return s

    return get


@pytest.fixture
def system(system_for: Callable[..., BootedSystem]) -> BootedSystem:
    """The default Septum system at its shell prompt, fresh from the snapshot."""
    return system_for()


@pytest.fixture
def machine(request: pytest.FixtureRequest) -> Iterator[Callable[..., Machine]]:
    """Factory of fresh boards: ``machine(image=None, bios="none",
    kernel=None, ram=128 MiB, disk=None, entry=None, **Machine options)``.
    ``image`` is an ELF loaded as the firmware (``bios=image``)."""
    made: list[Machine] = []

    def make(image: str | Path | None = None, *, bios: str | None = "none",
             kernel: str | Path | None = None, ram: int = 128 << 20, disk: str | None = None,
             entry: int | None = None, **options: object) -> Machine:
        m = Machine(ram_size=ram, disk=disk, **options)  # type: ignore[arg-type]
        made.append(m)
        if image is not None:
            bios = str(image)
        m.boot(bios=bios, kernel=kernel, entry=entry)
        con = Console(m)
        _consoles(request).append(lambda: con)
        return m

    yield make
    for m in made:
        m.close()


class LiveConsole:
    """The ``console`` fixture: stands for the :class:`Console` of the
    system or machine the test made last, looked up at each use (so a test
    may request ``console`` before it makes its machine)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def current(self) -> Console:
        """The console every attribute is taken from right now."""
        getters = _consoles(self._request)
        if not getters:
            self._request.getfixturevalue("system")
        return getters[-1]()

    def __getattr__(self, name: str) -> object:
        return getattr(self.current(), name)


@pytest.fixture
def console(request: pytest.FixtureRequest) -> LiveConsole:
    """``expect``/``send``/``sendline``/``transcript`` on the console of the
    system or machine this test made last (with neither: the default
    ``system``, booted on first use)."""
    return LiveConsole(request)


@pytest.fixture
def inject(system: BootedSystem):
    """The fault injector of the default ``system`` (seed 0)."""
    return system.inject


@pytest.fixture(scope="session")
def proxy_manifest() -> Path:
    """A manifest whose system has the IPC proxy task: the default one
    (userland/system.toml: the proxy is its last task, and may call the
    console and storage)."""
    return DEFAULT_MANIFEST


@pytest.fixture
def ipc(system: BootedSystem):
    """Host -> server calls through the host link and the proxy task
    (testing/ipc.py), on the default ``system``."""
    from .ipc import Ipc

    return Ipc(system)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach every console's transcript to a failing test's report."""
    report = yield
    if report.failed:
        for n, get in enumerate(item.stash.get(_CONSOLES, [])):
            try:
                text = get().transcript
            except Exception as exc:  # the report must not fail on it
                text = f"<no transcript: {exc}>"
            report.sections.append((f"septum console {n}" if n else "septum console", text))
    return report
