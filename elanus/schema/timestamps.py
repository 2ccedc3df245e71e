"""TIMESTAMPTZ values: ISO 8601 text in, UTC microseconds stored, ISO 8601 text out.

Clients send ISO 8601 strings; one with an offset (`+08:00`, `Z`) names its instant, one without
is read in the collection's time zone (the `timezone` property, UTC by default). Values are
stored as Arrow timestamp[us, UTC] and returned as RFC 3339 text in the time zone a read asks for
(`2024-12-31T16:00:00Z` in UTC, `2025-01-01T00:00:00+08:00` in Asia/Shanghai); fractional
seconds appear only when present. Filters compare instants: `ISO '...'` literals and
`INTERVAL 'P1DT2H'` durations are microsecond integers. Every conversion is a whole-column Arrow
compute call.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from elanus.schema.types import single_array

STORAGE = pa.timestamp("us", tz="UTC")
UTC = "UTC"
_OFFSET = r"T[0-9:.]+(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"  # an offset after a time of day
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_MICROS = {"W": 7 * 86_400_000_000, "D": 86_400_000_000, "H": 3_600_000_000, "M": 60_000_000}


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError)


def parse(values: pa.Array, timezone: str = UTC) -> pa.Array:
    """ISO 8601 strings as timestamp[us, UTC]; raises ValueError naming the first bad value."""
    text = values.cast(pa.large_string())
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d\d-\d\d) ", r"\1T")
    try:
        return _convert(text, timezone)
    except _ARROW_ERRORS as exc:
        for value in text.drop_null().to_pylist():  # the error path only: name the value
            try:
                _convert(pa.array([value], pa.large_string()), timezone)
            except _ARROW_ERRORS:
                raise ValueError(f"invalid timestamp: {value!r} is not an ISO 8601 "
                                 "date-time") from None
        raise ValueError(str(exc)) from None


def _convert(text: pa.Array, timezone: str) -> pa.Array:
    with_offset = pc.match_substring_regex(text, _OFFSET)
    aware = pc.if_else(with_offset, text, None).cast(STORAGE)
    local = pc.if_else(with_offset, None, text).cast(pa.timestamp("us"))
    local = pc.assume_timezone(local, timezone).cast(STORAGE)
    return pc.if_else(with_offset, aware, local)


def literal(text: str, timezone: str = UTC) -> int:
    """An `ISO '...'` filter literal as UTC microseconds since the epoch."""
    value = parse(pa.array([text]), timezone)[0].cast(pa.int64()).as_py()
    if value is None:
        raise ValueError(f"invalid timestamp: {text!r}")
    return int(value)


def duration(text: str) -> int:
    """An `INTERVAL '...'` ISO 8601 duration (weeks, days, hours, minutes, seconds) in
    microseconds. Years and months have no fixed length and are refused."""
    match = _DURATION.fullmatch(text.strip().upper())
    if match is None or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"invalid interval {text!r}: expected an ISO 8601 duration such as "
                         "'P1DT2H' (weeks, days, hours, minutes and seconds)")
    weeks, days, hours, minutes, seconds = match.groups()
    total = sum(int(v) * _MICROS[unit] for v, unit in
                ((weeks, "W"), (days, "D"), (hours, "H"), (minutes, "M")) if v)
    return total + (round(float(seconds) * 1_000_000) if seconds else 0)


def render(values: pa.Array | pa.ChunkedArray, timezone: str = UTC) -> pa.Array:
    """timestamp[us, UTC] values as RFC 3339 text in `timezone`."""
    arr = single_array(values)
    arr = arr.cast(STORAGE)
    if timezone.upper() == UTC:
        text = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%SZ")
    else:
        text = pc.strftime(arr.cast(pa.timestamp("us", tz=timezone)), format="%Y-%m-%dT%H:%M:%S%z")
        text = pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")
    return pc.replace_substring(text, ".000000", "").cast(pa.large_string())


def check_timezone(name: str) -> None:
    """Refuse a time zone name the time zone database does not know."""
    try:
        pa.array([0], pa.timestamp("us", tz=UTC)).cast(pa.timestamp("us", tz=name)) \
            .cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowNotImplementedError):
        raise ValueError(f"invalid time zone {name!r}") from None
