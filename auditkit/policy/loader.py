"""Read a policy YAML file into a :class:`~auditkit.policy.schema.Policy`, or say exactly what is wrong.

The file is composed with PyYAML's safe loader into nodes, which carry the line of every key, and
walked against the schema's ``constraints``. Every problem (unreadable file, YAML syntax, duplicate
or unknown key, missing key, wrong type, value out of range, broken cross-field rule) is raised as a
:class:`~auditkit.errors.PolicyError` with the file, the 1-based line of the offending key (of the
enclosing section for a missing key) and the dotted key, e.g. ``explainers[2].steps``.

Reading choices:

- Keys are taken as written: ``on:`` is the key ``"on"``, not YAML 1.1's boolean true (a section's
  ``aliases`` map such former names to their keys).
- An unquoted number in exponent form without a dot (``1e-3``) is a number, as in YAML 1.2
  (YAML 1.1 would read it as a string).
- A section or list written with no value (``training:`` followed by nothing) counts as empty.
- Merge keys (``<<: *defaults``) merge as YAML specifies; keys written beside them win.
- Relative paths are joined to the policy file's folder and normalised (``a/../b`` becomes ``b``).

Reading on paper (``load_policy(path, on_paper=True)``, what ``auditkit validate`` does first): a value
checked against a registry that imports torch (dataset kinds, model families, channels, explainer
names and settings: a :class:`~auditkit.constraints.Deferred` constraint) is only checked for its
shape, and the cross-field rules of the sections holding one are left out; every other problem
(syntax, unknown and missing keys, types, bounds) is raised without importing torch. The full reading
checks everything, so it reports in one run every problem the reading on paper finds, and more.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml

from auditkit.constraints import (
    AllOrList,
    Constraint,
    Deferred,
    Explainer,
    FilePath,
    FreeMapping,
    Invalid,
    ListOf,
    Nullable,
    Section,
    show,
    suggestion,
)
from auditkit.errors import PolicyError
from auditkit.policy.reading import compose, read_bytes
from auditkit.policy.registries import explainer_settings
from auditkit.policy.schema import DICT_ORIGIN, PROFILES, ExplainerSpec, Policy

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
_Entries = dict[str, tuple[yaml.Node, yaml.Node]]


def policy_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of the policy file's exact bytes.

    Raises:
        PolicyError: the file is missing or unreadable.
    """
    return hashlib.sha256(read_bytes(Path(path))).hexdigest()


def load_policy(path: str | Path, *, on_paper: bool = False) -> Policy:
    """Load and check the policy at ``path``; relative paths in it are read from the file's folder.

    Args:
        on_paper: read it on paper only (module docstring), which imports no torch: what it returns
            has its registry-checked values (explainer names and settings, dataset kind, model
            family, channels) and their sections' cross-field rules unchecked, so it serves a quick
            check (``auditkit validate``, before its full reading), never an audit.

    Raises:
        PolicyError: anything wrong with the file, with its ``file``, ``line`` and ``key``.
    """
    file = Path(path)
    data = read_bytes(file)
    text = _decode(data, file)
    root = _compose(text, file)
    return _Reader(file, paper=on_paper).policy(root, hashlib.sha256(data).hexdigest())


def policy_from_dict(data: Mapping[str, Any], *, base: str | Path | None = None) -> Policy:
    """Check the policy written as a Python dict (the YAML file's shape) and load it.

    The dict is written as YAML (``yaml.safe_dump``, keys in the dict's order; paths as strings,
    tuples as lists) and read by the same reader as a file, so it obeys the same rules; its problems
    name the key path (``<policy dict>: model.famly: unknown key ...``) instead of a line. Its
    ``sha256`` is that of the YAML text; its ``source`` is ``None``.

    Args:
        base: folder relative paths in it are read from; default the current folder.

    Raises:
        PolicyError: anything wrong with it, with its ``key``.
    """
    text = yaml.safe_dump(_plain_data(data, ""), sort_keys=False, allow_unicode=True)
    root = _compose(text, DICT_ORIGIN)
    folder = Path.cwd() if base is None else Path(base)
    return _Reader(DICT_ORIGIN, base=folder, numbered=False).policy(
        root, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _plain_data(value: Any, key: str) -> Any:
    """``value`` as data YAML can write: mappings with string keys, lists, scalars; paths as strings."""
    if isinstance(value, Mapping):
        out = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise PolicyError(f"keys must be strings, got {name!r}", file=DICT_ORIGIN, key=key)
            out[name] = _plain_data(item, _join(key, name))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain_data(item, f"{key}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise PolicyError(f"a {type(value).__name__} cannot be written in a policy (it takes strings, numbers, "
                      "booleans, lists and mappings)", file=DICT_ORIGIN, key=key)


class _Unnumbered(dict):
    """The keys of a policy read from a dict: every key is known, none has a line."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, None)


def _decode(data: bytes, file: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the policy as UTF-8",
            file=file, line=line,
        ) from None


def _compose(text: str, file: Path) -> yaml.Node:
    root = compose(text, file)
    if root is None:
        raise PolicyError(
            "the policy file is empty; it needs at least 'version', 'name', 'dataset' and 'explainers'",
            file=file, line=1,
        )
    return root


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key and name else key or name


def _parent(key: str) -> str:
    cut = max(key.rfind("."), key.rfind("["))
    return key[:cut] if cut > 0 else ""


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL


class _Broken(Exception):
    """A section or list had problems, already recorded by the reader; its parent is broken too."""


class _Reader:
    """Walks the nodes of one policy file; remembers the line of every key it has seen.

    A problem inside a section or a list item is recorded and the walk goes on with the next key or
    item, so one run reports every problem of the file; a section with a problem is not built (and
    its cross-field rules are not checked, since they need all of its values). ``paper``: the reading
    on paper (module docstring); ``unsure`` holds the keys whose value it left unchecked.
    """

    def __init__(self, file: Path, *, base: Path | None = None, numbered: bool = True,
                 paper: bool = False) -> None:
        self.file = file
        self.paper = paper
        self.unsure: list[str] = []
        self.numbered = numbered
        self.base = (file.absolute().parent if base is None else base).absolute()
        self.lines: dict[str, int] = {} if numbered else _Unnumbered()
        self.profile: Mapping[str, Any] = PROFILES["paper"]
        self.problems: list[PolicyError] = []
        self._constructor = yaml.SafeLoader("")

    def error(self, key: str, message: str) -> PolicyError:
        """A PolicyError at the line of ``key``, or of its nearest enclosing key that was written."""
        probe = key
        while probe and probe not in self.lines:
            probe = _parent(probe)
        return PolicyError(message, file=self.file, line=self.lines.get(probe), key=key)

    def fail(self, key: str, message: str) -> NoReturn:
        """Raise :meth:`error`."""
        raise self.error(key, message)

    def _each(self, build: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """``(True, build(*args))``, or ``(False, None)`` with its problem recorded."""
        try:
            return True, build(*args)
        except _Broken:
            return False, None
        except PolicyError as exc:
            self.problems.append(exc)
            return False, None

    def policy(self, root: yaml.Node, sha256: str) -> Policy:
        """The whole policy; ``profile`` is read first, as it sets other keys' defaults."""
        self.lines[""] = _line(root)
        if not isinstance(root, yaml.MappingNode) or root.tag != _MAP:
            # Only the kind: the file may be a link to something else, whose content is not echoed.
            kind = "a single value" if isinstance(root, yaml.ScalarNode) else self._kind(root, "")
            self.fail("", f"the policy must be a mapping of keys to values, got {kind}")
        entries = self._entries(root, "")
        if "profile" in entries:
            key_node, value_node = entries["profile"]
            self.lines["profile"] = _line(key_node)
            self.profile = PROFILES[self._value(Policy.constraints["profile"], value_node, "profile")]
        extra = {"source": self.file.absolute() if self.numbered else None, "sha256": sha256,
                 "lines": MappingProxyType(self.lines)}
        ok, policy = self._each(self._section, Policy, root, "", extra)
        if not ok:
            first, *more = sorted(self.problems, key=lambda p: p.line or 0)
            raise PolicyError(first.detail, file=first.file, line=first.line, key=first.key, more=more)
        return policy

    def _kind(self, node: yaml.Node, key: str) -> str:
        """What ``node`` is, for "expected X, got Y" messages."""
        if isinstance(node, yaml.ScalarNode):
            return show(self._scalar(node, key))
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
        return kind if node.tag in (_MAP, _SEQ) else f"{kind} tagged {node.tag}"

    def _entries(self, node: yaml.MappingNode, key: str, merging: frozenset[int] = frozenset()) -> _Entries:
        """Key name -> (key node, value node); duplicates are errors, merge keys are expanded."""
        own: _Entries = {}
        merged: _Entries = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode) or id(source) in merging | {id(node)}:
                        self.lines[key] = _line(key_node)
                        self.fail(key, "'<<' must merge a mapping (an alias to another mapping)")
                    for name, pair in self._entries(source, key, merging | {id(node)}).items():
                        merged.setdefault(name, pair)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.lines[key] = _line(key_node)
                self.fail(key, "keys must be plain names, not lists or mappings")
            name = key_node.value
            if name in own:
                self.lines[_join(key, name)] = _line(key_node)
                self.fail(_join(key, name), f"duplicate key {name!r} (first on line {_line(own[name][0])})")
            own[name] = (key_node, value_node)
        return {**merged, **own}

    def _mapping(self, node: yaml.Node, key: str, what: str) -> _Entries:
        """The entries of a section; ``null`` counts as an empty section."""
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode) or node.tag != _MAP:
            self.fail(key, f"expected {what}, got {self._kind(node, key)}")
        return self._entries(node, key)

    def _section(
        self, cls: type, node: yaml.Node | None, key: str, extra: Mapping[str, Any] | None = None
    ) -> Any:
        """Build ``cls`` from a mapping node (``None``: the section is absent, all defaults)."""
        allowed = cls.constraints
        entries = {} if node is None else self._mapping(node, key, "a mapping")
        broken = False
        for name, (key_node, _) in entries.items():
            self.lines[_join(key, name)] = _line(key_node)
            if name not in allowed and name not in cls.aliases:
                self.problems.append(self.error(_join(key, name),
                                                f"unknown key {name!r}{suggestion(name, list(allowed))}"))
                broken = True
        for old, new in cls.aliases.items():
            if old in entries:
                if new in entries:
                    self.problems.append(self.error(
                        _join(key, old), f"{old!r} is the former name of {new!r}: keep only {new!r}"))
                    broken = True
                    continue
                entries[new] = entries.pop(old)
                self.lines[_join(key, new)] = self.lines[_join(key, old)]
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in allowed:
                continue
            sub = _join(key, f.name)
            if f.name in entries:
                ok, values[f.name] = self._each(self._value, allowed[f.name], entries[f.name][1], sub)
                broken = broken or not ok
                continue
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                self.problems.append(self.error(key, f"missing required key {f.name!r}"))
                broken = True
            elif isinstance(allowed[f.name], Section):
                values[f.name] = self._section(allowed[f.name].cls, None, sub)
            else:
                values[f.name] = self.profile.get(
                    _schema_path(sub), f.default_factory() if f.default is dataclasses.MISSING else f.default
                )
        if broken:
            raise _Broken
        for name, value in values.items():
            if _is_path(allowed[name]) and value is not None and not value.is_absolute():
                values[name] = Path(os.path.normpath(self.base / value))
        if self.paper and any(_within(unsure, key) for unsure in self.unsure):
            return cls(**values, **(extra or {}))  # its rules wait for the full reading
        problems = [self.error(_join(key, rel), message) for rel, message in cls.problems(values)]
        if problems:
            self.problems.extend(problems)
            raise _Broken
        return cls(**values, **(extra or {}))

    def _value(self, constraint: Constraint, node: yaml.Node, key: str) -> Any:
        """The value of ``node`` checked against ``constraint``."""
        if self.paper:
            paper = _on_paper(constraint)
            if paper != constraint:
                self.unsure.append(key)
                constraint = paper
        elif isinstance(constraint, Deferred):
            constraint = constraint.resolve()
        if isinstance(constraint, Section):
            return self._section(constraint.cls, node, key)
        if isinstance(constraint, Nullable) and isinstance(constraint.inner, (ListOf, FreeMapping)):
            return None if _is_null(node) else self._value(constraint.inner, node, key)
        if isinstance(constraint, FreeMapping):
            return self._free_mapping(constraint, node, key)
        if isinstance(constraint, Explainer):
            return self._explainer(node, key)
        if isinstance(constraint, ListOf):
            return self._list(constraint, node, key)
        if isinstance(constraint, AllOrList) and isinstance(node, yaml.SequenceNode):
            return self._list(constraint.items, node, key)
        if not isinstance(node, yaml.ScalarNode):
            self.fail(key, f"expected {constraint.expected()}, got {self._kind(node, key)}")
        try:
            return constraint.check(self._scalar(node, key))
        except Invalid as exc:
            self.fail(key, str(exc))

    def _free_mapping(self, constraint: FreeMapping, node: yaml.Node, key: str) -> Mapping[str, Any]:
        """A mapping handed on as written (``null`` counts as empty), read-only."""
        entries = self._mapping(node, key, constraint.expected())
        values = {}
        for name, (key_node, value_node) in entries.items():
            self.lines[_join(key, name)] = _line(key_node)
            if not name.isidentifier():
                self.fail(_join(key, name), f"{name!r} is not a Python argument name")
            values[name] = self._plain_value(value_node, _join(key, name))
        return MappingProxyType(values)

    def _plain_value(self, node: yaml.Node, key: str) -> Any:
        """A YAML value as plain Python data (lists stay lists, mappings dicts)."""
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, key)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            return [self._plain_value(item, f"{key}[{i}]") for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return {name: self._plain_value(v, _join(key, name))
                    for name, (_, v) in self._entries(node, key).items()}
        self.fail(key, f"expected a plain value, got {self._kind(node, key)}")

    def _scalar(self, node: yaml.ScalarNode, key: str) -> Any:
        if node.tag == _STR and node.style is None and _YAML12_FLOAT.fullmatch(node.value):
            return float(node.value)
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
            # PyYAML's constructors raise KeyError, AttributeError and the like for a tag whose value
            # does not fit it (`!!bool 1`, `!!timestamp 1`).
            reason = getattr(exc, "problem", None) or f"not a valid {node.tag.rpartition(':')[2]}"
            self.fail(key, f"cannot read the value {show(node.value)}: {reason}")

    def _list(self, constraint: ListOf, node: yaml.Node, key: str) -> tuple[Any, ...]:
        if _is_null(node):
            items: list[yaml.Node] = []
        elif isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            items = node.value
        else:
            self.fail(key, f"expected {constraint.expected()}, got {self._kind(node, key)}")
        values = []
        broken = False
        for i, item in enumerate(items):
            self.lines[f"{key}[{i}]"] = _line(item)
            ok, value = self._each(self._value, constraint.item, item, f"{key}[{i}]")
            values.append(value)
            broken = broken or not ok
        if broken:
            raise _Broken
        if len(values) < constraint.min_length:
            self.fail(key, f"expected {constraint.expected()}, got {len(values)} items")
        problem = constraint.problem(values)
        if problem is not None:
            self.fail(f"{key}[{problem[0]}]", problem[1])
        return tuple(values)

    def _explainer(self, node: yaml.Node, key: str) -> ExplainerSpec:
        """One ``explainers`` item: ``name`` plus that explainer's settings, defaults filled in."""
        entries = self._mapping(node, key, Explainer().expected())
        for name, (key_node, _) in entries.items():
            self.lines[_join(key, name)] = _line(key_node)
        if "name" not in entries:
            self.fail(key, "missing required key 'name'")
        name = self._value(ExplainerSpec.constraints["name"], entries["name"][1], _join(key, "name"))
        if self.paper:  # the settings a method takes are declared by its class, which imports torch
            return ExplainerSpec(name=name, settings=MappingProxyType({
                setting: self._plain_value(value_node, _join(key, setting))
                for setting, (_, value_node) in entries.items() if setting != "name"}))
        table = explainer_settings()[name]
        settings = {}
        broken = False
        for setting, (_, value_node) in entries.items():
            if setting == "name":
                continue
            if setting not in table:
                takes = f"its settings are {', '.join(table)}" if table else "it takes no settings"
                self.problems.append(self.error(
                    _join(key, setting),
                    f"{name} has no setting {setting!r} ({takes}){suggestion(setting, list(table))}"))
                broken = True
                continue
            ok, settings[setting] = self._each(self._value, table[setting].constraint, value_node,
                                              _join(key, setting))
            broken = broken or not ok
        if broken:
            raise _Broken
        resolved = {
            s: settings[s] if s in settings else self.profile.get(f"explainers.{name}.{s}", spec.default)
            for s, spec in table.items()
        }
        return ExplainerSpec(name=name, settings=MappingProxyType(resolved))


def _is_path(constraint: Constraint) -> bool:
    return isinstance(constraint, FilePath) or (
        isinstance(constraint, Nullable) and isinstance(constraint.inner, FilePath)
    )


def _on_paper(constraint: Constraint) -> Constraint:
    """``constraint`` with each :class:`~auditkit.constraints.Deferred` in it (or in its items) replaced
    by its paper form, so that even an error message imports no registry."""
    if isinstance(constraint, Deferred):
        return constraint.paper
    for kind, part in ((Nullable, "inner"), (ListOf, "item"), (AllOrList, "items")):
        if isinstance(constraint, kind):
            inner = getattr(constraint, part)
            paper = _on_paper(inner)
            return constraint if paper == inner else dataclasses.replace(constraint, **{part: paper})
    return constraint


def _within(key: str, section: str) -> bool:
    """Whether ``key`` is ``section`` or a key inside it (``""`` holds every key)."""
    return not section or key == section or key.startswith((f"{section}.", f"{section}["))


def _schema_path(key: str) -> str:
    """``metrics.distance`` for the key ``metrics.distance``; list indices dropped."""
    return re.sub(r"\[[0-9]+\]", "", key)
