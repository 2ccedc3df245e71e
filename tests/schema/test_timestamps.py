"""TIMESTAMPTZ text: parsed with or without offsets, rendered in a time zone, durations."""

from __future__ import annotations

import pyarrow as pa
import pytest

from elanus.schema import timestamps


def test_parse_reads_offsets_and_falls_back_to_the_time_zone() -> None:
    text = pa.array(["2025-01-01T00:00:00+08:00", "2025-01-03T00:00:00Z",
                     "2025-01-03 00:00:00.5", "2025-01-02", None])
    parsed = timestamps.parse(text, "Asia/Shanghai")
    assert parsed.type == timestamps.STORAGE and parsed.null_count == 1
    assert timestamps.render(parsed).to_pylist() == [
        "2024-12-31T16:00:00Z", "2025-01-03T00:00:00Z", "2025-01-02T16:00:00.500000Z",
        "2025-01-01T16:00:00Z", None]
    assert timestamps.render(parsed, "Asia/Shanghai").to_pylist()[0] == \
        "2025-01-01T00:00:00+08:00"
    with pytest.raises(ValueError, match="'x2025' is not an ISO 8601"):
        timestamps.parse(pa.array(["2025-01-01T00:00:00Z", "x2025"]))


def test_literals_and_durations_are_microseconds() -> None:
    assert timestamps.literal("1970-01-01T00:00:01Z") == 1_000_000
    assert timestamps.literal("1970-01-01T08:00:00+08:00") == 0
    assert timestamps.duration("P1W2DT3H4M5.5S") == \
        ((9 * 24 + 3) * 3600 + 4 * 60 + 5.5) * 1_000_000
    for bad in ("P1M", "1D", "P", "PT"):
        with pytest.raises(ValueError):
            timestamps.duration(bad)
    with pytest.raises(ValueError, match="invalid time zone"):
        timestamps.check_timezone("Mars/Olympus")
