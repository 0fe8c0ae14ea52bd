"""Benchmarks: each prints a small table; none asserts a timing."""

# Imported before any benchmark imports unicorn: it chooses which Unicorn
# library the binding loads (Septum's build when there is one).
import septum.hypervisor  # noqa: F401
