"""Parity properties, one module per core; each registers under its hot paths' seed names."""
