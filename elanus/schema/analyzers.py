"""Text analyzers as Milvus configures them (`analyzer_params`), on tantivy's and jieba's.

An analyzer turns a text into tokens: a tokenizer cuts it, then filters drop or rewrite tokens
in order. Milvus builds its analyzers from tantivy's parts, and so does elanus, through tantivy's
Python binding; Chinese text is cut by jieba (rjieba binds jieba-rs, the library Milvus uses).

- Built-in: `{"type": "standard"}` (the standard tokenizer, then lowercase), `{"type":
  "english"}` (standard, lowercase, the English stemmer, then the `_english_` stop words) and
  `{"type": "chinese"}` (jieba in search mode, then `cnalphanumonly`); `stop_words` adds a stop
  filter to any of them. Empty params mean `standard`.
- Custom: `{"tokenizer": name or {"type": name, ...}, "filter": [name or {"type": ...}, ...]}`.
  Tokenizers: `standard` (runs of Unicode letters and digits, tantivy's simple tokenizer, which
  Milvus's standard tokenizer is), `whitespace`, `jieba` (`dict`, `mode` search or exact,
  `hmm`). Filters: `lowercase`, `asciifolding`, `alphanumonly`, `cnalphanumonly`, `cncharonly`,
  `removepunct`, and `{"type": ...}` forms `stop` (`stop_words`, with `_english_`-style language
  lists), `stemmer` (`language`), `length` (`max` bytes), `decompounder` (`word_list`), `regex`
  (`expr`: keep tokens it matches).

Tokens carry Milvus's positions (the tokenizer's sequence number; a dropped stop word leaves a
gap; jieba's are character indices) and UTF-8 byte offsets. Analyzers are built once per
distinct params and are safe to share between threads.

`check_text_params` holds Milvus's create-time rules for a field's `enable_match` (an enabled,
single, valid analyzer); `match_enabled` reads the flag as Milvus reads it.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import regex
import tantivy

from elanus.errors import InvalidArgument, UnexpectedError, Unsupported
from elanus.schema.types import DataType

if TYPE_CHECKING:
    from elanus.schema.collection import FieldSchema

_tv: Any = tantivy  # the binding ships stubs that lag its API
STEMMER_LANGUAGES = frozenset({
    "arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek", "hungarian",
    "italian", "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish", "tamil",
    "turkish"})
STOP_LANGUAGES = frozenset({
    "danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
    "norwegian", "portuguese", "russian", "spanish", "swedish"})
_CN_ALNUM = regex.compile(r"[\p{Han}a-zA-Z0-9]+")
_CN_CHAR = regex.compile(r"\p{Han}+")
_PUNCT = regex.compile(r"^\p{P}+$")
Predicate = Callable[[str], bool]


@dataclass(frozen=True)
class Token:
    text: str
    position: int
    start: int  # UTF-8 byte offsets into the analyzed text
    end: int
    position_length: int = 1


class Analyzer:
    """A tokenizer and its filters, built from validated params."""

    def __init__(self, tokenizer: Any, steps: Sequence[Any], jieba: Any = None,
                 jieba_mode: str = "search", hmm: bool = True,
                 sequential: bool = False) -> None:
        self._jieba, self._mode, self._hmm = jieba, jieba_mode, hmm
        # True when no step drops or splits tokens, so token i is at position i.
        self.sequential_positions = sequential
        # Consecutive tantivy filters run inside tantivy; a Python predicate between them
        # splits the chain. `steps` holds tantivy Filters and predicates in Milvus's order.
        self._chain: list[Any] = []
        pending: list[Any] = []
        for step in steps:
            if callable(step):
                if pending:
                    self._chain.append(_built(_tv.Tokenizer.raw(), pending))
                    pending = []
                self._chain.append(step)
            else:
                pending.append(step)
        head = tokenizer if jieba is None else None
        if head is not None and not self._chain:
            self._whole = _built(head, pending)  # one tantivy analyzer does everything
            return
        self._whole = None
        self._head: Any = _built(head, []) if head is not None else None
        if pending:
            self._chain.append(_built(_tv.Tokenizer.raw(), pending))

    def terms(self, text: str) -> list[str]:
        """The tokens' texts, in order (what BM25 and text_match need)."""
        if self._whole is not None:
            return [t for t in self._whole.analyze(text) if t]
        return [t.text for t in self.tokens(text)]

    def term_positions(self, text: str) -> tuple[list[str], list[int]]:
        """The tokens' texts and positions, in order, without byte offsets (what the text_match
        index needs)."""
        if self._whole is not None:
            raw = [t for t in self._whole.pre_tokenize(text).tokens if t.text]
            return [t.text for t in raw], [t.position for t in raw]
        tokens = self.tokens(text)
        return [t.text for t in tokens], [t.position for t in tokens]

    def tokens(self, text: str) -> list[Token]:
        if self._whole is not None:
            raw = [(t.text, t.position, t.char_offset_from, t.char_offset_to, 1)
                   for t in self._whole.pre_tokenize(text).tokens if t.text]
        else:
            raw = self._cut(text)
            for step in self._chain:
                raw = _apply(step, raw)
        return _with_byte_offsets(text, raw)

    def _cut(self, text: str) -> list[tuple[str, int, int, int, int]]:
        if self._jieba is not None:
            return [(w, s, s, e, e - s)
                    for w, s, e in self._jieba.tokenize(text, self._mode, self._hmm)]
        return [(t.text, t.position, t.char_offset_from, t.char_offset_to, 1)
                for t in self._head.pre_tokenize(text).tokens if t.text]


def _built(tokenizer: Any, filters: Sequence[Any]) -> Any:
    builder = _tv.TextAnalyzerBuilder(tokenizer)
    for f in filters:
        builder = builder.filter(f)
    return builder.build()


def _apply(step: Any, tokens: list[tuple[str, int, int, int, int]]
           ) -> list[tuple[str, int, int, int, int]]:
    """One step of a mixed chain over tokens: a predicate keeps or drops each token; a tantivy
    analyzer over a raw tokenizer rewrites each token into zero or more tokens."""
    if callable(step):
        return [t for t in tokens if step(t[0])]
    return [(out, *rest) for text, *rest in tokens for out in step.analyze(text) if out]


def _with_byte_offsets(text: str, raw: list[tuple[str, int, int, int, int]]) -> list[Token]:
    if text.isascii():
        return [Token(t, p, s, e, n) for t, p, s, e, n in raw]
    prefix = [0]
    for ch in text:
        prefix.append(prefix[-1] + len(ch.encode()))
    return [Token(t, p, prefix[s], prefix[e], n) for t, p, s, e, n in raw]


def term_hash(token: str) -> int:
    """Milvus's key of a term in BM25 sparse vectors (and run_analyzer's `hash`): the CRC-32 of
    the token's first 100 UTF-8 bytes, modulo 2^32 - 1."""
    return zlib.crc32(token.encode()[:100]) % 0xFFFFFFFF


def term_hashes(terms: Sequence[str]) -> npt.NDArray[np.uint32]:
    """`term_hash` of each term."""
    return np.fromiter((zlib.crc32(t.encode()[:100]) % 0xFFFFFFFF for t in terms),
                       dtype=np.uint32, count=len(terms))


def field_analyzer(type_params: dict[str, str], field: str) -> Analyzer:
    """The analyzer of a VARCHAR field with enable_analyzer set."""
    if type_params.get("enable_analyzer", "").lower() != "true":
        raise InvalidArgument(f"field {field} is not enable analyzer")
    if type_params.get("multi_analyzer_params"):
        raise InvalidArgument(f"field {field} has multi-language analyzers, which serve BM25 "
                              "full-text search only")
    return analyzer(type_params.get("analyzer_params"))


_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})  # Go's strconv.ParseBool


def match_enabled(field: FieldSchema) -> bool:
    """Whether text_match and phrase_match may filter `field`: Milvus reads enable_match only
    on VARCHAR fields, as Go's ParseBool reads it."""
    return field.dtype == DataType.VARCHAR and field.type_params.get("enable_match") in _TRUE


def check_text_params(field: FieldSchema) -> None:
    """Milvus's create-time rules for enable_match: the field's analyzer must be enabled, be a
    single analyzer, and have valid analyzer_params (built here once). On fields other than
    VARCHAR, Milvus ignores enable_match and enable_analyzer, and so does this."""
    if not match_enabled(field):
        return
    params = field.type_params
    if params.get("enable_analyzer") not in _TRUE:
        raise UnexpectedError(f"field {field.name} is set to enable match or bm25 function but "
                              "not enable analyzer")
    if "multi_analyzer_params" in params:
        raise UnexpectedError(f"multi analyzer now only support for bm25, but now field "
                              f"{field.name} enable match")
    analyzer(params.get("analyzer_params"))


_cache: dict[str, Analyzer] = {}
_lock = threading.Lock()


def analyzer(params: str | dict[str, Any] | None) -> Analyzer:
    """The analyzer `analyzer_params` (JSON text or a dict) describe, checked as Milvus checks
    them; built once per distinct params."""
    spec = _parse(params)
    key = json.dumps(spec, sort_keys=True)
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = _build(spec)
        with _lock:
            _cache[key] = found
    return found


def _parse(params: str | dict[str, Any] | None) -> dict[str, Any]:
    if params is None or params == "":
        return {}
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            raise InvalidArgument(f"analyzer params should be a json map: {params}") from None
    if not isinstance(params, dict):
        raise InvalidArgument(f"analyzer params should be a json map: {params}")
    return params


def _build(spec: dict[str, Any]) -> Analyzer:
    if "type" in spec:
        return _builtin(spec)
    if not spec:
        return _builtin({"type": "standard"})
    unknown = set(spec) - {"tokenizer", "filter"}
    if unknown:
        raise InvalidArgument(f"unknown analyzer option key: {min(unknown)}")
    if "tokenizer" not in spec:
        raise InvalidArgument("tokenizer name or type must be set")
    steps = _filters(spec.get("filter", []))
    return _with_tokenizer(spec["tokenizer"], steps, _keeps_every_token(spec.get("filter", [])))


def _builtin(spec: dict[str, Any]) -> Analyzer:
    kind = spec["type"]
    unknown = set(spec) - {"type", "stop_words"}
    if unknown:
        raise InvalidArgument(f"unknown analyzer option key: {min(unknown)}")
    extra = _stop(spec["stop_words"]) if "stop_words" in spec else []
    lowercase = _tv.Filter.lowercase()
    if kind == "standard":
        return Analyzer(_tv.Tokenizer.simple(), [lowercase, *extra], sequential=not extra)
    if kind == "english":
        return Analyzer(_tv.Tokenizer.simple(), [lowercase, _tv.Filter.stemmer("english"),
                                                 _tv.Filter.stopword("english"), *extra])
    if kind == "chinese":
        return Analyzer(None, [_CN_ALNUM.search, *extra], jieba=_jieba(["_default_"]))
    raise InvalidArgument(f"unsupported analyzer type: {kind}")


def _keeps_every_token(filters: list[Any]) -> bool:
    """Whether a filter chain only rewrites tokens, never drops or splits one."""
    rewriting = {"lowercase", "asciifolding", "stemmer"}
    return all((item if isinstance(item, str) else item.get("type")) in rewriting
               for item in filters)


def _with_tokenizer(raw: Any, steps: list[Any], sequential: bool = False) -> Analyzer:
    spec = {"type": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise InvalidArgument(f"tokenizer name or type must be set: {raw}")
    kind = spec["type"]
    if kind == "standard":
        return Analyzer(_tv.Tokenizer.simple(), steps, sequential=sequential)
    if kind == "whitespace":
        return Analyzer(_tv.Tokenizer.whitespace(), steps, sequential=sequential)
    if kind == "jieba":
        mode = spec.get("mode", "search")
        if mode not in ("search", "exact"):
            raise InvalidArgument(f"jieba tokenizer mode should be search or exact, got {mode}")
        hmm = spec.get("hmm", True)
        if not isinstance(hmm, bool):
            raise InvalidArgument(f"jieba tokenizer hmm should be a boolean, got {hmm}")
        return Analyzer(None, steps, jieba=_jieba(spec.get("dict", ["_default_"])),
                        jieba_mode="search" if mode == "search" else "default", hmm=hmm)
    if kind in ("lindera", "icu", "language_identifier", "char_group", "ngram"):
        raise Unsupported(f"tokenizer {kind} is not supported by this elanus build yet; use "
                          "standard, whitespace or jieba")
    raise InvalidArgument(f"unsupported tokenizer: {kind}")


def _jieba(words: Any) -> Any:
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise InvalidArgument(f"jieba dict should be a list of strings, got {words}")
    if "_extend_default_" in words:
        raise Unsupported("jieba dict _extend_default_ is not supported by this elanus build "
                          "yet; use _default_")
    import rjieba  # loads its dictionary (0.1 s): only when a jieba analyzer is built

    lib: Any = rjieba
    jieba = lib.Jieba() if "_default_" in words else lib.Jieba.empty()
    for word in words:
        if word != "_default_":
            jieba.add_word(word, None, None)
    return jieba


_NAMED: dict[str, Callable[[], Any]] = {
    "lowercase": lambda: _tv.Filter.lowercase(),
    "asciifolding": lambda: _tv.Filter.ascii_fold(),
    "alphanumonly": lambda: _tv.Filter.alphanum_only(),
    "cnalphanumonly": lambda: _CN_ALNUM.search,
    "cncharonly": lambda: _CN_CHAR.search,
    "removepunct": lambda: (lambda token: not _PUNCT.match(token)),
}


def _filters(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise InvalidArgument(f"analyzer filter should be a list, got {raw}")
    steps: list[Any] = []
    for item in raw:
        if isinstance(item, str):
            make = _NAMED.get(item)
            if make is None:
                raise InvalidArgument(f"unknown builtin filter: {item}")
            steps.append(make())
        elif isinstance(item, dict) and isinstance(item.get("type"), str):
            steps.extend(_filter(item))
        else:
            raise InvalidArgument(f"filter params should be a string or a json map: {item}")
    return steps


def _filter(spec: dict[str, Any]) -> list[Any]:
    kind = spec["type"]
    if kind == "stop":
        return _stop(spec.get("stop_words", []))
    if kind == "stemmer":
        language = str(spec.get("language", "")).lower()
        if language not in STEMMER_LANGUAGES:
            raise InvalidArgument(f"unsupported stemmer language: {spec.get('language')}")
        return [_tv.Filter.stemmer(language)]
    if kind == "length":
        limit = spec.get("max")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise InvalidArgument(f"length filter max should be a non-negative integer, got "
                                  f"{limit}")
        return [_tv.Filter.remove_long(limit + 1)]
    if kind == "decompounder":
        words = spec.get("word_list")
        if not isinstance(words, list) or not words or not all(isinstance(w, str)
                                                               for w in words):
            raise InvalidArgument("decompounder word_list should be a non-empty list of strings")
        return [_tv.Filter.split_compound(words)]
    if kind == "regex":
        expr = spec.get("expr")
        if not isinstance(expr, str):
            raise InvalidArgument("regex filter expr should be a string")
        try:
            pattern = regex.compile(expr)
        except regex.error as exc:
            raise InvalidArgument(f"regex filter expr {expr!r} is invalid: {exc}") from None
        return [pattern.search]
    if kind in _NAMED:
        return [_NAMED[kind]()]
    raise InvalidArgument(f"unknown filter type: {kind}")


def _stop(words: Any) -> list[Any]:
    """A stop filter: `_language_` entries name tantivy's (Snowball's) lists, the rest are
    words."""
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise InvalidArgument(f"stop_words should be a list of strings, got {words}")
    out: list[Any] = []
    plain: list[str] = []
    for word in words:
        language = word[1:-1] if len(word) > 2 and word[0] == word[-1] == "_" else ""
        if language in STOP_LANGUAGES:
            out.append(_tv.Filter.stopword(language))
        elif language == "chinese":
            raise Unsupported("the _chinese_ stop word list is not supported by this elanus "
                              "build yet")
        else:
            plain.append(word)
    if plain:
        out.append(_tv.Filter.custom_stopword(plain))
    return out
