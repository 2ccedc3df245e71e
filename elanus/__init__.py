"""elanus: a vector database that speaks Milvus's protocol.

`elanus.MilvusClient("./demo.db")` runs the engine inside your process; `elanus serve` serves
Milvus's gRPC API for any Milvus SDK.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["MilvusClient", "__version__"]


def __getattr__(name: str) -> Any:
    # The client pulls in grpc, faiss and pymilvus; import it only when it is asked for.
    if name == "MilvusClient":
        from elanus.client.embedded import MilvusClient

        return MilvusClient
    raise AttributeError(f"module 'elanus' has no attribute {name!r}")
