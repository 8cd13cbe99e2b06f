"""The report holds aggregates and a few example maps only: no per-image values, predictions or weights."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import torch

MAX_LIST = 50
"""Longest list the context may hold: far below the number of audited images (200)."""


def leaves(value: Any, path: str = "context") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        assert len(value) <= MAX_LIST, f"{path} holds {len(value)} items: a per-image array?"
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def visible_text(html: str) -> str:
    """The HTML without its embedded images."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def test_context_holds_only_formatted_text_and_flags(rendered) -> None:
    for path, value in leaves(rendered.context):
        assert value is None or isinstance(value, (str, bool)), f"{path} is {type(value).__name__}"


def test_html_has_no_long_runs_of_numbers(rendered) -> None:
    text = visible_text(rendered.html)
    assert len(text) < 60_000
    number = r"[−-]?\d+(?:\.\d+)?"
    assert not re.search(rf"(?:{number}[\s,;\[\]]+){{20}}", text)


def test_distances_are_not_printed(rendered) -> None:
    state = torch.load(rendered.out / "work" / "explainer_gradcam.pt", weights_only=True)
    distances = state["record"]["distances"].flatten()[:40].tolist()
    text = visible_text(rendered.html)
    printed = [d for d in distances if f"{d:.6f}" in text]
    assert printed == []


def test_weights_appear_only_as_checkpoint_digests(rendered) -> None:
    text = visible_text(rendered.html)
    for fold in rendered.context["folds"]:
        assert fold["checkpoint"] in text
        state = torch.load(rendered.out / "work" / f"fold_{fold['index']}.pt", weights_only=True)
        weights = next(iter(state["state_dict"].values())).flatten()[:20].tolist()
        assert [w for w in weights if f"{w:.6f}" in text] == []
