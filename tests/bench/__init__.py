"""Benchmarks: each prints a small table; none asserts a timing."""
