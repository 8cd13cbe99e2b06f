"""Sphinx directives that write auditkit's reference tables from the code that holds their facts.

- ``.. auditkit-policy-reference::`` walks :class:`auditkit.policy.schema.Policy`: every key with its
  default (the profile's where ``PROFILES`` disputes it), what it accepts (its constraint's own
  ``expected()`` text, the words the loader's errors use) and its field docstring.
- ``.. auditkit-explainer-settings::`` lists :data:`auditkit.explainers.EXPLAINERS`: each class's
  facts, declared ``settings``, their defaults (``__init__``'s) and their ``Args:`` entries.
- ``.. auditkit-profiles::`` is :data:`auditkit.policy.schema.PROFILES` as a table.
- ``.. auditkit-metric-catalog::`` is :data:`auditkit.catalog.METRICS` as a table.

A field or setting without a docstring is a warning, so ``sphinx-build -W`` fails until it has one.
The directives emit reST and parse it in place, so docstrings keep their roles and literals.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

SCHEMA = "auditkit.policy.schema"
HEADINGS = "-~^\""
"""Adornments of generated headings by depth, below the page's own ``=`` title."""
MODULE_DOCS = {"TransformationSpec": "TRANSFORMATIONS"}
"""Sections whose keys a module-level table of schema.py sizes: its docstring goes with them."""
SKIPPED = {"source", "sha256", "lines", "objects"}
"""Policy fields set by the loader, not written in a policy."""


def escape(text: str) -> str:
    """``text`` as literal reST prose (a constraint's words may hold ``*``, ``|``, ``_``)."""
    return re.sub(r"([\\`*|_])", r"\\\1", text)


def escape_bars(text: str) -> str:
    """``text`` with the bars of ``|x|`` (an absolute value, a set's size) escaped outside literals
    and roles, so that reST does not read them as substitution references. Docstrings write maths
    in plain text; this applies to every docstring autodoc shows and to every generated entry."""
    parts = re.split(r"(``.*?``|:[\w:]+:`[^`]*`|`[^`]*`)", text)
    return "".join(p if i % 2 else re.sub(r"(?<!\\)\|", r"\\|", p) for i, p in enumerate(parts))


def _docstring_bars(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = [escape_bars(line) for line in lines]


def yaml(value: Any) -> str:
    """``value`` as a policy writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(yaml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {yaml(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value):  # a list item such as an invariance transformation
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return yaml({k: v for k, v in fields.items() if v is not None})
    return str(value)


def literal(text: str) -> str:
    return "``" + text + "``" if text else "``''``"


def profile_default(path: str) -> str | None:
    """The defaults of the field at ``path`` per profile, where ``PROFILES`` disputes it."""
    from auditkit.policy.schema import PROFILES

    if path not in PROFILES["paper"]:
        return None
    return "; ".join(f"{literal(yaml(values[path]))} (profile ``{name}``)"
                     for name, values in PROFILES.items())


class _Generated(SphinxDirective):
    """A directive whose content is reST lines made by :meth:`lines`, parsed with titles."""

    has_content = False

    def lines(self) -> Iterator[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        text = StringList()
        source = self.get_source_info()[0]
        for i, line in enumerate(self.lines()):
            text.append(line, source, i)
        node = nodes.container()
        nested_parse_with_titles(self.state, text, node)
        return node.children

    def missing(self, what: str) -> None:
        logger.warning("auditkit reference: %s has no docstring", what, location=self.get_location())


def _attr_docs(module: str) -> Mapping[tuple[str, str], list[str]]:
    return ModuleAnalyzer.for_module(module).find_attr_docs()


def _block(lines: list[str], indent: str = "   ") -> Iterator[str]:
    """Docstring ``lines`` indented under a generated entry."""
    for line in lines:
        yield (indent + escape_bars(line)) if line.strip() else ""


def _own_args(cls: type) -> dict[str, list[str]]:
    """The ``Args:`` entries of ``cls``'s own docstring: name -> its lines (first line after the colon)."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "").splitlines()
    entries: dict[str, list[str]] = {}
    try:
        start = doc.index("Args:") + 1
    except ValueError:
        return entries
    name = None
    for line in doc[start:]:
        if line.strip() and not line.startswith(" "):
            break
        m = re.match(r"    (\w+): ?(.*)", line)
        if m:
            name = m.group(1)
            entries[name] = [m.group(2)]
        elif name is not None:
            entries[name].append(line.strip())
    return entries


def _args(cls: type) -> dict[str, list[str]]:
    """The ``Args:`` entries of ``cls`` and of its parents (its method resolution order): a setting
    documented where it is declared, once for a family (KernelSHAP and LIME take theirs from
    ``SurrogateExplainer``), and a class's own entry before a parent's."""
    entries: dict[str, list[str]] = {}
    for klass in reversed(cls.__mro__):
        entries.update(_own_args(klass))
    return entries


class PolicyReference(_Generated):
    """Every key of a policy, section by section."""

    def lines(self) -> Iterator[str]:
        from auditkit.constraints import Explainer, ListOf, Section
        from auditkit.policy.schema import Policy

        self.docs = _attr_docs(SCHEMA)
        self.Section, self.ListOf, self.Explainer = Section, ListOf, Explainer
        yield f".. py:currentmodule:: {SCHEMA}"
        yield ""
        yield ".. _policy-top-level:"
        yield ""
        yield "Top level"
        yield HEADINGS[0] * 9
        yield ""
        yield from self.section(Policy, "", 0)

    def section(self, cls: type, prefix: str, depth: int) -> Iterator[str]:
        """The keys of ``cls`` (at ``prefix``), then each nested section under its own heading."""
        nested = []
        if depth:
            title = prefix.rstrip(".")
            yield f".. _policy-{title.replace('[]', '')}:"
            yield ""
            yield literal(title)
            yield HEADINGS[depth - 1] * (len(title) + 4)
            yield ""
            yield f"Read into :class:`{cls.__name__}`."
            yield ""
            yield from _block(inspect.cleandoc(cls.__doc__ or "").splitlines(), "")
            yield ""
            if cls.__name__ in MODULE_DOCS:
                yield from _block(list(self.docs[("", MODULE_DOCS[cls.__name__])]), "")
                yield ""
        for field in dataclasses.fields(cls):
            if field.name in SKIPPED or field.name not in cls.constraints:
                continue
            constraint = cls.constraints[field.name]
            key = prefix + field.name
            if isinstance(constraint, self.Section):
                nested.append((constraint.cls, key + ".", field))
                continue
            if isinstance(constraint, self.ListOf) and isinstance(constraint.item, self.Section):
                nested.append((constraint.item.cls, key + "[].", field))
            yield from self.key(cls, field, key, constraint, label=not nested or nested[-1][2] is not field)
        for sub, sub_prefix, field in nested:
            doc = self.docs.get((cls.__name__, field.name))
            yield from self.section(sub, sub_prefix, depth + 1)
            if doc is None:
                self.missing(f"{cls.__name__}.{field.name}")

    def key(self, cls: type, field: dataclasses.Field, key: str, constraint: Any,
            label: bool = True) -> Iterator[str]:
        doc = self.docs.get((cls.__name__, field.name))
        if doc is None:
            self.missing(f"{cls.__name__}.{field.name}")
            doc = []
        if label:  # a list of sections is labelled at its section's heading
            yield f".. _policy-{key.replace('[]', '')}:"
            yield ""
        yield literal(key)
        yield f"   :default: {self.default(field, key, cls)}"
        yield f"   :allowed: {escape(constraint.expected())}"
        if isinstance(constraint, self.ListOf) and isinstance(constraint.item, self.Explainer):
            yield "   :settings: see :ref:`explainer-settings`"
        yield ""
        yield from _block(list(doc))
        if field.name in getattr(cls, "aliases", {}).values():
            old = [a for a, k in cls.aliases.items() if k == field.name]
            yield (f"   Also read under its former name {', '.join(map(literal, old))}; "
                   "writing both is an error.")
            yield ""

    def default(self, field: dataclasses.Field, key: str, cls: type | None = None) -> str:
        disputed = profile_default(key)
        if disputed:
            return disputed
        by, choices = getattr(cls, "defaults_by", (None, {}))
        if by is not None and field.name in next(iter(choices.values()), {}):  # set by another key
            return "; ".join(f"{literal(yaml(values[field.name]))} (``{by}: {choice}``)"
                             for choice, values in choices.items())
        if field.default is not dataclasses.MISSING:
            return literal(yaml(field.default))
        if field.default_factory is not dataclasses.MISSING:
            return literal(yaml(field.default_factory()))
        return "required"


COST_IMAGE = (32, 32)
"""The image size the settings' table states each method's cost at (occlusion's depends on it)."""


def cost_line(cls: type) -> str:
    """A method's model evaluations per map at its defaults, from its ``evaluations_per_image`` (what
    ``auditkit plan`` counts)."""
    from auditkit.explainers.registry import explainer_settings

    e = cls.evaluations_per_image(explainer_settings(cls), COST_IMAGE)
    parts = [f"{n:,} {what}{'es' if n > 1 else ''}{tail}" for n, what, tail in (
        (e.forward, "forward pass", ""), (e.grad, "forward and backward pass", " to the input")) if n]
    if not parts:
        return "Cost: no model evaluation."
    grows = f", growing with {', '.join(literal(d.strip()) for d in e.driver.split(','))}" if e.driver else ""
    return (f"Cost per map at the defaults, on a {COST_IMAGE[0]} x {COST_IMAGE[1]} image: "
            f"{' and '.join(parts)}{grows}, as ``auditkit plan`` counts it.")


class ExplainerSettings(_Generated):
    """Each registered explainer: its facts and its settings."""

    def lines(self) -> Iterator[str]:
        from auditkit.explainers import EXPLAINERS
        from auditkit.explainers.registry import declared_settings

        for name, cls in EXPLAINERS.items():
            facts = [word for flag, word in ((cls.control, "a control"),
                                             (cls.needs_layer, "needs a convolutional layer"),
                                             (cls.seeded, "seeded"),
                                             (not cls.pixel_wise, "one map per image ``[N, 1, H, W]``"),
                                             (cls.completeness_baseline is not None,
                                              f"claims completeness (x0 = {cls.completeness_baseline})"))
                     if flag]
            yield f".. _explainer-{name}:"
            yield ""
            yield literal(name)
            yield HEADINGS[0] * (len(name) + 4)
            yield ""
            yield (f"{escape(cls.label)}: :class:`{cls.__module__}.{cls.__qualname__}`"
                   + (f"; {', '.join(facts)}." if facts else "."))
            yield ""
            yield cost_line(cls)
            yield ""
            settings = declared_settings(cls)
            if not settings:
                yield "No settings."
                yield ""
            args = _args(cls)
            for setting, declared in settings.items():
                path = f"explainers.{name}.{setting}"
                default = profile_default(path) or literal(yaml(declared.default))
                yield literal(setting)
                yield f"   :default: {default}"
                yield f"   :allowed: {escape(declared.constraint.expected())}"
                yield ""
                if setting not in args:
                    self.missing(f"{cls.__qualname__} setting {setting!r} (its Args: entry)")
                yield from _block(args.get(setting, []))
                yield ""


class Profiles(_Generated):
    """``PROFILES``: the disputed defaults, one row per field, one column per profile."""

    def lines(self) -> Iterator[str]:
        from auditkit.policy.schema import PROFILES

        yield ".. list-table::"
        yield "   :header-rows: 1"
        yield ""
        yield "   * - field"
        for profile in PROFILES:
            yield f"     - ``{profile}``"
        for key in PROFILES["paper"]:
            section, _, rest = key.partition(".")
            anchor = f"policy-{key}" if section != "explainers" else f"explainer-{rest.partition('.')[0]}"
            yield f"   * - :ref:`{key} <{anchor}>`"
            for values in PROFILES.values():
                yield f"     - {literal(yaml(values[key]))}"
        yield ""


class MetricCatalog(_Generated):
    """``METRICS``: every score auditkit reports and its facts."""

    def lines(self) -> Iterator[str]:
        from auditkit.catalog import METRICS

        yield ".. list-table::"
        yield "   :header-rows: 1"
        yield ""
        for head in ("name", "label", "better", "range", "scope", "admissible when"):
            yield ("   * - " if head == "name" else "     - ") + head
        for m in METRICS.values():
            scope = m.scope + (f" (``properties.{m.section}``)" if m.section else "")
            gate = (f"``{m.gate}`` passed its sanity checks" if m.gate else "always (not gated)")
            yield f"   * - ``{m.name}``"
            yield f"     - {escape(m.label)}"
            yield f"     - {'higher' if m.higher_is_better else 'lower'}"
            yield f"     - [{yaml(m.range[0])}, {yaml(m.range[1])}]"
            yield f"     - {scope}"
            yield f"     - {gate}"
        yield ""


class ExplainerClasses(_Generated):
    """``autoclass`` of each registered explainer, in the registry's order (no hand list to forget)."""

    def lines(self) -> Iterator[str]:
        from auditkit.explainers import EXPLAINERS

        for cls in EXPLAINERS.values():
            yield f".. autoclass:: {cls.__module__}.{cls.__qualname__}"
            yield ""


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _docstring_bars)
    app.add_directive("auditkit-policy-reference", PolicyReference)
    app.add_directive("auditkit-explainer-settings", ExplainerSettings)
    app.add_directive("auditkit-profiles", Profiles)
    app.add_directive("auditkit-metric-catalog", MetricCatalog)
    app.add_directive("auditkit-explainer-classes", ExplainerClasses)
    return {"version": "1", "parallel_read_safe": True}
