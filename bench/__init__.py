"""Benchmarks: each hot path's Python reference vs rust_core vs the best peer library."""
