"""Embedded MilvusClient: pymilvus's surface with the engine in-process."""
