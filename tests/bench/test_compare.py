"""The regression check compares by ratios: a 20% slowdown of one case is flagged, 10% is not,
in both modes; a uniformly slower machine is not a regression in the relative mode."""

from __future__ import annotations

import pytest

from rtstyle.bench import compare
from rtstyle.errors import ConfigError
from tests.bench.fake import records

SLOW = "ort-cpu-fp32/full/640x360/b1"


@pytest.mark.parametrize("mode", ["absolute", "relative", "auto"])
def test_a_20_percent_slowdown_is_flagged(mode):
    c = compare.compare(records(slow=SLOW, factor=1.2), records(), mode=mode)
    assert [r.key for r in c.flagged] == [SLOW]
    assert c.flagged[0].ratio == pytest.approx(1.2)
    assert "1 of 4 case(s) slower by more than 15%" in c.summary()
    assert SLOW in c.summary()


@pytest.mark.parametrize("mode", ["absolute", "relative", "auto"])
def test_a_10_percent_slowdown_passes(mode):
    c = compare.compare(records(slow=SLOW, factor=1.1), records(), mode=mode)
    assert c.flagged == []
    assert max(r.ratio for r in c.rows) == pytest.approx(1.1)
    assert c.summary().startswith("no case slower")


def test_relative_mode_cancels_a_uniformly_slower_machine():
    old = records()
    new = records(scale=1.5, device="Another CPU, 2 cores")
    assert [r.key for r in compare.compare(new, old, mode="absolute").flagged] != []
    c = compare.compare(new, old)  # auto: different devices -> relative
    assert c.mode == "relative" and c.reference == "ort-cpu-fp32/lite/256x256/b1"
    assert c.flagged == [] and all(r.ratio == pytest.approx(1.0) for r in c.rows)
    slower = records(scale=1.5, slow=SLOW, factor=1.2, device="Another CPU, 2 cores")
    assert [r.key for r in compare.compare(slower, old).flagged] == [SLOW]


def test_same_device_is_absolute_and_the_table_marks_the_flagged_case():
    c = compare.compare(records(slow=SLOW, factor=1.3), records())
    assert c.mode == "absolute"
    text = compare.table(c)
    assert "ratio (new/old)" in text
    line = next(l for l in text.splitlines() if l.startswith(f"| {SLOW} "))
    assert "1.300" in line and "slower > 15%" in line


def test_cases_in_one_run_only_are_listed_not_compared():
    old = records()
    new = [r for r in records() if r.get("key") != SLOW]
    c = compare.compare(new, old)
    assert c.only_old == (SLOW,) and SLOW not in [r.key for r in c.rows]
    assert "Only in the old run" in compare.table(c)


def test_bad_settings_and_nothing_in_common():
    with pytest.raises(ConfigError, match="comparison mode"):
        compare.compare(records(), records(), mode="median")
    with pytest.raises(ConfigError, match="threshold"):
        compare.compare(records(), records(), threshold=0)
    other = [r for r in records() if r["kind"] == "run"]
    with pytest.raises(ConfigError, match="no measured case in common"):
        compare.compare(records(), other)
