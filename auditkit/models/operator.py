"""The operator's own classifier: torchvision architectures, functions named by dotted path, and the
wrapper that puts the declared normalisation inside the audited model.

- :func:`import_callable` imports ``package.module:function`` (from a given folder, then the
  environment) and :func:`source_record` names it with the SHA-256 of its source file, so that
  results and work keys say exactly which code built or trained the models.
- :func:`build_torchvision` builds any torchvision classification architecture with
  ``weights=None`` (nothing is downloaded) and its head sized to the classes.
- :class:`AuditedModel` wraps a network: ``(x - mean) / std`` inside ``forward``, so explanations,
  perturbations and baselines stay defined on [0, 1] pixels; its ``target_layer`` resolves a dotted
  path in the wrapped network, and ``reset_parameters`` re-builds it (the architecture's own
  initialisation, plus the operator's initial weights).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from auditkit.models.checkpoint import state_mismatch
from auditkit.models.errors import ModelError


@contextlib.contextmanager
def _importable_from(folder: Path | None) -> Iterator[None]:
    """``folder`` first on ``sys.path`` for the duration (left as it was when already there)."""
    entry = None if folder is None else str(folder)
    added = entry is not None and entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def import_callable(path: str, *, search: Path | None = None, parameter: str) -> Callable[..., Any]:
    """The function ``path`` (``package.module:function``, the function part may be dotted).

    The module is imported with ``search`` (the policy file's folder) first on ``sys.path``, then
    the environment. Imported once per process (Python caches modules by name).

    Raises:
        ModelError: the module does not import, has no such attribute, or it is not callable; the
            message names ``path``, ``parameter`` is set to the given name.
    """
    module_name, _, attr = path.partition(":")
    try:
        with _importable_from(search):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        where = f" (looked in {search} and the environment)" if search is not None else ""
        raise ModelError(f"cannot import {path!r}: no module named {exc.name!r}{where}",
                         parameter=parameter) from None
    except Exception as exc:  # the operator's module failed while importing
        raise ModelError(f"importing {module_name!r} for {path!r} raised {type(exc).__name__}: {exc}",
                         parameter=parameter) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ModelError(f"{path!r}: {module_name} has no attribute {part!r}{hint}", parameter=parameter)
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"{path!r} is not callable (it is a {type(obj).__name__})", parameter=parameter)
    return obj


def check_signature(fn: Callable[..., Any], path: str, contract: str, parameter: str,
                    *args: Any, **kwargs: Any) -> None:
    """Raise :class:`ModelError` unless ``fn`` can be called with ``args`` and ``kwargs``.

    ``contract`` is the call in words, for the message (``fit(model, images, labels, *, seed, device)``).
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin without a signature: the call itself will tell
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ModelError(f"{path!r} has the signature {fn.__name__}{signature}, which cannot be called "
                         f"as {contract}: {exc}", parameter=parameter) from None


def source_record(fn: Callable[..., Any], path: str) -> dict[str, Any]:
    """Who ``fn`` is: the dotted ``path`` as written, its qualified name, its source file and the
    SHA-256 of that file's bytes (``None`` when it has no source file).

    >>> source_record(source_record, "auditkit.models.operator:source_record")["qualified_name"]
    'auditkit.models.operator.source_record'
    """
    try:
        file = inspect.getsourcefile(fn)
    except TypeError:
        file = None
    sha = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file and Path(file).is_file() else None
    return {"path": path, "qualified_name": f"{fn.__module__}.{fn.__qualname__}",
            "source_file": file, "source_sha256": sha}


def torchvision_models() -> list[str]:
    """Names of torchvision's classification architectures (``list_models(module=torchvision.models)``)."""
    import torchvision

    return list(torchvision.models.list_models(module=torchvision.models))


def build_torchvision(name: str, *, num_classes: int, in_channels: int,
                      kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """torchvision's ``name`` with ``weights=None``, ``num_classes`` logits, for ``in_channels`` inputs.

    When ``in_channels`` is not 3, the first ``nn.Conv2d`` (in module order) is replaced by one with
    the same settings and ``in_channels`` inputs, freshly initialised (:func:`adapt_first_conv`).

    Raises:
        ModelError: unknown name (with the closest names), ``weights`` in ``kwargs``, or torchvision
            refused the arguments (``parameter="torchvision"``).
    """
    import torchvision

    names = torchvision_models()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ModelError(f"{name!r} is not a torchvision classification model{hint}", parameter="torchvision")
    extra = dict(kwargs or {})
    if "weights" in extra:
        raise ModelError("torchvision models are built with weights=None (nothing is downloaded)",
                         parameter="kwargs")
    try:
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **extra)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"torchvision refused to build {name!r}: {exc}", parameter="torchvision") from None
    if in_channels != 3:
        adapt_first_conv(model, in_channels)
    return model


def adapt_first_conv(model: nn.Module, in_channels: int) -> str:
    """Replace the first ``nn.Conv2d`` of ``model`` by one taking ``in_channels``; return its name.

    Raises:
        ModelError: no ``nn.Conv2d``, or the first one is grouped (its input width cannot change).
    """
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels == in_channels:
                return name
            if module.groups != 1:
                raise ModelError(f"the first convolution {name} is grouped ({module.groups} groups): "
                                 f"it cannot take {in_channels} channels", parameter="torchvision")
            new = nn.Conv2d(in_channels, module.out_channels, module.kernel_size, module.stride,
                            module.padding, module.dilation, 1, module.bias is not None,
                            module.padding_mode)
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf, new)
            return name
    raise ModelError(f"{type(model).__name__} has no nn.Conv2d to adapt to {in_channels} channels",
                     parameter="torchvision")


def resolve_layer(model: nn.Module, path: str) -> nn.Module:
    """The submodule ``path`` (``layer4.1.conv2``) of ``model``.

    Raises:
        ModelError: no such submodule; the message suggests the closest names
            (``parameter="target_layer"``).
    """
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        close = difflib.get_close_matches(path, names, n=3, cutoff=0.5)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise ModelError(f"{type(model).__name__} has no layer {path!r}{hint}",
                         parameter="target_layer") from None


def read_state_dict(path: Path, what: str, parameter: str) -> dict[str, Any]:
    """The state dict at ``path`` (``torch.load(weights_only=True)``; a plain state dict or a dict with
    a ``state_dict`` entry); ``what`` names the file in messages (``"initial weights"``).

    Raises:
        ModelError: a missing or unreadable file, or one that holds no state dict (``parameter``).
    """
    if not Path(path).is_file():
        raise ModelError(f"{what} {path} does not exist (or is not a file)", parameter=parameter)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/zip/pickle raise many types on a damaged or unsafe file
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelError(f"{what} {path} is not a readable state dict (weights_only=True): "
                         f"{type(exc).__name__}: {first}", parameter=parameter) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{what} {path} holds a {type(state).__name__}, not a state dict",
                         parameter=parameter)
    return state


def load_init_weights(path: Path, model: nn.Module) -> None:
    """Load the state dict at ``path`` (:func:`read_state_dict`) into ``model``, strictly.

    Raises:
        ModelError: missing or unreadable file, or it does not fit ``model``'s names and shapes
            (``parameter="init_weights"``).
    """
    state = read_state_dict(path, "the initial-weights file", "init_weights")
    details = state_mismatch(state, model)
    if details:
        raise ModelError(f"initial weights {path} do not fit the {type(model).__name__} built for this "
                         f"dataset ({details})", parameter="init_weights")
    model.load_state_dict(state, strict=True)


class AuditedModel(nn.Module):
    """The model as audited: ``net`` behind the declared normalisation, with its Grad-CAM layer.

    ``forward(x) = net((x - mean) / std)`` for images ``x: [N, C, H, W]`` in [0, 1] (no
    normalisation when ``mean`` is ``None``); ``mean`` and ``std`` are buffers ``[1, C, 1, 1]``, so
    checkpoints carry them. Every explainer differentiates through the normalisation: the maps are
    of the [0, 1] pixels.

    Args:
        net: the network (``state_dict`` keys appear under ``net.``).
        build: makes a fresh ``net`` from the global RNG (the architecture's own initialisation, then
            any initial weights); :meth:`reset_parameters` copies its weights into ``net``. ``None``:
            ``net.reset_parameters()`` (auditkit's families), else each layer's own.
        layer: dotted path of Grad-CAM's layer in ``net``; ``None``: ``net.target_layer``.
        mean, std: per-channel normalisation, or ``None``.
        token_grid, prefix_tokens: the patch grid ``(h, w)`` of a transformer's tokens and the count of
            tokens before it, as the policy declares them (read by Grad-CAM through these attributes,
            :func:`~auditkit.explainers.tokens.token_layout`); ``None``: not declared.

    >>> m = AuditedModel(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), layer="0",
    ...                  mean=[0.5] * 3, std=[0.25] * 3)
    >>> m.target_layer is m.net[0], float(m.normalise(torch.ones(1, 3, 1, 1)).max())
    (True, 2.0)
    """

    def __init__(self, net: nn.Module, *, build: Callable[[], nn.Module] | None = None,
                 layer: str | None = None, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, token_grid: tuple[int, int] | None = None,
                 prefix_tokens: int | None = None) -> None:
        super().__init__()
        self.net = net
        self._build = build
        self.layer_name = layer
        self.token_grid = token_grid
        self.prefix_tokens = prefix_tokens
        shape = (1, -1, 1, 1)
        self.register_buffer("mean", None if mean is None else torch.tensor(mean).view(shape))
        self.register_buffer("std", None if std is None else torch.tensor(std).view(shape))
        for name in ("loss_temperature", "training_schedule", "training_shift"):  # read by train_model
            if hasattr(net, name):
                setattr(self, name, getattr(net, name))

    @property
    def target_layer(self) -> nn.Module | None:
        """The submodule of ``net`` whose output (``[N, K, h, w]``, or tokens on a grid) Grad-CAM uses."""
        if self.layer_name is not None:
            return resolve_layer(self.net, self.layer_name)
        return getattr(self.net, "target_layer", None)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std``, or ``x`` without normalisation."""
        if self.mean is None:
            return x
        return (x - self.mean) / self.std

    def reset_parameters(self) -> None:
        """Re-draw the weights of ``net`` from the global RNG (see ``build``)."""
        if self._build is not None:
            self.net.load_state_dict(self._build().state_dict())
            return
        reset = getattr(self.net, "reset_parameters", None)
        if callable(reset):
            reset()
            return
        for module in self.net.modules():
            if callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, classes]`` of images ``x: [N, C, H, W]`` in [0, 1]."""
        return self.net(self.normalise(x))


def load_deployed(path: Path, model: nn.Module) -> None:
    """Load the state dict at ``path`` (``torch.load(weights_only=True)``; a plain state dict or one
    under ``state_dict``) into ``model`` strictly: the network's keys, or the wrapper's (``net.``).

    Raises:
        ModelError: missing or unreadable file, or it does not fit ``model`` (``parameter="checkpoint"``).
    """
    state = read_state_dict(path, "the deployed checkpoint", "checkpoint")
    wrapped = isinstance(model, AuditedModel) and any(str(k).startswith("net.") for k in state)
    target = model.net if isinstance(model, AuditedModel) and not wrapped else model
    details = state_mismatch(state, target)
    if details:
        name = type(target.net if isinstance(target, AuditedModel) else target).__name__
        raise ModelError(f"the deployed checkpoint {path} does not fit the {name} the policy's model "
                         f"builds for this dataset ({details})", parameter="checkpoint")
    target.load_state_dict(state, strict=True)
