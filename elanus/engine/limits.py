"""Engine sizes with their defaults, importable without loading the engine (for the CLI)."""

DEFAULT_SEAL_ROWS = 1_000_000  # a growing segment seals at this many rows ...
# ... or at this many bytes, whichever comes first: Milvus's dataCoord.segment.maxSize (1 GB).
# Every search visits every segment, so fewer, larger segments answer sooner.
DEFAULT_SEAL_BYTES = 1024 << 20
