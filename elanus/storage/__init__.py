"""Durable storage: files and checksums, the object-store seam, the write-ahead log and its
record kinds, sealed segment files, the data-directory lock, and the catalog."""
