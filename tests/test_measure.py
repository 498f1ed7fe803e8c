"""Speed figures: over the translated segments only, and a reason instead of a figure when there are none."""

from __future__ import annotations

import pytest

from pipeline.measure import Speed, measure


@pytest.mark.parametrize(
    ("counts", "seconds", "tokens", "per_s", "tokens_per_s", "reason"),
    [
        pytest.param((10, 0, 0), 2.0, 150, 5.0, 75.0, None, id="all-translated"),
        pytest.param((10, 990, 0), 2.0, 150, 5.0, 75.0, None, id="cache-hits-do-not-speed-it-up"),
        pytest.param((10, 0, 500), 2.0, 150, 5.0, 75.0, None, id="resumed-segments-do-not-either"),
        pytest.param((0, 1000, 0), 0.004, 0, None, None, "all from cache", id="all-from-cache"),
        pytest.param((0, 0, 1000), 0.0, 0, None, None, "all resumed", id="all-resumed"),
        pytest.param((0, 600, 400), 0.0, 0, None, None, "all from cache or resumed", id="cache-and-journal"),
        pytest.param((0, 0, 0), 0.0, 0, None, None, "nothing translated", id="empty"),
        pytest.param((3, 0, 0), 0.0, 9, None, None, "not timed", id="no-time"),
    ],
)
def test_speed_counts_only_translated_segments(counts, seconds, tokens, per_s, tokens_per_s, reason):
    translated, from_cache, resumed = counts
    speed = Speed.measured(translated=translated, from_cache=from_cache, resumed=resumed, seconds=seconds,
                           tokens=tokens, peak_rss_mb=100.0)
    assert (speed.segments_per_s, speed.tokens_per_s, speed.no_rate_reason) == (per_s, tokens_per_s, reason)
    assert speed.to_json() == {
        "segments_translated": translated, "segments_from_cache": from_cache, "segments_resumed": resumed,
        "translation_seconds": round(seconds, 3), "segments_per_s": per_s, "tokens_per_s": tokens_per_s,
        "peak_rss_mb": 100.0,
    }


def test_measure_reports_wall_time_and_peak_memory():
    with measure() as cost:
        block = bytearray(64 << 20)  # 64 MiB, touched
        block[:: 4096] = b"x" * len(block[:: 4096])
    assert cost.seconds > 0
    assert cost.peak_rss_mb is not None and cost.peak_rss_mb >= 64
