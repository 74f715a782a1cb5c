"""The release version; ``rust_core/Cargo.toml`` carries the same number (a test checks)."""

__version__ = "0.1.0"
