"""Checks of what a policy points at, before anything is trained: ``auditkit validate`` and the
first thing ``auditkit run`` does.

Beyond the policy file itself (:func:`~auditkit.policy.load_policy`), :func:`check_setup` reads the
dataset's shape without loading its pixels (class folders and image headers; a folder of mixed
sizes without ``preprocessing.resize`` is named with its sizes), checks ``normalize`` against the
channels, and, when the policy names any of the operator's own pieces (torchvision architecture,
factory, initial weights, Grad-CAM layer, token grid, normalisation, training function) or an
explainer needs Grad-CAM's layer, imports them, checks their signatures, builds the model once and
runs a dummy batch through it: the logits must be ``[2, classes]`` and Grad-CAM's layer must give a
``[N, C, h, w]`` activation, or a transformer's tokens that its patch grid reads as one
(:mod:`auditkit.explainers.tokens`); the layer chosen, and why, is returned for ``validate`` to show.
Every problem is a :class:`~auditkit.errors.PolicyError` at the line of the key responsible, so the
CLI prints one line and exits 2.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from auditkit.data import ImageDataset, Resize, dataset_shape
from auditkit.data.load import IN_MEMORY
from auditkit.engine.crosstrain import build_audited_model, operator_callable, operator_code
from auditkit.engine.degrade import weight_tensors
from auditkit.errors import DataError, ExplainerError, PolicyError
from auditkit.explainers.registry import EXPLAINERS
from auditkit.explainers.tokens import feature_map, token_layout
from auditkit.models import AuditedModel, LayerChoice, ModelError, check_signature, choose_layer
from auditkit.models.operator import load_deployed
from auditkit.policy import Policy, check_paths
from auditkit.policy.schema import LAYER_KINDS
from auditkit.results import Model, Training

__all__ = ["GradCamLayer", "Setup", "check_setup", "declared_resize", "describe_model", "describe_training"]


@dataclass(frozen=True)
class GradCamLayer:
    """Grad-CAM's layer as validated: its dotted ``name``, why it was chosen, the feature map
    ``[C, h, w]`` one image gives there, and how it was read (``None``: a feature map as it is)."""

    name: str
    reason: str
    map_shape: tuple[int, int, int]
    tokens: str | None = None

    def line(self) -> str:
        """One line: ``Grad-CAM layer: layer4.1.conv2 (the last nn.Conv2d), a 512 x 4 x 4 map``, and
        ``; tokens: 1 prefix token + a 4 x 4 grid (VisionTransformer)`` where it reads tokens."""
        c, h, w = self.map_shape
        read = "" if self.tokens is None else f"; tokens: {self.tokens}"
        return f"Grad-CAM layer: {self.name} ({self.reason}), a {c} x {h} x {w} map{read}"


@dataclass(frozen=True)
class Setup:
    """What :func:`check_setup` found: the images the model will see, and Grad-CAM's layer where an
    explainer uses one (``None`` otherwise)."""

    in_channels: int
    num_classes: int
    image_size: tuple[int, int]
    layer: GradCamLayer | None = None


def declared_resize(policy: Policy) -> Resize:
    """The policy's ``preprocessing`` resize, crop and channels, as :func:`~auditkit.data.load_dataset`
    takes them."""
    p = policy.preprocessing
    return Resize(size=None if p.resize is None else (p.resize[0], p.resize[1]),
                  crop=None if p.center_crop is None else (p.center_crop[0], p.center_crop[1]),
                  interpolation=p.interpolation, channels=p.channels)


def _fail(policy: Policy, key: str, message: str) -> PolicyError:
    """A PolicyError at the line of ``key``, or of its nearest enclosing key that was written."""
    message = " ".join(line.strip() for line in message.splitlines() if line.strip())  # one line
    probe = key
    while probe and probe not in policy.lines:
        probe = probe.rpartition(".")[0]
    return PolicyError(message, file=policy.origin, line=policy.lines.get(probe or "", None), key=key)


def _model_key(policy: Policy, parameter: str) -> str:
    """The policy key a :class:`ModelError`'s ``parameter`` stands for."""
    if parameter == "function":
        return "training.function"
    if parameter in ("factory", "torchvision", "init_weights", "target_layer", "kwargs"):
        return f"model.{parameter}"
    return f"model.{policy.model.source if policy.model.source != 'family' else 'family'}"


def _builder_key(policy: Policy) -> str:
    m = policy.model
    return {"torchvision": "model.torchvision", "factory": "model.factory"}.get(m.source, "model.family")


def _needs_layer(policy: Policy) -> bool:
    return any(getattr(EXPLAINERS[e.name], "needs_layer", False) for e in policy.explainers)


def _operator_parts(policy: Policy) -> bool:
    m = policy.model
    return (m.source != "family" or m.init_weights is not None or m.target_layer is not None
            or m.token_grid is not None
            or policy.preprocessing.normalize.mean is not None or policy.training.function is not None)


def check_setup(policy: Policy, data: ImageDataset | None = None) -> Setup:
    """Check the dataset folder, its image sizes, the normalisation, the operator's model and
    training function and the deployed checkpoint as far as can be done without training; return
    the model's input shape. ``data``: the images of a ``python`` dataset (already resized).

    Raises:
        PolicyError: the first problem, at the line of its key (``dataset.path``,
            ``preprocessing.normalize.mean``, ``model.factory``, ``model.target_layer``,
            ``training.function``, ...).
    """
    check_paths(policy)
    setup = _data_shape(policy, data)
    d = policy.dataset
    norm = policy.preprocessing.normalize
    if norm.mean is not None and len(norm.mean) != setup.in_channels:
        raise _fail(policy, "preprocessing.normalize.mean",
                    f"{len(norm.mean)} means for {setup.in_channels}-channel images ({d.kind}): "
                    "give one mean and one std per channel"
                    + (", or preprocessing.channels: rgb to read the grey images as RGB"
                       if setup.in_channels == 1 and len(norm.mean) == 3 else ""))
    _check_explainers(policy, setup)
    if _operator_parts(policy) or _needs_layer(policy):
        setup = dataclasses.replace(setup, layer=_check_model(policy, setup))
    if policy.training.function is not None:
        _check_function(policy, setup)
    if policy.deployed.checkpoint is not None:
        _check_deployed(policy, setup)
    _check_randomised_layers(policy, setup)
    return setup


def _check_explainers(policy: Policy, setup: Setup) -> None:
    """An explainer setting that images of this size cannot take (an occlusion window larger than
    the image, more superpixels than pixels): the method's own ``size_problems``."""
    for i, spec in enumerate(policy.explainers):
        for setting, problem in EXPLAINERS[spec.name].size_problems(spec.settings, setup.image_size):
            raise _fail(policy, f"explainers[{i}].{setting}", f"{spec.name}: {setting} {problem}")


def _check_randomised_layers(policy: Policy, setup: Setup) -> None:
    """``sanity_checks.weight_randomisation.layers`` must name some weight of the model."""
    spec = policy.sanity_checks.weight_randomisation
    if not spec.enabled:
        return
    key = "sanity_checks.weight_randomisation.layers"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            model = build_audited_model(policy, in_channels=setup.in_channels,
                                        num_classes=setup.num_classes, image_size=setup.image_size)
        except ModelError as exc:
            raise _fail(policy, _model_key(policy, exc.parameter), str(exc)) from None
    if not weight_tensors(model, spec.layers):
        named = spec.layers if isinstance(spec.layers, str) else ", ".join(spec.layers)
        raise _fail(policy, key, f"the model has no weight of the layers named ({named}) for weight "
                    f"randomisation to degrade: name others ({', '.join(LAYER_KINDS)}) or all")


def _data_shape(policy: Policy, data: ImageDataset | None) -> Setup:
    """The shape the model will see: of ``data``, or read from the dataset's files (headers only)."""
    d = policy.dataset
    if (d.kind == IN_MEMORY) != (data is not None):
        raise _fail(policy, "dataset.kind", "kind 'python' is the images passed to auditkit.audit(data=...)"
                    if data is None else f"data was passed to auditkit.audit, so the policy's dataset "
                    f"must say kind: python (it says {d.kind!r})")
    if data is not None:
        return Setup(data.in_channels, data.num_classes, data.image_size)
    try:
        channels, classes, size = dataset_shape(d.kind, d.path, declared_resize(policy))
    except DataError as exc:  # MixedSizesError included: the sizes, counts and a few file names
        raise _fail(policy, "dataset.path", str(exc)) from None
    return Setup(channels, classes, size)


def _check_deployed(policy: Policy, setup: Setup) -> None:
    """The deployed checkpoint fits the architecture; its test folder has the dataset's classes."""
    try:
        with torch.random.fork_rng(devices=[]):
            model = build_audited_model(policy, in_channels=setup.in_channels,
                                        num_classes=setup.num_classes, image_size=setup.image_size)
        load_deployed(policy.deployed.checkpoint, model)
    except ModelError as exc:
        raise _fail(policy, "deployed.checkpoint", str(exc)) from None
    dep = policy.deployed
    if dep.test_path is None:
        return
    try:
        channels, classes, size = dataset_shape(policy.dataset.kind, dep.test_path, declared_resize(policy))
    except DataError as exc:
        raise _fail(policy, "deployed.test_path", str(exc)) from None
    if (channels, classes, size) != (setup.in_channels, setup.num_classes, setup.image_size):
        raise _fail(policy, "deployed.test_path",
                    f"the test images are {classes} classes of {channels} x {size[0]} x {size[1]}, the "
                    f"audited ones {setup.num_classes} of {setup.in_channels} x {setup.image_size[0]} x "
                    f"{setup.image_size[1]}: the deployed model is tested on images of the audited kind")


def _check_model(policy: Policy, setup: Setup) -> GradCamLayer | None:
    """Build the model once, run a dummy batch; return Grad-CAM's layer where one is used."""
    m = policy.model
    if m.factory is not None:
        try:
            factory = operator_callable(policy, "factory")
            check_signature(factory, m.factory, "factory(num_classes=, in_channels=, image_size=, **kwargs)",
                            "factory", num_classes=setup.num_classes, in_channels=setup.in_channels,
                            image_size=setup.image_size, **dict(m.kwargs))
        except ModelError as exc:
            raise _fail(policy, _model_key(policy, exc.parameter), str(exc)) from None
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = build_audited_model(policy, in_channels=setup.in_channels,
                                        num_classes=setup.num_classes, image_size=setup.image_size)
    except ModelError as exc:
        raise _fail(policy, _model_key(policy, exc.parameter), str(exc)) from None
    choice, layer = _layer(policy, model)
    seen: list[Any] = []
    handle = None if layer is None else layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        _check_logits(policy, model, setup)
    finally:
        if handle is not None:
            handle.remove()
    return None if layer is None else _check_layer_output(policy, model, layer, choice, seen)


def _layer_key(policy: Policy) -> str:
    return "model.target_layer" if policy.model.target_layer is not None else _builder_key(policy)


def _layer(policy: Policy, model: nn.Module) -> tuple[LayerChoice, nn.Module | None]:
    """Grad-CAM's layer as chosen (:func:`~auditkit.models.choose_layer`) and the module, ``None``
    where no explainer needs one and the policy names none."""
    m = policy.model
    net = model.net if isinstance(model, AuditedModel) else model
    choice = choose_layer(net, m.target_layer, token_grid=m.token_grid is not None)
    if m.target_layer is None and not _needs_layer(policy):
        return choice, None
    try:
        layer = model.target_layer if hasattr(model, "target_layer") else None
    except ModelError as exc:
        raise _fail(policy, "model.target_layer", str(exc)) from None
    if layer is None:
        raise _fail(policy, _layer_key(policy), f"Grad-CAM needs a layer and {choice.reason}: name one "
                    "with model.target_layer")
    return choice, layer


def _check_logits(policy: Policy, model: nn.Module, setup: Setup) -> None:
    """The model runs on a batch of two images of the dataset's shape and gives ``[2, classes]``."""
    builder = _builder_key(policy)
    x = torch.rand(2, setup.in_channels, *setup.image_size, generator=torch.Generator().manual_seed(0))
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x)
    except Exception as exc:  # the operator's network failed on a batch of the dataset's shape
        shape = list(x.shape)
        raise _fail(policy, builder, f"the model fails on a batch of the dataset's shape {shape}: "
                    f"{type(exc).__name__}: {exc}") from None
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (2, setup.num_classes):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise _fail(policy, builder, f"the model must give logits [N, {setup.num_classes}] (one per class of "
                    f"the dataset) for images {[2, setup.in_channels, *setup.image_size]}, got {got}")


def _check_layer_output(policy: Policy, model: nn.Module, layer: nn.Module, choice: LayerChoice,
                        seen: list[Any]) -> GradCamLayer:
    """The layer ran and gives a feature map, or tokens its grid reads as one."""
    key, name = _layer_key(policy), choice.name or "target_layer"
    if not seen:
        raise _fail(policy, key, f"Grad-CAM's layer {name!r} never runs in the model's forward pass")
    out = seen[-1]
    try:
        layout = token_layout(model, layer)
    except ExplainerError as exc:  # the operator's model declares a grid that is not one
        raise _fail(policy, _builder_key(policy), str(exc)) from None
    try:
        fmap = feature_map(out, layout, f"Grad-CAM's layer {name!r}")
    except ExplainerError as exc:
        tokens = isinstance(out, torch.Tensor) and out.dim() == 3
        raise _fail(policy, "model.token_grid" if tokens and policy.model.token_grid else key,
                    str(exc)) from None
    read = None if layout is None or fmap is out else layout.describe()
    return GradCamLayer(name, choice.reason, (fmap.shape[1], fmap.shape[2], fmap.shape[3]), read)


def _check_function(policy: Policy, setup: Setup) -> None:
    t = policy.training
    try:
        fit = operator_callable(policy, "function")
        dummy = torch.empty(0)
        check_signature(fit, t.function, "fit(model, images, labels, seed=, device=, **kwargs)", "function",
                        nn.Identity(), dummy, dummy, seed=0, device=torch.device("cpu"), **dict(t.kwargs))
    except ModelError as exc:
        raise _fail(policy, "training.function", str(exc)) from None


def describe_model(policy: Policy, model: nn.Module) -> Model:
    """results.json's ``model``: what built the audited model, named for what it is.

    ``architecture`` is the torchvision name, the factory's dotted path or the family;
    ``description`` one line for the report; the factory's source digest and the initial weights'
    digest when they exist; Grad-CAM's layer; the normalisation inside the model.
    """
    m = policy.model
    code = operator_code(policy)
    net = model.net if isinstance(model, AuditedModel) else model
    architecture = {"torchvision": m.torchvision, "factory": m.factory}.get(m.source, m.family)
    n_params = sum(p.numel() for p in model.parameters())
    kind = {"torchvision": "torchvision", "factory": "factory"}.get(m.source, "auditkit family")
    description = f"{kind} {architecture} ({type(net).__name__}, {n_params:,} parameters"
    if m.source == "torchvision":
        description += ", weights=None"
    if m.init_weights is not None:
        description += f", initial weights {m.init_weights.name}"
    norm = policy.preprocessing.normalize
    if norm.mean is not None:
        description += ", normalisation inside"
    description += ")"
    layer = model.layer_name if isinstance(model, AuditedModel) else None
    return Model(
        source=m.source, architecture=architecture, cls=f"{type(net).__module__}.{type(net).__qualname__}",
        description=description, parameters=n_params, kwargs=dict(m.kwargs), factory=code.get("factory"),
        init_weights=code.get("init_weights"),
        target_layer=layer if layer is not None else ("family default" if m.source == "family" else None),
        normalize=None if norm.mean is None else {"mean": list(norm.mean), "std": list(norm.std)})


def describe_training(policy: Policy) -> Training:
    """results.json's ``training``: auditkit's loop or the operator's function with its source digest."""
    t = policy.training
    if t.function is None:
        return Training("auditkit", None, t.seed)
    return Training("function", operator_code(policy)["function"], t.seed, kwargs=dict(t.kwargs),
                    determinism="the function's own (auditkit seeds the global RNG with training.seed "
                    "+ fold before building each model)")
