"""The gRPC server: MilvusService plus the standard health service on one port."""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from pymilvus.grpc_gen import milvus_pb2_grpc

from elanus.engine.engine import Engine
from elanus.server.grpc.service import MilvusServicer

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 512 << 20  # inserts of 64 MB and their replies fit with room to spare
WORKERS = 16


class GrpcServer:
    def __init__(self, engine: Engine, host: str = "127.0.0.1", port: int = 19530) -> None:
        self.engine = engine
        options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
            # Clients (pymilvus) ping idle connections; accept that, as Milvus does, instead of
            # answering GOAWAY "too_many_pings" and dropping them.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
            ("grpc.http2.max_ping_strikes", 0),
        ]
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS),
                                   options=options)
        milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(engine), self._server)
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:  # grpc reports a taken port this way
            raise OSError(f"cannot listen on {address}: {exc}") from None
        if not self.port:
            raise OSError(f"cannot listen on {address}")
        self.address = address

    def start(self) -> None:
        self._server.start()
        self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._health.set("milvus.proto.milvus.MilvusService",
                         health_pb2.HealthCheckResponse.SERVING)
        log.info("elanus serving Milvus gRPC on %s", self.address)

    def stop(self, grace: float = 5.0) -> None:
        self._health.enter_graceful_shutdown()
        self._server.stop(grace).wait(grace + 1)

    def wait(self) -> None:
        self._server.wait_for_termination()
