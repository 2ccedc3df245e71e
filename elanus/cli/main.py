"""The `elanus` command line (also `python -m elanus`)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

import elanus
from elanus.engine.limits import DEFAULT_SEAL_BYTES, DEFAULT_SEAL_ROWS

log = logging.getLogger("elanus")


# grpc's EventEngine listener (its default) moves every call across three more threads than
# the iomgr listener does: ~11 context switches per unary call on the server here, ~6 without,
# and 15% less server CPU per call (a no-op call 530 -> 470 us; search from one client +12%).
# Read once, when grpc starts, so it is set before anything imports grpc; a value the user set
# wins.
GRPC_EXPERIMENTS = "-event_engine_listener"


def _serve(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from elanus.engine.engine import Engine
    from elanus.errors import ElanusError

    os.environ.setdefault("GRPC_EXPERIMENTS", GRPC_EXPERIMENTS)
    # The engine opens (checksums, index maps: mostly outside the GIL) while grpc and pymilvus's
    # stubs import, ~0.35 s, which would otherwise come before the first answer after a restart.
    with ThreadPoolExecutor(1, thread_name_prefix="elanus-open") as opener:
        opening = opener.submit(Engine, args.data, seal_rows=args.segment_max_rows,
                                seal_bytes=args.segment_max_mb << 20)
        from elanus.server.grpc.server import GrpcServer
    try:
        engine = opening.result()
    except ElanusError as exc:
        log.error("%s", exc)
        return 2
    try:
        server = GrpcServer(engine, args.host, args.port)
    except OSError as exc:
        log.error("%s", exc)
        engine.close()
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(f"elanus {elanus.__version__} serving on {args.host}:{server.port}, data in {args.data}",
          file=sys.stderr, flush=True)
    while not stop.wait(1.0):
        pass
    server.stop()
    engine.close()
    log.info("stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elanus", description="A vector database that speaks Milvus's protocol.")
    parser.add_argument("--version", action="version", version=f"elanus {elanus.__version__}")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Milvus gRPC API over a data directory",
                           description="Serve Milvus's gRPC API (MilvusService and gRPC health) "
                                       "over the data directory.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=19530, help="gRPC port (default 19530)")
    serve.add_argument("--data", default="./data", help="data directory (default ./data)")
    serve.add_argument("--segment-max-rows", type=int, default=DEFAULT_SEAL_ROWS,
                       help=f"seal a growing segment at this many rows "
                            f"(default {DEFAULT_SEAL_ROWS})")
    serve.add_argument("--segment-max-mb", type=int, default=DEFAULT_SEAL_BYTES >> 20,
                       help=f"... or at this many megabytes (default {DEFAULT_SEAL_BYTES >> 20})")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
