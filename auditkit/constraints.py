"""Allowed values of policy fields, declared as data; each constraint words its own error.

A constraint checks one value read from YAML and returns it (converted where needed, e.g. an int
written for a float field) or raises :class:`Invalid` with a complete sentence such as
``expected an integer in [2, 100], got 'five'``. The loader (:mod:`auditkit.policy.loader`) adds the
file, line and key. :class:`Section`, :class:`ListOf`, :class:`AllOrList` and :class:`Explainer`
describe structure; the loader walks them over the YAML nodes so that each item keeps its own line.
"""

from __future__ import annotations

import datetime
import difflib
import math
import numbers
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHOWN_CHARACTERS = 60
"""Longest string echoed in an error message; a longer one is cut and ends in ``...``."""


class Invalid(Exception):
    """A value broke a constraint; the message is complete and names what was expected."""


def show(value: Any) -> str:
    """How a value read from YAML is quoted in an error message, in YAML's words.

    >>> show("five"), show(None), show(True), show(3), show([1])
    ("'five'", 'null', 'true', '3', 'a list')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # repr escapes control characters and lone surrogates
        return repr(value) if len(value) <= SHOWN_CHARACTERS else f"{value[:SHOWN_CHARACTERS]!r}..."
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, numbers.Integral) and abs(value) >= 10**20:
        return f"an integer with {len(str(abs(value)))} digits"
    return repr(value)


def suggestion(word: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'X'?"`` for the closest of ``choices``, or ``""`` when none is close.

    >>> suggestion("epohcs", ["epochs", "seed"])
    "; did you mean 'epochs'?"
    """
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class Constraint(ABC):
    """What one field accepts."""

    @abstractmethod
    def expected(self) -> str:
        """The accepted values in words, e.g. ``"an integer >= 1"``."""

    def check(self, value: Any) -> Any:
        """Return ``value`` (converted where needed) or raise :class:`Invalid`."""
        if not self.accepts(value):
            raise self.reject(value)
        return value

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is allowed as it is; subclasses that convert override :meth:`check`.

        Structural constraints (sections, lists) accept no scalar, so a scalar there is rejected.
        """
        return False

    def reject(self, value: Any) -> Invalid:
        """The error for ``value``."""
        return Invalid(f"expected {self.expected()}, got {show(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Interval(Constraint):
    """An int (``kind=int``, bool excluded) or a finite number (``kind=float``, ints accepted) in a range.

    >>> Interval(int, 2, 100).check(5)
    5
    >>> Interval(float, 0, 1, closed="neither").expected()
    'a number in (0, 1)'
    """

    kind: type
    """``int`` or ``float``."""
    low: float | None = None
    """Lower bound, ``None`` for none."""
    high: float | None = None
    """Upper bound, ``None`` for none."""
    closed: str = "both"
    """Which bounds are included: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    def expected(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{noun} in {'[' if left else '('}{self.low}, {self.high}{']' if right else ')'}"
        if self.low is not None:
            return f"{noun} {'>=' if left else '>'} {self.low}"
        if self.high is not None:
            return f"{noun} {'<=' if right else '<'} {self.high}"
        return noun

    def check(self, value: Any) -> Any:
        if not (_is_int(value) if self.kind is int else _is_number(value)):
            raise self.reject(value)
        low_open = self.closed in ("right", "neither")
        high_open = self.closed in ("left", "neither")
        if self.low is not None and (value < self.low or (low_open and value == self.low)):
            raise self.reject(value)
        if self.high is not None and (value > self.high or (high_open and value == self.high)):
            raise self.reject(value)
        if self.kind is int:
            return int(value)
        try:
            number = float(value)
        except OverflowError:
            raise self.reject(value) from None
        if not math.isfinite(number):
            raise self.reject(value)
        return number


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values; a misspelt word gets a "did you mean" hint.

    >>> Options(("adam", "sgd")).check("sgd")
    'sgd'
    """

    values: tuple[Any, ...]
    """The accepted values, in the order error messages list them."""

    def expected(self) -> str:
        if len(self.values) == 1:
            return show(self.values[0])
        return "one of " + ", ".join(show(v) for v in self.values)

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def reject(self, value: Any) -> Invalid:
        hint = ""
        if isinstance(value, str):
            hint = suggestion(value, [v for v in self.values if isinstance(v, str)])
        return Invalid(f"expected {self.expected()}, got {show(value)}{hint}")


@dataclass(frozen=True)
class Text(Constraint):
    """A printable string (tabs and line breaks allowed), by default one that is not blank.

    >>> Text().check("digits-demo")
    'digits-demo'
    """

    allow_blank: bool = False
    """Whether an empty or all-space string is accepted."""

    def expected(self) -> str:
        return "a string" if self.allow_blank else "a non-empty string"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and (self.allow_blank or bool(value.strip()))

    def check(self, value: Any) -> Any:
        value = super().check(value)
        bad = _UNPRINTABLE.search(value)
        if bad is not None:
            raise Invalid(f"contains {_character(bad.group())} at position {bad.start()}, which reports, "
                          f"the history and terminals cannot show, got {show(value)}")
        return value


def _character(char: str) -> str:
    """``the control character U+001B`` or ``a lone surrogate U+D800``."""
    code = ord(char)
    return f"{'a lone surrogate' if 0xD800 <= code <= 0xDFFF else 'the control character'} U+{code:04X}"


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters (C0 but tab and line feed, DEL, C1) and lone surrogates."""


@dataclass(frozen=True)
class Flag(Constraint):
    """``true`` or ``false``."""

    def expected(self) -> str:
        return "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Pattern(Constraint):
    """A string matching a regular expression in full.

    >>> Pattern(r"cuda(:[0-9]+)?", "'cuda' or 'cuda:N'").check("cuda:1")
    'cuda:1'
    """

    regex: str
    """The regular expression (matched with :func:`re.fullmatch`)."""
    description: str
    """The accepted strings in words, for error messages."""

    def expected(self) -> str:
        return self.description

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None


@dataclass(frozen=True)
class FilePath(Constraint):
    """A non-empty path string that a filesystem can hold: no NUL or control character, at most
    :data:`MAX_PATH_BYTES` bytes in UTF-8 and :data:`MAX_NAME_BYTES` per component. The loader
    resolves a relative one against the policy file's folder."""

    def expected(self) -> str:
        return "a path (a non-empty string)"

    def check(self, value: Any) -> Any:
        if not (isinstance(value, str) and value.strip()):
            raise self.reject(value)
        bad = _UNPRINTABLE.search(value)
        if bad is not None:
            raise Invalid(f"a path cannot contain {_character(bad.group())} (at position {bad.start()}), "
                          f"got {show(value)}")
        size = len(value.encode("utf-8"))
        if size > MAX_PATH_BYTES:
            raise Invalid(f"a path of {size} bytes is longer than the {MAX_PATH_BYTES} a filesystem "
                          f"accepts, got {show(value)}")
        long = next((part for part in value.split("/") if len(part.encode("utf-8")) > MAX_NAME_BYTES), None)
        if long is not None:
            raise Invalid(f"the path component {show(long)} is longer than the {MAX_NAME_BYTES} bytes a "
                          "file name may have")
        return Path(value)


MAX_PATH_BYTES = 4095
"""Longest path accepted, in UTF-8 bytes (Linux's PATH_MAX less the terminating NUL)."""
MAX_NAME_BYTES = 255
"""Longest file or folder name accepted, in UTF-8 bytes (NAME_MAX of common filesystems)."""


@dataclass(frozen=True)
class Nullable(Constraint):
    """``null`` or what ``inner`` accepts.

    >>> Nullable(Interval(int, 20)).check(None) is None
    True
    """

    inner: Constraint
    """The constraint on a value that is not null."""

    def expected(self) -> str:
        return f"{self.inner.expected()} or null"

    def check(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.inner.check(value)
        except Invalid as exc:  # a specific reason (a path too long) stands; "expected X" gains "or null"
            raise (self.reject(value) if str(exc) == str(self.inner.reject(value)) else exc) from None


@dataclass(frozen=True)
class Either(Constraint):
    """What ``first`` accepts, else what ``second`` accepts (a word or a number, say).

    >>> Either(Options(("auto",)), Interval(float, 0, 8)).check(1)
    1.0
    >>> Either(Options(("auto",)), Interval(float, 0, 8)).expected()
    "'auto' or a number in [0, 8]"
    """

    first: Constraint
    """Tried first."""
    second: Constraint
    """Tried when ``first`` rejects the value."""

    def expected(self) -> str:
        return f"{self.first.expected()} or {self.second.expected()}"

    def check(self, value: Any) -> Any:
        for constraint in (self.first, self.second):
            try:
                return constraint.check(value)
            except Invalid:
                pass
        raise self.reject(value)


@dataclass(frozen=True)
class Section(Constraint):
    """A nested mapping read into the frozen dataclass ``cls`` (whose ``constraints`` name its keys)."""

    cls: type
    """The section's dataclass."""

    def expected(self) -> str:
        return "a mapping"


@dataclass(frozen=True)
class Deferred(Constraint):
    """A constraint whose allowed values belong to a part of auditkit that imports torch (the
    dataset, model and explainer registries), built by ``build`` when a value is checked against it.

    The loader reads a policy twice: first on paper, where ``paper`` stands in for it (the value's
    shape only), so that a typo elsewhere is reported without importing torch; then in full, against
    :meth:`resolve`.

    >>> Deferred(lambda: Options(("adam", "sgd")), Text()).check("sgd")
    'sgd'
    """

    build: Callable[[], Constraint]
    """Returns the constraint itself (importing its registry)."""
    paper: Constraint
    """What the value must be on paper, before the registry is read."""

    def resolve(self) -> Constraint:
        """The constraint :attr:`build` returns."""
        return self.build()

    def expected(self) -> str:
        return self.resolve().expected()

    def check(self, value: Any) -> Any:
        return self.resolve().check(value)


@dataclass(frozen=True)
class Explainer(Constraint):
    """One item of ``explainers``: a mapping with ``name`` and that explainer's settings."""

    def expected(self) -> str:
        return "a mapping with 'name' and that explainer's settings"


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list whose items each satisfy ``item``; read into a tuple.

    >>> ListOf(Interval(float, 0, 1), increasing=True).problem([0.1, 0.1])
    (1, 'must be greater than the item before it (0.1): the items must be strictly increasing')
    """

    item: Constraint
    """The constraint on each item."""
    min_length: int = 0
    """Fewest items allowed."""
    unique: bool = False
    """Whether an item may appear twice."""
    increasing: bool = False
    """Whether the items must be strictly increasing."""

    def expected(self) -> str:
        what = "a non-empty list" if self.min_length == 1 else "a list"
        if self.min_length > 1:
            what = f"a list of at least {self.min_length} items"
        return f"{what} (each item {self.item.expected()})"

    def problem(self, items: Sequence[Any]) -> tuple[int, str] | None:
        """``(index, message)`` of the first item breaking ``unique`` or ``increasing``, else ``None``."""
        for i in range(1, len(items)):
            if self.unique and items[i] in items[:i]:
                return i, f"{show(items[i])} is listed twice (also item {items.index(items[i])})"
            if self.increasing and not items[i] > items[i - 1]:
                return i, (
                    f"must be greater than the item before it ({show(items[i - 1])}): "
                    "the items must be strictly increasing"
                )
        return None


@dataclass(frozen=True)
class AllOrList(Constraint):
    """The word ``all`` or a list that ``items`` accepts."""

    items: ListOf
    """The constraint on the list form."""

    def expected(self) -> str:
        return f"'all' or {self.items.expected()}"

    def accepts(self, value: Any) -> bool:
        return value == "all"

    def reject(self, value: Any) -> Invalid:
        hint = suggestion(value, ["all"]) if isinstance(value, str) else ""
        return Invalid(f"expected {self.expected()}, got {show(value)}{hint}")


@dataclass(frozen=True)
class FreeMapping(Constraint):
    """A mapping of names to plain YAML values (strings, numbers, booleans, null, lists, mappings),
    handed on unchecked: the keyword arguments of the operator's own factory or training function.
    Read into a read-only mapping."""

    def expected(self) -> str:
        return "a mapping of argument names to values"

    def check(self, value: Any) -> Any:
        if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier() for k in value):
            raise self.reject(value)
        return value


@dataclass(frozen=True)
class Setting:
    """One setting a component takes: what it accepts and its default."""

    constraint: Constraint
    """What the setting accepts."""
    default: Any
    """Its value when nothing else sets it."""


def must(value: Any, name: str, constraint: Constraint, error: type[Exception] = ValueError) -> Any:
    """``value`` checked by ``constraint`` (converted where it converts), else ``error`` with the one
    message style of the library: ``"<name> must be <what is accepted>, got <value>"``.

    The policy loader words the same constraint as ``"<file>:<line>: <key>: expected ..., got ..."``.

    >>> must(3, "steps", Interval(int, 2))
    3
    >>> must(1, "steps", Interval(int, 2, 10000))
    Traceback (most recent call last):
    ValueError: steps must be an integer in [2, 10000], got 1
    """
    try:
        return constraint.check(value)
    except Invalid:
        raise error(f"{name} must be {constraint.expected()}, got {show(value)}") from None
