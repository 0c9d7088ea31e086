"""The time-slice planner from count probes, and the saturation rule (pure functions over the emulator's
generated catalogue: the count function is the catalogue's own truth, under-reported like the real API)."""
from __future__ import annotations

import bisect

import pytest

from include.sample_source import flickr_api as fa
from include.visionflow.datasets.flickr import day_bounds, parse_day
from include.visionflow.sources.flickr import DEFAULT_LICENSE_IDS
from include.visionflow.sources.timeslice import PlanConfig, Slice, plan_slices, split_saturated, split_time


@pytest.fixture(scope="module")
def catalogue():
    return fa.build_catalogue("http://127.0.0.1:1")


def true_count(cat, sl: Slice) -> int:
    a, b = bisect.bisect_left(cat.times, sl.start), bisect.bisect_right(cat.times, sl.end)
    return sum(1 for p in cat.photos[a:b] if int(p["license"]) in sl.licenses)


def ids_in(cat, sl: Slice) -> set[str]:
    a, b = bisect.bisect_left(cat.times, sl.start), bisect.bisect_right(cat.times, sl.end)
    return {p["id"] for p in cat.photos[a:b] if int(p["license"]) in sl.licenses}


def counter(cat, report=fa.reported_total):
    calls = []

    def count(sl: Slice) -> int:
        calls.append(sl)
        return report(true_count(cat, sl))

    count.calls = calls
    return count


def plan_day(cat, day, cfg=None, report=fa.reported_total):
    start, end = day_bounds(parse_day(day))
    count = counter(cat, report)
    plan = plan_slices(start, end, DEFAULT_LICENSE_IDS, count, cfg or PlanConfig())
    assert plan.probes == len(count.calls)
    return plan


def assert_partition(cat, plan, day):
    """Slices never overlap and together hold every photo of the day exactly once."""
    seen: set[str] = set()
    for sl in plan.slices:
        ids = ids_in(cat, sl)
        assert not ids & seen, sl
        seen |= ids
    assert seen == fa.expected_ids(cat, day, DEFAULT_LICENSE_IDS)


def test_empty_day_is_one_probe_and_no_slice(catalogue):
    plan = plan_day(catalogue, fa.EMPTY_DAY)
    assert plan.slices == [] and plan.probes == 1


def test_small_day_is_one_slice_for_the_whole_day(catalogue):
    plan = plan_day(catalogue, "2021-06-02")
    start, end = day_bounds(parse_day("2021-06-02"))
    assert plan.probes == 1
    assert [(s.start, s.end, s.licenses) for s in plan.slices] == [(start, end, DEFAULT_LICENSE_IDS)]


def test_dense_hour_is_split_by_time_and_every_slice_fits(catalogue):
    cfg = PlanConfig()
    plan = plan_day(catalogue, fa.DENSE_DAY, cfg)
    assert_partition(catalogue, plan, fa.DENSE_DAY)
    hour = fa._epoch(fa.DENSE_DAY, 14)
    inside_hour = [s for s in plan.slices if hour <= s.start and s.end < hour + 3600]
    assert len(inside_hour) >= 3  # ~11,000 photos in one hour need several slices
    for sl in plan.slices:
        assert sl.reported <= cfg.max_records or (sl.span <= cfg.min_span and len(sl.licenses) == 1)


def test_dense_minute_gets_slices_of_about_a_minute(catalogue):
    plan = plan_day(catalogue, fa.DENSE_DAY, PlanConfig(min_span=60))
    minute = fa._epoch(fa.DENSE_DAY, 14, 30)
    around = [s for s in plan.slices if s.start <= minute + 59 and s.end >= minute]
    assert around and all(s.span <= 120 for s in around)  # ~5,400 CC photos in 60 s: no wide slice fits
    assert_partition(catalogue, plan, fa.DENSE_DAY)


def test_a_second_over_the_cap_is_split_by_licence_at_the_minimum_span(catalogue):
    cfg = PlanConfig(min_span=60)
    plan = plan_day(catalogue, fa.BURST_DAY, cfg)
    burst = fa._epoch(fa.BURST_DAY, 9)
    around = [s for s in plan.slices if s.start <= burst <= s.end]
    assert len(around) >= 2 and all(s.span <= cfg.min_span for s in around)
    assert sorted(lic for s in around for lic in s.licenses) == sorted(DEFAULT_LICENSE_IDS)
    assert all(s.reported <= cfg.max_records for s in around)
    assert_partition(catalogue, plan, fa.BURST_DAY)


def test_under_reported_totals_can_hide_saturation_which_the_crawl_must_catch(catalogue):
    """With totals three times too low the plan believes slices fit that really hold more than the cap: a
    crawl must not trust the count (test_flickr_crawl shows it recovers through the saturation rule)."""
    plan = plan_day(catalogue, fa.DENSE_DAY, PlanConfig(), report=lambda n: n // 3)
    assert_partition(catalogue, plan, fa.DENSE_DAY)
    assert any(true_count(catalogue, s) > fa.CAP for s in plan.slices)


def test_truthful_counts_need_more_slices_than_under_reported_ones(catalogue):
    honest = plan_day(catalogue, fa.DENSE_DAY, report=lambda n: n)
    lying = plan_day(catalogue, fa.DENSE_DAY, report=lambda n: n // 3)
    assert len(honest.slices) > len(lying.slices)


def test_split_time_covers_exactly():
    sl = Slice(100, 199, (1,))
    parts = split_time(sl, 7)
    assert parts[0].start == 100 and parts[-1].end == 199
    assert all(a.end + 1 == b.start for a, b in zip(parts, parts[1:]))
    assert split_time(Slice(5, 6, (1,)), 10) == [Slice(5, 5, (1,)), Slice(6, 6, (1,))]


def test_saturated_slice_continues_from_the_cursor():
    sl = Slice(100, 200, (1, 2))
    assert split_saturated(sl, 150) == ([Slice(150, 200, (1, 2))], False)


def test_saturated_first_second_is_split_by_licence_then_the_rest_follows():
    sl = Slice(100, 200, (1, 2))
    assert split_saturated(sl, 100) == ([Slice(100, 100, (1,)), Slice(100, 100, (2,)), Slice(101, 200, (1, 2))],
                                        False)


def test_one_second_of_one_licence_over_the_cap_is_reported_unreachable():
    assert split_saturated(Slice(100, 100, (4,)), 100) == ([], True)
    assert split_saturated(Slice(100, 105, (4,)), 100) == ([Slice(101, 105, (4,))], True)


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError):
        Slice(10, 9, (1,))
    with pytest.raises(ValueError):
        PlanConfig(fill=0)


def test_merging_neighbours_gives_fewer_fuller_slices(catalogue):
    plain = plan_day(catalogue, fa.DENSE_DAY, PlanConfig(merge=False))
    merged = plan_day(catalogue, fa.DENSE_DAY, PlanConfig(merge=True))
    assert len(merged.slices) < len(plain.slices)
    assert all(s.reported <= PlanConfig().max_records for s in merged.slices)
    assert_partition(catalogue, merged, fa.DENSE_DAY)
