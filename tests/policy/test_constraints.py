"""The allowed-value vocabulary: each constraint accepts exactly its values and words its own error."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.constraints import (
    FilePath,
    Flag,
    Interval,
    Invalid,
    ListOf,
    Nullable,
    Options,
    Pattern,
    Text,
)

BOUNDS = st.one_of(st.none(), st.integers(-5, 5))
CLOSED = st.sampled_from(["both", "left", "right", "neither"])


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from([int, float]), low=BOUNDS, high=BOUNDS, closed=CLOSED,
       value=st.one_of(st.integers(-8, 8), st.floats(-8, 8), st.booleans(), st.floats(allow_nan=True)))
def test_interval_accepts_exactly_its_range(kind: type, low: int | None, high: int | None, closed: str,
                                            value: object) -> None:
    is_type = not isinstance(value, bool) and (isinstance(value, int) if kind is int
                                               else isinstance(value, (int, float)) and math.isfinite(value))
    above = low is None or (value > low if closed in ("right", "neither") else value >= low)
    below = high is None or (value < high if closed in ("left", "neither") else value <= high)
    constraint = Interval(kind, low, high, closed)
    if is_type and above and below:
        result = constraint.check(value)
        assert result == value and type(result) is kind
    else:
        with pytest.raises(Invalid, match="^expected " + re.escape(constraint.expected())):
            constraint.check(value)


@pytest.mark.parametrize(
    ("constraint", "text"),
    [
        (Interval(int, 2), "an integer >= 2"),
        (Interval(int, 2, 100), "an integer in [2, 100]"),
        (Interval(float, 0, 10, closed="right"), "a number in (0, 10]"),
        (Interval(float, 0, closed="neither"), "a number > 0"),
        (Interval(float, high=1, closed="left"), "a number < 1"),
        (Interval(float), "a number"),
        (Options(("adam", "sgd")), "one of 'adam', 'sgd'"),
        (Options((1,)), "1"),
        (Nullable(Interval(int, 20)), "an integer >= 20 or null"),
        (ListOf(Text(), min_length=1), "a non-empty list (each item a non-empty string)"),
        (Flag(), "true or false"),
    ],
)
def test_expected_texts(constraint, text: str) -> None:
    assert constraint.expected() == text


@pytest.mark.parametrize(
    ("constraint", "value", "message"),
    [
        (Interval(int, 2), "five", "expected an integer >= 2, got 'five'"),
        (Interval(int, 2), True, "expected an integer >= 2, got true"),
        (Interval(float, 0), 10**400, "expected a number >= 0, got an integer with 401 digits"),
        (Interval(float), math.inf, "expected a number, got inf"),
        (Options(("adam", "sgd")), "adamw",
         "expected one of 'adam', 'sgd', got 'adamw'; did you mean 'adam'?"),
        (Options((1,)), True, "expected 1, got true"),
        (Text(), "  ", "expected a non-empty string, got '  '"),
        (Flag(), "yes", "expected true or false, got 'yes'"),
        (Pattern("cpu|cuda", "'cpu' or 'cuda'"), None, "expected 'cpu' or 'cuda', got null"),
        (FilePath(), "", "expected a path (a non-empty string), got ''"),
        (Nullable(Interval(int, 20)), 3, "expected an integer >= 20 or null, got 3"),
    ],
)
def test_rejections_name_what_was_expected_and_what_arrived(constraint, value: object, message: str) -> None:
    with pytest.raises(Invalid) as info:
        constraint.check(value)
    assert str(info.value) == message


def test_list_item_rules() -> None:
    assert ListOf(Text(), unique=True).problem(["a", "b", "a"]) == (2, "'a' is listed twice (also item 0)")
    assert ListOf(Interval(float), increasing=True).problem([0.1, 0.2, 0.3]) is None
    assert ListOf(Interval(float), increasing=True).problem([0.3, 0.2])[0] == 1
