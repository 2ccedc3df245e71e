"""Filter language: text -> syntax tree -> plan bound to a schema -> vectorized mask over Arrow.

    f = compile_filter('age > {min} and meta["city"] like "Par%"', schema, {"min": 18})
    f.columns            # frozenset({"age", "meta"})
    f.evaluate(table)    # numpy bool array, one per row

Semantics follow Milvus 2.6 filter expressions, null and JSON handling included.
"""

from elanus.expr.filter import Filter, compile_filter
from elanus.expr.nodes import Node, to_text
from elanus.expr.parser import parse

__all__ = ["Filter", "Node", "compile_filter", "parse", "to_text"]
