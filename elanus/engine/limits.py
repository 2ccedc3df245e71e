"""Engine sizes with their defaults, importable without loading the engine (for the CLI)."""

DEFAULT_SEAL_ROWS = 1_000_000  # a growing segment seals at this many rows ...
DEFAULT_SEAL_BYTES = 512 << 20  # ... or at this many bytes, whichever comes first
