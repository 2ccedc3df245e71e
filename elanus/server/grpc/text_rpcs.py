"""RPCs on text: RunAnalyzer (the tokens an analyzer makes of texts)."""

from __future__ import annotations

from typing import Any

from pymilvus.grpc_gen import milvus_pb2

from elanus.engine.engine import Engine
from elanus.errors import InvalidArgument
from elanus.schema.analyzers import term_hash
from elanus.server.grpc.handlers import db_name, handler
from elanus.server.grpc.status import OK


@handler("RunAnalyzer")
def run_analyzer(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.RunAnalyzerResponse:
    try:
        texts = [raw.decode() for raw in req.placeholder]
    except UnicodeDecodeError:
        raise InvalidArgument("the texts to analyze must be UTF-8") from None
    tokens = engine.run_analyzer(texts, req.analyzer_params, db_name(req, ctx),
                                 req.collection_name, req.field_name, list(req.analyzer_names))
    out = milvus_pb2.RunAnalyzerResponse(status=OK)
    for found in tokens:
        result = out.results.add()
        for t in found:
            pb = result.tokens.add(token=t.text)
            if req.with_detail:
                pb.start_offset, pb.end_offset = t.start, t.end
                pb.position, pb.position_length = t.position, t.position_length
            if req.with_hash:
                pb.hash = term_hash(t.text)
    return out
