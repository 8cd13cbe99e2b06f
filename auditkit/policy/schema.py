"""What a policy may say: one frozen dataclass per section, its allowed values declared next to it.

Defaults are the choices of Fel et al. (WACV 2022). A few choices are disputed between the paper's
text and its authors' library; ``profile`` sets them all at once, and a field written in the policy
overrides its profile. :data:`PROFILES` holds them:

===========================================  =========  ===================  =================================
field                                        ``paper``  ``authors_library``  what it decides
===========================================  =========  ===================  =================================
``metrics.distance``                         spearman   sqrt_spearman        1 - |rho| or sqrt(1 - |rho|)
``metrics.reco_form``                        youden     youden               ReCo with class-conditional rates
``metrics.target``                           prediction label                which class each model explains
``explainers[gradient_input].convention``    abs        signed               abs(gradient x input) or signed
``explainers[smoothgrad].sigma_convention``  range      range                sigma relative to the input range
``explainers[rise].score``                   logit      logit                what RISE weights its masks by
===========================================  =========  ===================  =================================

Each section class lists its YAML keys in ``constraints`` (key -> :mod:`auditkit.constraints`
object); a field without a dataclass default is a required key. Rules that tie fields together live
in the class's ``problems``, which yields ``(key, message)`` pairs for the loader to place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from auditkit.catalog import COMPARISONS, METRICS, names
from auditkit.constraints import (
    AllOrList,
    Constraint,
    Deferred,
    Either,
    Explainer,
    FilePath,
    Flag,
    FreeMapping,
    Interval,
    ListOf,
    Nullable,
    Options,
    Pattern,
    Section,
    Text,
    show,
    suggestion,
)
from auditkit.policy.registries import (
    channel_options,
    complete_explainers,
    control_explainers,
    dataset_kind_options,
    dataset_splits,
    explainer_name_options,
    in_memory_kind,
    model_family_options,
)

SEED = Interval(int, 0, 2**32 - 1)
"""A seed: an int in [0, 2^32 - 1] (the engine derives per-fold seeds from it)."""
MAX_COUNT = 10**9
"""Largest count of images a policy may name: beyond any dataset, small enough for int64 index
arithmetic (a larger count means nothing more and could only overflow it)."""
SAMPLES = Interval(int, 1, MAX_COUNT)
"""A number of images sampled for a measurement (all of them when it exceeds the dataset)."""
PIXEL_VALUE = Interval(float, -1000, 1000)
"""A value in pixel units (images lie in [0, 1]): wide, but finite through any float32 arithmetic."""

PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "paper": MappingProxyType({
        "metrics.distance": "spearman",
        "metrics.reco_form": "youden",
        "metrics.target": "prediction",
        "explainers.gradient_input.convention": "abs",
        "explainers.smoothgrad.sigma_convention": "range",
        "explainers.rise.score": "logit",
    }),
    "authors_library": MappingProxyType({
        "metrics.distance": "sqrt_spearman",
        "metrics.reco_form": "youden",
        "metrics.target": "label",
        "explainers.gradient_input.convention": "signed",
        "explainers.smoothgrad.sigma_convention": "range",
        "explainers.rise.score": "logit",
    }),
})
"""Defaults of the disputed choices per ``profile``, keyed by field path (see the module docstring)."""


class _Section:
    """What every policy section shares: its keys' constraints and its cross-field rules."""

    constraints: ClassVar[Mapping[str, Constraint]] = {}
    aliases: ClassVar[Mapping[str, str]] = {}
    """Former names of keys (old name -> key), still read; writing both is an error."""
    key_neutral: ClassVar[Mapping[str, str]] = {}
    """Fields whose value is in no work key, each with the reason: it cannot change stored work, or
    the work is keyed by a digest of what it yields. Every other field is in the key of each piece of
    work that reads its section (:func:`auditkit.engine.keys.keyed_settings`), so that a new field
    is keyed until declared here; tests/engine/test_work_keys.py checks that each field is one or
    the other."""

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """``(key, message)`` for each rule that ``values`` (the section's keys, resolved) break."""
        return iter(())



@dataclass(frozen=True, kw_only=True)
class DatasetSpec(_Section):
    """The images to audit."""

    kind: str
    """Which dataset: one of :data:`DATASET_KINDS`: ``digits`` (bundled, no path), ``cifar10`` (python
    pickle batches), ``fashion_mnist`` (idx files, ``.gz`` or not), ``eurosat`` (RGB class folders),
    ``imagefolder`` (any class-folder tree); ``python`` for images passed to
    ``auditkit.audit(data=...)``."""
    path: Path | None = None
    """Its folder, absolute (a relative one is read from the policy file's folder); ``None`` for digits
    and python."""
    split: str = "all"
    """Which part: ``train``, ``test`` or ``all`` (only ``all`` where the dataset has no split). cifar10
    and fashion_mnist have both; imagefolder when its folder holds ``train/`` and ``test/`` sub-folders
    of the same class folders (``all`` = train then test)."""
    max_images: int | None = None
    """Audit a stratified, seeded subsample of at most this many images; ``None`` for all."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("kind", "path", "split", "max_images"), "work is keyed by the fingerprint of the images they yield")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "kind": Deferred(dataset_kind_options, Text()),
        "path": Nullable(FilePath()),
        "split": Options(("train", "test", "all")),
        "max_images": Nullable(Interval(int, 20, MAX_COUNT)),
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        kind, in_memory = values["kind"], in_memory_kind()
        if kind == "digits" and values["path"] is not None:
            yield "path", "digits is bundled with scikit-learn and takes no path; remove 'path'"
        if kind == in_memory and values["path"] is not None:
            yield "path", "python images are passed to auditkit.audit(data=...), not read from a path"
        if kind not in ("digits", in_memory) and values["path"] is None:
            yield "path", f"{kind} is read from a folder: set 'path' to it"
        if values["split"] not in dataset_splits(kind):
            yield "split", f"{kind} has no {values['split']!r} split; use 'all'"


DOTTED_CALLABLE = Pattern(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*"
                          r"(\.[A-Za-z_][A-Za-z0-9_]*)*",
                          "'package.module:function' (a module path, a colon, a function name)")
"""An importable function, written ``package.module:function``."""

MODULE_PATH = Pattern(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", "a dotted module path such as 'layer4.1.conv2'")
"""A submodule of a model, as ``nn.Module.get_submodule`` names it."""


@dataclass(frozen=True, kw_only=True)
class ModelSpec(_Section):
    """The classifier trained on each fold: one of auditkit's families, a torchvision architecture,
    or the operator's own factory function.

    At most one of ``family``, ``torchvision`` and ``factory`` is written; none means ``small_cnn``.
    Whatever builds it, the model maps float images in [0, 1] ``[N, C, H, W]`` (after
    ``preprocessing``'s resize and crop) to logits ``[N, classes]``; ``preprocessing.normalize``
    is applied inside the audited model (see :class:`PreprocessingSpec`).
    """

    family: str | None = None
    """auditkit's architecture: ``small_cnn``, ``resnet18`` (torchvision blocks, small-input stem) or
    ``lipschitz_cnn`` (1-Lipschitz, as in section 4.4 and Table 4, deel-torchlip); ``small_cnn`` when
    neither ``torchvision`` nor ``factory`` is written."""
    base_filters: int | None = None
    """Width of the first layer of a ``family`` (paper: CIFAR-10 32, EuroSAT 46, Fashion-MNIST 26);
    ``None`` for the family's default."""
    dropout: float | None = None
    """Dropout probability in [0, 1) of a ``family``; ``None`` for the family's default."""
    torchvision: str | None = None
    """A torchvision classification architecture by name (``resnet50``, ``mobilenet_v3_small``, ...,
    ``torchvision.models.list_models(module=torchvision.models)``), built with ``weights=None`` (no
    download) and ``num_classes`` = the dataset's classes; its first convolution is rebuilt for the
    dataset's channels when they are not 3."""
    factory: str | None = None
    """The operator's own model, ``package.module:function``, importable from the policy file's
    folder or the environment, called as ``function(num_classes=, in_channels=, image_size=(H, W),
    **kwargs)``; it returns an untrained ``nn.Module``."""
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """More keyword arguments of ``torchvision.models.get_model`` or of ``factory``."""
    init_weights: Path | None = None
    """A local state dict (``torch.save(model.state_dict())``) loaded with ``weights_only=True`` into
    every fresh model before it is trained; it must fit the architecture as built (head sized to the
    classes). Relative to the policy file's folder."""
    target_layer: str | None = None
    """Grad-CAM's layer as a dotted path in the model (``layer4.1.conv2``,
    ``encoder.layers.encoder_layer_11.ln_1``); ``None``: the family's own layer, else the model's
    ``target_layer`` attribute, else for a torchvision ViT or Swin the last block's first norm, else
    its last ``nn.Conv2d``. Its output is a feature map ``[N, C, h, w]`` or a transformer's tokens
    (see ``token_grid``)."""
    token_grid: tuple[int, ...] | None = None
    """``[h, w]``: the patch grid of the tokens ``[N, prefix_tokens + h * w, C]`` that Grad-CAM's layer
    gives, in row-major order; Grad-CAM drops the prefix tokens and lays the others on this grid.
    ``None``: known for torchvision's ViT (one class token, ``image_size // patch_size`` square) and
    Swin (channels-last maps), or read from the model's own ``token_grid`` and ``prefix_tokens``
    attributes."""
    prefix_tokens: int | None = None
    """Tokens before the grid (class, register, distillation tokens), with ``token_grid``; ``None``: 0."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "family": Deferred(model_family_options, Nullable(Text())),
        "base_filters": Nullable(Interval(int, 1, 1024)),
        "dropout": Nullable(Interval(float, 0, 1, closed="left")),
        "torchvision": Nullable(Pattern(r"[a-z][a-z0-9_]*", "a torchvision model name such as 'resnet50'")),
        "factory": Nullable(DOTTED_CALLABLE),
        "kwargs": FreeMapping(),
        "init_weights": Nullable(FilePath()),
        "target_layer": Nullable(MODULE_PATH),
        "token_grid": Nullable(ListOf(Interval(int, 1, 4096), min_length=2)),
        "prefix_tokens": Nullable(Interval(int, 0, 4096)),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.kwargs, MappingProxyType):
            object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        if self.family is None and self.torchvision is None and self.factory is None:
            object.__setattr__(self, "family", "small_cnn")

    @property
    def source(self) -> str:
        """What builds the model: ``family``, ``torchvision`` or ``factory``."""
        return "torchvision" if self.torchvision else "factory" if self.factory else "family"

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        written = [name for name in ("family", "torchvision", "factory") if values[name] is not None]
        if len(written) > 1:
            yield written[1], (f"the model is built by one of family, torchvision or factory; "
                               f"this policy names {' and '.join(written)}: keep one")
        if written and written[0] in ("torchvision", "factory"):
            for name in ("base_filters", "dropout"):
                if values[name] is not None:
                    yield name, (f"{name} sizes auditkit's own families; for {written[0]} pass it in "
                                 f"model.kwargs if the architecture takes it")
        elif values["kwargs"]:
            yield "kwargs", "kwargs are passed to torchvision or factory, and this model uses neither"
        if "weights" in values["kwargs"]:
            yield "kwargs.weights", ("nothing is downloaded: torchvision models are built with "
                                     "weights=None; give a local state dict as model.init_weights")
        if values["token_grid"] is not None and len(values["token_grid"]) != 2:
            yield "token_grid", f"expected [h, w], got {len(values['token_grid'])} numbers"
        if values["prefix_tokens"] is not None and values["token_grid"] is None:
            yield "prefix_tokens", ("prefix_tokens counts the tokens before model.token_grid: "
                                    "declare the grid too")


@dataclass(frozen=True, kw_only=True)
class TrainingSpec(_Section):
    """How each fold's model is trained (fold i uses seed ``seed + i``): auditkit's own loop, set by
    the fields below (a cosine schedule, deterministic on CPU), or the operator's learning algorithm
    (``function``).

    ``function: package.module:fit`` is called once per fold (and again per label-shuffling level)
    as ``fit(model, images, labels, seed=seed, device=device, **kwargs)`` with the fresh model
    (built after ``torch.manual_seed(seed)``, normalisation inside, on the CPU), the fold's training
    images ``Tensor[n, C, H, W]`` float32 in [0, 1], their labels ``Tensor[n]`` int64, the fold's seed
    (int) and the audit's ``torch.device``; it returns the trained model (the same object, or one with
    the same ``state_dict`` keys and shapes). Determinism is the function's business: auditkit seeds
    the global RNG before building the model and restores it afterwards, nothing more.
    """

    epochs: int = 20
    """Passes over the training folds."""
    batch_size: int = 64
    """Images per optimisation step."""
    optimizer: str = "adam"
    """``adam`` or ``sgd``."""
    learning_rate: float = 0.003
    """Step size, in (0, 10]."""
    weight_decay: float = 0.0
    """L2 penalty, in [0, 1]."""
    seed: int = 0
    """Seed of initialisation and shuffling."""
    mixed_precision: bool | str = False
    """``false`` (float32 throughout), ``bf16`` or ``fp16`` (autocast of the forward pass and loss, with a
    gradient scaler for fp16; weights, optimiser state and checkpoints stay float32). Applied on CUDA
    only; a CPU run trains in float32 whatever it says. It changes the trained weights, so the fold
    checkpoints are keyed by it; keep it only where the fold accuracies stay within
    ``cross_validation.max_accuracy_spread`` (the audit fails otherwise). Explanations and metrics
    always run in float32."""

    function: str | None = None
    """The operator's training function, ``package.module:fit``, importable from the policy file's
    folder or the environment; ``None``: auditkit's loop."""
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """More keyword arguments of ``function``."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "epochs": Interval(int, 1, 10000),
        "batch_size": Interval(int, 1, 65536),
        "optimizer": Options(("adam", "sgd")),
        "learning_rate": Interval(float, 0, 10, closed="right"),
        "weight_decay": Interval(float, 0, 1),
        "seed": SEED,
        "mixed_precision": Options((False, "bf16", "fp16")),
        "function": Nullable(DOTTED_CALLABLE),
        "kwargs": FreeMapping(),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.kwargs, MappingProxyType):
            object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values["function"] is None:
            if values["kwargs"]:
                yield "kwargs", "kwargs are passed to training.function, which this policy does not set"
            return
        for name in LOOP_FIELDS:
            if values[name] != getattr(TrainingSpec, name):
                yield name, (f"{name} sets auditkit's training loop, which does not run when "
                             f"'function' trains the model: remove it (or pass it in training.kwargs)")


LOOP_FIELDS: tuple[str, ...] = ("epochs", "batch_size", "optimizer", "learning_rate", "weight_decay",
                                "mixed_precision")
"""Fields of :class:`TrainingSpec` that configure auditkit's own loop only."""


@dataclass(frozen=True, kw_only=True)
class NormalizeSpec(_Section):
    """Per-channel standardisation ``(x - mean) / std``, applied inside the audited model."""

    mean: tuple[float, ...] | None = None
    """One mean per channel, each in [-1000, 1000] (ImageNet: 0.485, 0.456, 0.406); ``None``: no
    normalisation."""
    std: tuple[float, ...] | None = None
    """One standard deviation per channel, each in [1e-6, 1000] (ImageNet: 0.229, 0.224, 0.225)."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "mean": Nullable(ListOf(PIXEL_VALUE, min_length=1)),
        "std": Nullable(ListOf(Interval(float, 1e-6, 1000), min_length=1)),
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        mean, std = values["mean"], values["std"]
        if (mean is None) != (std is None):
            yield ("std" if std is None else "mean"), "normalize needs both mean and std"
        elif mean is not None and len(mean) != len(std):
            yield "std", f"{len(std)} std values for {len(mean)} means: give one of each per channel"


INTERPOLATIONS: tuple[str, ...] = ("nearest", "bilinear", "bicubic")
"""Accepted ``preprocessing.interpolation`` (torchvision ``InterpolationMode`` names)."""


@dataclass(frozen=True, kw_only=True)
class PreprocessingSpec(_Section):
    """What is done to the images before the model sees them, declared, never silent.

    ``resize`` and ``center_crop`` are applied once, when the dataset is loaded (each image on its
    own, so an ImageFolder of mixed sizes works with ``resize``), with torchvision's ``resize``
    (antialiased) and ``center_crop``; the dataset fingerprint is of the resized pixels.
    ``normalize`` is not applied to the data: the audited model is wrapped so that it normalises
    inside its forward pass. Explanations, perturbations (muF, RISE, robustness) and baselines thus
    stay defined on [0, 1] pixels, and the maps are those of the pixels the model receives.
    """

    resize: tuple[int, ...] | None = None
    """``[H, W]`` every image is resized to at load; ``None``: images are used at their size, which
    must then be one size for the whole dataset."""
    interpolation: str = "bilinear"
    """How ``resize`` interpolates: ``nearest``, ``bilinear`` or ``bicubic`` (antialiased)."""
    center_crop: tuple[int, ...] | None = None
    """``[H, W]`` cut from the centre after ``resize``; ``None``: no crop."""
    channels: str = "auto"
    """``auto``: an image folder of grey images only (PIL modes ``1``, ``L``, ``I``, ``F``, ...) stays one
    channel, any other folder is RGB, and a fixed-format data set keeps its own; ``grey`` or ``rgb``
    converts every image (ITU-R 601-2 luma weights 0.299, 0.587, 0.114; a grey image repeated three
    times)."""
    normalize: NormalizeSpec = field(default_factory=NormalizeSpec)
    """Per-channel ``(x - mean) / std`` inside the model."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("resize", "interpolation", "center_crop", "channels"),
        "applied at load: work is keyed by the fingerprint of the images they yield")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "resize": Nullable(ListOf(Interval(int, 1, 16384), min_length=2)),
        "interpolation": Options(INTERPOLATIONS),
        "center_crop": Nullable(ListOf(Interval(int, 1, 16384), min_length=2)),
        "channels": Deferred(channel_options, Text()),
        "normalize": Section(NormalizeSpec),
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        for name in ("resize", "center_crop"):
            if values[name] is not None and len(values[name]) != 2:
                yield name, f"expected [height, width], got {len(values[name])} numbers"
        resize, crop = values["resize"], values["center_crop"]
        if resize is not None and crop is not None and len(resize) == len(crop) == 2 and (
                crop[0] > resize[0] or crop[1] > resize[1]):
            yield "center_crop", (f"a {crop[0]}x{crop[1]} crop does not fit in the "
                                  f"{resize[0]}x{resize[1]} resize")


@dataclass(frozen=True, kw_only=True)
class SystemSpec(_Section):
    """Who and what is audited: the AI system the classifier belongs to, recorded in results.json."""

    name: str | None = None
    """The system's name."""
    version: str | None = None
    """Its version (quote numbers: ``"2.1"``)."""
    owner: str | None = None
    """Who is responsible for it."""
    intended_purpose: str | None = None
    """What it is meant to do, in the provider's words (AI Act Art. 3(12))."""
    contact: str | None = None
    """Whom to ask about it; a decision sheet (``auditkit explain``) gives it to the person a
    decision affects."""
    contest: str | None = None
    """How a person affected by one of its decisions contests it (whom to write to, by when, what to
    send), in the operator's words; printed on every decision sheet (``auditkit explain``, EU AI Act
    Art. 86, GDPR Art. 22(3))."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("name", "version", "owner", "intended_purpose", "contact", "contest"),
        "recorded in results.json only")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        name: Nullable(Text())
        for name in ("name", "version", "owner", "intended_purpose", "contact", "contest")
    }




@dataclass(frozen=True, kw_only=True)
class DeployedSpec(_Section):
    """The model the operator deploys: one trained checkpoint of the audited architecture.

    The k fold models measure the learning algorithm (architecture and recipe, Algorithm 1); the
    deployed checkpoint is the one model that runs in production. Its SHA-256 is recorded, and its
    accuracy, muF, robustness and invariance are measured on it (:mod:`auditkit.engine.deployed`).
    """

    checkpoint: Path | None = None
    """A state dict (``torch.save(model.state_dict())``) of the architecture the policy's ``model``
    builds for the dataset (keys of the network, or of auditkit's wrapper under ``net.``), loaded with
    ``weights_only=True``; ``None``: no deployed model. Relative to the policy file's folder."""
    test_path: Path | None = None
    """A folder of the same kind as ``dataset`` holding images kept out of the deployed model's
    training (same classes), read with the same preprocessing; its accuracy there is held out."""
    test_split: str | None = None
    """The split (``train``, ``test``, ``all``) of ``test_path``, or of ``dataset.path`` without it,
    kept out of the deployed model's training; ``None`` with ``test_path``: ``all``. With neither,
    the accuracy is measured on the audited images and is not a held-out accuracy."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("checkpoint", "test_path", "test_split"),
        "the deployed model is measured at every run, never stored")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "checkpoint": Nullable(FilePath()),
        "test_path": Nullable(FilePath()),
        "test_split": Nullable(Options(("train", "test", "all"))),
    }

    @property
    def held_out(self) -> bool:
        """Whether the policy names images kept out of the deployed model's training."""
        return self.test_path is not None or self.test_split is not None

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values["checkpoint"] is None:
            for name in ("test_path", "test_split"):
                if values[name] is not None:
                    yield name, f"{name} is where the deployed model is tested: it needs 'checkpoint'"


@dataclass(frozen=True, kw_only=True)
class CrossValidationSpec(_Section):
    """The k-fold cross-training of section 3.3: f_i is trained on every fold but V_i."""

    k: int = 5
    """Number of folds, in [2, 100]."""
    seed: int = 0
    """Seed of the split into folds."""
    max_accuracy_spread: float = 0.03
    """Largest allowed max - min of the fold accuracies, in (0, 1]: the folds' models must be comparable,
    and beyond it the audit fails. results.json and the report state the spread that fold size alone
    gives (the expected range of k binomial fold accuracies, ``accuracy.expected_spread``) and each
    fold's Wilson interval against chance, the majority-class rate (``folds[i].chance``)."""

    key_neutral: ClassVar[Mapping[str, str]] = {
        "max_accuracy_spread": "a check of the trained folds' accuracies, made at every run"}

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "k": Interval(int, 2, 100),
        "seed": SEED,
        "max_accuracy_spread": Interval(float, 0, 1, closed="right"),
    }


@dataclass(frozen=True)
class ExplainerSpec:
    """One explanation method to audit, with every setting it takes resolved.

    >>> ExplainerSpec("integrated_gradients", {"steps": 60}).settings["steps"]
    60
    """

    name: str
    """A registered explainer (a key of :func:`~auditkit.policy.registries.explainer_settings`)."""
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """Read-only setting -> value: those written in the policy, the rest from the profile or the paper."""

    constraints: ClassVar[Mapping[str, Constraint]] = {"name": Deferred(explainer_name_options, Text())}

    def __post_init__(self) -> None:
        if not isinstance(self.settings, MappingProxyType):
            object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))


@dataclass(frozen=True, kw_only=True)
class MuFidelitySpec(_Section):
    """muF (eq. 7): correlation of attribution mass and score drop over random subsets S."""

    samples: int = 200
    """How many images muF is averaged over (a seeded sample)."""
    subset_fraction: float = 0.15
    """|S| as a fraction of the positions, in (0, 1); the paper uses 15 %."""
    subset_unit: str = "pixel"
    """What S is drawn from: ``pixel`` or square ``cell`` of ``cell_size`` pixels."""
    cell_size: int = 1
    """Side of a cell in pixels (used when ``subset_unit`` is ``cell``)."""
    baseline: float = 0.0
    """Value the pixels of S are set to; the paper uses 0."""
    n_subsets: int = 128
    """Random subsets S per image."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "samples": SAMPLES,
        "subset_fraction": Interval(float, 0, 1, closed="neither"),
        "subset_unit": Options(("pixel", "cell")),
        "cell_size": Interval(int, 1, 16384),
        "baseline": PIXEL_VALUE,
        "n_subsets": Interval(int, 2, 100000),
    }


@dataclass(frozen=True, kw_only=True)
class BootstrapSpec(_Section):
    """Percentile bootstrap over the audited images, for confidence intervals."""

    resamples: int = 1000
    """Number of bootstrap resamples; 0 for no confidence interval."""
    confidence: float = 0.95
    """Two-sided confidence level, in (0.5, 1)."""
    seed: int = 0
    """Seed of the resampling."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("resamples", "confidence", "seed"), "drawn for the scores at every run, never stored")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "resamples": Interval(int, 0, 10**6),
        "confidence": Interval(float, 0.5, 1, closed="neither"),
        "seed": SEED,
    }


@dataclass(frozen=True, kw_only=True)
class RecoChanceSpec(_Section):
    """ReCo's chance level: its null distribution under image-level permutations of S=/S≠
    membership (:mod:`auditkit.metrics.chance`)."""

    permutations: int = 1000
    """Permutations per ReCo; the p-value's resolution is 1 / (1 + permutations)."""
    seed: int = 0
    """Seed of the permutations (the same draws for every explainer and level)."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("permutations", "seed"), "drawn for the scores at every run, never stored")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "permutations": Interval(int, 99, 10**5),
        "seed": SEED,
    }


@dataclass(frozen=True, kw_only=True)
class AgreementSpec(_Section):
    """Agreement between the explainers (Krishna et al. 2022, :mod:`auditkit.metrics.agreement`): the
    maps two methods give for the same image by the same model, compared by rank and by top-k
    features, for every pair of the policy's explainers."""

    top_k: float = 0.1
    """k of the top-k feature agreement, as a fraction of a map's features (pixels) in (0, 1]: k is
    ``round(top_k * D)``, at least 1; 1 makes every pair agree fully."""

    key_neutral: ClassVar[Mapping[str, str]] = {"top_k": "scoring of the stored maps, done at every run"}

    constraints: ClassVar[Mapping[str, Constraint]] = {"top_k": Interval(float, 0, 1, closed="right")}


@dataclass(frozen=True, kw_only=True)
class MetricsSpec(_Section):
    """How MeGe, ReCo and muF are computed."""

    distance: str = "spearman"
    """Distance of two explanations: ``spearman`` (1 - |rho|) or ``sqrt_spearman`` (sqrt(1 - |rho|))."""
    reco_form: str = "youden"
    """ReCo with class-conditional rates (``youden``) or eq. 6's rates as printed (``as_printed``)."""
    target: str = "prediction"
    """The class each fold model's explanation is of: ``prediction`` (the class that model predicts,
    eq. 2 of the paper: the two maps of an S≠ pair explain two different decisions) or ``label``
    (the true label, as the authors' library does: both maps of every pair explain the same class).
    It is the class f_c of muF, and of robustness, invariance and completeness, too."""
    reco_chance: RecoChanceSpec = field(default_factory=RecoChanceSpec)
    """ReCo's chance level."""
    explain_batch_size: int = 256
    """Images explained per batch."""
    min_pairs: int = 30
    """Fewest pairs of a set (S= for MeGe; S= and S≠ for ReCo, ReCo_AUC and ReCo's chance level) a
    score is computed from; with fewer it is undefined ("not enough pairs (n = 7)"). 30 is the usual
    floor for a mean's normal approximation, which the percentile bootstrap of these scores leans on;
    the k - 1 pairs of one image share its map, so 30 pairs may be as few as 30 / (k - 1) images,
    and a smaller set gives intervals that look tight but mean nothing (a set of 4 pairs of
    constant maps gives MeGe 1.000 [1.000, 1.000])."""
    mu_fidelity: MuFidelitySpec = field(default_factory=MuFidelitySpec)
    """muF settings."""
    bootstrap: BootstrapSpec = field(default_factory=BootstrapSpec)
    """Confidence interval settings."""
    agreement: AgreementSpec = field(default_factory=AgreementSpec)
    """Agreement between the explainers."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("reco_form", "min_pairs"), "scoring of the stored distances, done at every run")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "distance": Options(("spearman", "sqrt_spearman")),
        "reco_form": Options(("youden", "as_printed")),
        "target": Options(("prediction", "label")),
        "reco_chance": Section(RecoChanceSpec),
        "explain_batch_size": Interval(int, 1, 65536),
        "min_pairs": Interval(int, 1, MAX_COUNT),
        "mu_fidelity": Section(MuFidelitySpec),
        "bootstrap": Section(BootstrapSpec),
        "agreement": Section(AgreementSpec),
    }


@dataclass(frozen=True)
class TransformationParameter:
    """The one setting that sizes a transformation of :data:`TRANSFORMATIONS`."""

    key: str
    """Its YAML key."""
    constraint: Constraint
    """What it accepts."""
    default: Any
    """Its value when the policy leaves it out."""


TRANSFORMATIONS: Mapping[str, TransformationParameter | None] = MappingProxyType({
    "hflip": None,
    "translate": TransformationParameter("pixels", Interval(int, 1, 64), 1),
    "rotate": TransformationParameter("degrees", Interval(float, -180, 180), 10.0),
    "brightness": TransformationParameter("delta", Interval(float, -1, 1, closed="neither"), 0.1),
})
"""Transformations an invariance test may declare (name -> its sizing setting, None for ``hflip``).

``hflip`` mirrors left-right; ``translate`` shifts right by ``pixels`` (zeros enter);
``rotate`` turns by ``degrees`` counter-clockwise about the centre (bilinear, zeros enter); those three
are geometric: the explanation should move with the image. ``brightness`` multiplies the pixels by
``1 + delta`` and clips to [0, 1] (torchvision's ``adjust_brightness``); it is photometric: the
explanation should not change. Defaults: 1 pixel, 10 degrees, +10 %, small enough that the label
of an image stays the same for almost any task."""


@dataclass(frozen=True, kw_only=True)
class TransformationSpec(_Section):
    """One transformation the task is declared invariant to; its sizing setting defaults as listed in
    :data:`TRANSFORMATIONS` (the others stay ``None``)."""

    name: str
    """One of :data:`TRANSFORMATIONS`: ``hflip``, ``translate``, ``rotate`` or ``brightness``."""
    pixels: int | None = None
    """``translate`` only: the shift to the right in pixels, in [1, 64] (default 1)."""
    degrees: float | None = None
    """``rotate`` only: the angle, counter-clockwise, in [-180, 180] and not 0 (default 10)."""
    delta: float | None = None
    """``brightness`` only: the relative change of the pixels, in (-1, 1) and not 0 (default 0.1)."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "name": Options(tuple(TRANSFORMATIONS)),
        **{p.key: Nullable(p.constraint) for p in TRANSFORMATIONS.values() if p is not None},
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        own = TRANSFORMATIONS[values["name"]]
        for p in TRANSFORMATIONS.values():
            if p is not None and p is not own and values[p.key] is not None:
                takes = f"its setting is '{own.key}'" if own is not None else "it takes no setting"
                yield p.key, f"{values['name']} has no setting '{p.key}' ({takes})"
        if own is not None and values[own.key] == 0:
            yield own.key, f"{values['name']} by 0 is the identity: give a non-zero '{own.key}'"

    def __post_init__(self) -> None:
        own = TRANSFORMATIONS.get(self.name)
        if own is not None and getattr(self, own.key) is None:
            object.__setattr__(self, own.key, own.default)

    @property
    def amount(self) -> Any:
        """The value of its sizing setting (None for ``hflip``)."""
        own = TRANSFORMATIONS[self.name]
        return None if own is None else getattr(self, own.key)


@dataclass(frozen=True, kw_only=True)
class RobustnessSpec(_Section):
    """Robustness: how much an explanation changes under small uniform input noise (Yeh et al. 2019).

    Per sampled image: the max-sensitivity (largest ``||phi(x + d) - phi(x)|| / ||phi(x)||`` over the
    draws) and the mean Spearman distance ``1 - |rho(phi(x + d), phi(x))|`` over the same draws."""

    enabled: bool = True
    """Whether to measure it."""
    radius: float = 0.02
    """L-infinity radius of the noise, in pixel units (images lie in [0, 1]); 0.02 is Yeh et al.'s and
    captum's default: about 5 grey levels of an 8-bit image, a third of one level of the 17-level
    digits, invisible in both."""
    perturbations: int = 10
    """Noise draws per image (captum's default); the cost is ``perturbations + 1`` explanations per image."""
    samples: int = 200
    """Images measured: the first ``samples`` of the seeded permutation muF samples from (the same
    images as muF when the sizes agree), each explained by the fold model that did not train on it."""
    seed: int = 0
    """Seed of the noise (fold i draws with ``seed + i``)."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "radius": Interval(float, 0, 1, closed="right"),
        "perturbations": Interval(int, 1, 10000),
        "samples": SAMPLES,
        "seed": SEED,
    }


@dataclass(frozen=True, kw_only=True)
class InvarianceSpec(_Section):
    """Invariance: Spearman distance between the explanation of T(x) and the one expected from phi(x).

    Geometric T: ``phi(T(x))`` against ``T(phi(x))`` (the map moves with the image); photometric T:
    against ``phi(x)``. Only images whose prediction T leaves unchanged are compared; the others are
    counted as left out. The property's score is the worst (largest) mean distance over the declared
    transformations, each also reported on its own. Nothing is random, so there is no seed."""

    enabled: bool = True
    """Whether to measure it."""
    transformations: tuple[TransformationSpec, ...] = (
        TransformationSpec(name="translate"),
        TransformationSpec(name="rotate"),
        TransformationSpec(name="brightness"),
    )
    """What the task is invariant to, each at most once. The default leaves out ``hflip``, which
    changes the label of digits and text; add it for natural images."""
    samples: int = 200
    """Images measured (the same seeded sample as ``robustness.samples``)."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "transformations": ListOf(Section(TransformationSpec), min_length=1),
        "samples": SAMPLES,
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        names = [t.name for t in values["transformations"]]
        for i, name in enumerate(names):
            if name in names[:i]:
                yield (f"transformations[{i}].name",
                       f"{name!r} is listed twice (also transformations[{names.index(name)}])")


@dataclass(frozen=True, kw_only=True)
class CompletenessSpec(_Section):
    """Completeness, for the methods that claim it (:func:`~auditkit.policy.registries.complete_explainers`):
    ``|sum(phi) - (f_c(x) - f_c(baseline))| / |f_c(x) - f_c(baseline)|``. For Integrated Gradients it
    measures the error of the integration, so it says whether ``steps`` was enough."""

    enabled: bool = True
    """Whether to measure it."""
    samples: int = 200
    """Images measured (the same seeded sample as ``robustness.samples``)."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "samples": SAMPLES,
    }


@dataclass(frozen=True, kw_only=True)
class PropertiesSpec(_Section):
    """The properties of an explanation beyond MeGe, ReCo and muF: robust, invariant, complete.

    Each is measured on the clean audit only (not at the sanity checks' levels), on a seeded sample
    of images, with a bootstrap interval from the same resamples as the other scores."""

    robustness: RobustnessSpec = field(default_factory=RobustnessSpec)
    """Stability under small input noise."""
    invariance: InvarianceSpec = field(default_factory=InvarianceSpec)
    """Invariance (or equivariance) under declared transformations."""
    completeness: CompletenessSpec = field(default_factory=CompletenessSpec)
    """Completeness of the methods that claim it."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "robustness": Section(RobustnessSpec),
        "invariance": Section(InvarianceSpec),
        "completeness": Section(CompletenessSpec),
    }


@dataclass(frozen=True, kw_only=True)
class ConvergenceSpec(_Section):
    """Whether the audit's sampling budgets suffice (:mod:`auditkit.engine.convergence`).

    For each budget of a sampling estimator (an explainer's ``budget`` setting: Integrated
    Gradients' steps, SmoothGrad's samples, RISE's masks, ...; ``metrics.mu_fidelity.n_subsets``;
    ``properties.robustness.perturbations``; ``metrics.bootstrap.resamples``;
    ``metrics.reco_chance.permutations``), how far the score it feeds moves when the budget b is
    doubled, on the clean fold models. A budget is *converged* when that change is at most ``share``
    of the width of the score's bootstrap interval: the budget's own error is then small beside the
    uncertainty the audit reports. Permutations are judged from closed forms (the binomial error of a
    p-value), the explainers' budgets, muF and robustness on a seeded subsample of the images, the
    bootstrap on all of them."""

    enabled: bool = False
    """Whether to run the checks (they explain the subsample again at b and 2b, per method)."""
    images: int = 100
    """Images of the subsample: the first ``images`` of a permutation seeded with ``seed``, each
    explained by the k fold models (all images when fewer)."""
    seed: int = 0
    """Seed of the subsample, of the noise and subsets drawn at 2b, and of the B extra resamples
    (bootstrap ``seed + 1``)."""
    share: float = 0.5
    """Largest change, as a share of the width of the score's interval, of a converged budget: 0.5
    is half the width."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("enabled", "images", "seed", "share"), "measured at every run, never stored")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "images": Interval(int, 2, MAX_COUNT),
        "seed": SEED,
        "share": Interval(float, 0, 1, closed="right"),
    }


METRIC_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {name: m.range for name, m in METRICS.items()})
"""Metrics a threshold may test (every metric of :data:`~auditkit.catalog.METRICS`), with the closed
range of meaningful threshold values."""

PROPERTY_METRICS: Mapping[str, str] = MappingProxyType(
    {name: METRICS[name].section for name in names(scope="property")})
"""Metrics of :class:`PropertiesSpec`, each with the property (section) that measures it."""

MODEL_METRICS: frozenset[str] = frozenset(names(scope="model"))
"""Metrics of the models rather than of an explainer; their thresholds name no explainers."""

PAIR_METRICS: frozenset[str] = frozenset(names(scope="pair"))
"""Metrics of a pair of explainers (their agreement): a threshold on one is checked for every pair of
the explainers it names; ``all`` names every explainer but the controls (``random``, ``input``)."""


@dataclass(frozen=True, kw_only=True)
class ThresholdSpec(_Section):
    """A pass/fail test of one metric, for each explainer it names (or for the models)."""

    id: str
    """Unique name that requirements cite as evidence."""
    metric: str
    """One of :data:`METRIC_RANGES` (the metrics of :data:`~auditkit.catalog.METRICS`, whose range
    bounds ``value``; a lower-is-better one takes ``<=`` or ``<`` only). A property's metric needs its
    property enabled; ``completeness_error`` exists only for
    :func:`~auditkit.policy.registries.complete_explainers`."""
    op: str
    """Comparison of the measured value with ``value``: ``>=``, ``>``, ``<=`` or ``<`` (quote them in
    YAML)."""
    value: float
    """The threshold, within the metric's range."""
    explainers: str | tuple[str, ...] = "all"
    """``"all"`` or the names of explainers listed in the policy; only ``"all"`` for model metrics.
    For a pair metric (:data:`PAIR_METRICS`) the threshold is checked for every pair of the named
    explainers (at least two); ``"all"`` names every explainer of the policy but the controls."""
    estimate: str = "point"
    """Which estimate of the metric is compared with ``value``: the ``point`` estimate, or the end of
    its confidence interval on the unfavourable side (``lower_bound``: the lower end for ``>=`` and
    ``>``, the upper end for ``<=`` and ``<``). Also read under its former name ``on``, which YAML 1.1
    readers other than auditkit's take for the boolean true."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("id", "metric", "op", "value", "explainers", "estimate"),
        "a verdict on the scores, judged at every run")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "id": Text(),
        "metric": Options(tuple(METRIC_RANGES)),
        "op": Options(tuple(COMPARISONS)),
        "value": Interval(float),
        "explainers": AllOrList(ListOf(Deferred(explainer_name_options, Text()), min_length=1, unique=True)),
        "estimate": Options(("point", "lower_bound")),
    }
    aliases: ClassVar[Mapping[str, str]] = {"on": "estimate"}

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        metric = values["metric"]
        low, high = METRIC_RANGES[metric]
        if not low <= values["value"] <= high:
            yield "value", f"a threshold on {metric} must be in [{low}, {high}], got {show(values['value'])}"
        if metric in MODEL_METRICS and values["explainers"] != "all":
            yield "explainers", f"{metric} is measured on the models, not on explainers; remove 'explainers'"
        if not METRICS[metric].higher_is_better and values["op"] in (">=", ">"):
            yield "op", f"lower is better for {metric}: the threshold is an upper limit ('<=' or '<')"


LEVELS_BY = ("accuracy", "noise")
"""What a weight-randomisation level names: a target accuracy, or the paper's share of noised weights."""
LAYER_KINDS = ("conv", "linear", "attention", "norm")
"""The kinds of weights ``weight_randomisation.layers`` may name (the engine's
:data:`auditkit.engine.degrade.LAYER_KINDS` documents each)."""
WEIGHT_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "accuracy": MappingProxyType({"levels": (0.25, 0.5, 0.75), "layers": "all"}),
    "noise": MappingProxyType({"levels": (0.05, 0.1, 0.3), "layers": ("conv",)}),
})
"""Defaults of ``levels`` and ``layers`` per ``levels_by`` (written values win)."""


@dataclass(frozen=True, kw_only=True)
class WeightRandomisationSpec(_Section):
    """Sanity check: explanation scores must drop as the models' weights are progressively randomised.

    With ``levels_by: accuracy`` (the default) level l is a fraction f_l of the way from each fold
    model's clean held-out accuracy to chance (the majority-class rate, ``folds[i].chance``): target
    ``a_l = clean - f_l x (clean - chance)``. Every selected weight tensor t is moved by
    ``s x z_t``, ``z_t ~ N(0, sd_t²)`` one seeded draw per fold and level (sd_t: the trained tensor's
    entries' standard deviation), and s is found per fold by bisection in log s within
    ``scale_bounds`` until the fold's held-out accuracy is within ``tolerance`` of a_l
    (:func:`auditkit.engine.degrade.find_scale`). The accuracy thus falls with the level by
    construction, on any architecture. With ``levels_by: noise`` level l is the paper's share of
    weights given ``N(0, std²)`` noise (appendix E.2), convolutions only by default."""

    enabled: bool = True
    """Whether to run it."""
    levels_by: str = "accuracy"
    """``accuracy``: levels are fractions of the way from clean accuracy to chance, the noise scale
    is found per fold; ``noise``: levels are shares of weights noised with ``std`` (the paper)."""
    levels: tuple[float, ...] = ()
    """Strictly increasing. ``accuracy``: fractions in (0, 1) of the way to chance (default 0.25,
    0.5, 0.75: each level's target accuracy is lower); ``noise``: shares of weights in (0, 1]
    (default 0.05, 0.1, 0.3)."""
    layers: str | tuple[str, ...] = ()
    """Which weights are degraded: ``all`` or a list of ``conv``, ``linear``, ``attention`` (the
    projections of ``nn.MultiheadAttention``) and ``norm`` (the affine scales of batch, layer and
    group norms). Biases and batch-norm running statistics are left as trained. Default ``all``
    with ``levels_by: accuracy``, ``[conv]`` (the paper's) with ``noise``."""
    tolerance: float = 0.02
    """``accuracy`` only: accepted |reached - target| accuracy, as a fraction of the held-out images."""
    max_steps: int = 30
    """``accuracy`` only: accuracy evaluations of the bisection per fold and level (both bounds
    included); a target not reached within them is recorded as not reached, never waited for."""
    scale_bounds: tuple[float, float] = (0.001, 100.0)
    """``accuracy`` only: the smallest and largest noise scale s tried, in units of each tensor's
    standard deviation (0.001: the model unchanged; 100: its weights drowned in noise)."""
    std: float = 0.5
    """``noise`` only: standard deviation of the noise the randomised weights are drawn with: in
    weight units (``scale: absolute``, the paper's N(0, 0.5)) or in units of each tensor's own
    weight standard deviation (``scale: relative``)."""
    scale: str = "absolute"
    """``noise`` only: ``absolute`` or ``relative``, what ``std`` is measured in. Relative noise
    grades a small model whose weights are much smaller than 0.5, which absolute noise can push to
    chance at once."""
    seed: int = 0
    """Seed of the randomisation."""

    key_neutral: ClassVar[Mapping[str, str]] = {
        "enabled": "whether the check runs; each level's work is keyed by the rest"}
    defaults_by: ClassVar[tuple[str, Mapping[str, Mapping[str, Any]]]] = ("levels_by", WEIGHT_DEFAULTS)
    """The key whose value decides the defaults of other keys, and those defaults per value."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "levels_by": Options(LEVELS_BY),
        "levels": ListOf(Interval(float, 0, 1, closed="right"), min_length=1, increasing=True),
        "layers": AllOrList(ListOf(Options(LAYER_KINDS), min_length=1, unique=True)),
        "tolerance": Interval(float, 0, 0.5),
        "max_steps": Interval(int, 2, 1000),
        "scale_bounds": ListOf(Interval(float, 0, 1e6, closed="right"), min_length=2, increasing=True),
        "std": Interval(float, 0, 100, closed="right"),
        "scale": Options(("absolute", "relative")),
        "seed": SEED,
    }

    def __post_init__(self) -> None:
        for name, default in self.defaults_by[1][self.levels_by].items():
            if getattr(self, name) == ():
                object.__setattr__(self, name, default)

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        bounds = values["scale_bounds"]
        if len(bounds) != 2:
            yield "scale_bounds", f"expected two scales [smallest, largest], got {len(bounds)}"
        if values["levels_by"] == "accuracy" and values["levels"] and values["levels"][-1] >= 1:
            yield "levels", (f"with levels_by: accuracy a level is a fraction of the way from the "
                             f"clean accuracy to chance, in (0, 1); {values['levels'][-1]:g} targets "
                             "chance itself or below: use fractions below 1 (e.g. 0.25, 0.5, 0.75)")


@dataclass(frozen=True, kw_only=True)
class LabelShufflingSpec(_Section):
    """Sanity check: explanation scores must drop as more training labels are shuffled."""

    enabled: bool = True
    """Whether to run it."""
    levels: tuple[float, ...] = (0.05, 0.1, 0.3)
    """Fractions of labels shuffled, in (0, 1], strictly increasing."""
    seed: int = 0
    """Seed of the shuffling."""

    key_neutral: ClassVar[Mapping[str, str]] = {
        "enabled": "whether the check runs",
        **dict.fromkeys(("levels", "seed"),
                        "the retrained folds are keyed by the digest of the labels they draw"),
    }

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "levels": ListOf(Interval(float, 0, 1, closed="right"), min_length=1, increasing=True),
        "seed": SEED,
    }


@dataclass(frozen=True, kw_only=True)
class SanitySpec(_Section):
    """The degradation sanity checks of section 4.1."""

    weight_randomisation: WeightRandomisationSpec = field(default_factory=WeightRandomisationSpec)
    """Progressive weight randomisation."""
    label_shuffling: LabelShufflingSpec = field(default_factory=LabelShufflingSpec)
    """Training with progressively shuffled labels."""
    min_fall: float = 0.05
    """The smallest fall of a gated score (MeGe, chance-corrected ReCo) from the clean models to the
    highest level that counts as a fall, in score units. A check *fails* for a metric only when the
    slope's interval excludes every fall this large (the data show the score does not fall); when it
    neither passes nor excludes it, the verdict is *inconclusive*. 0.05 is a twentieth of the scores'
    range: MeGe falls by 0.1 to 0.4 under the paper's degradations (Fig. 3)."""
    max_images: int | None = None
    """Explain and score every sanity level on a stratified, seeded subsample of at most this many
    of the audited images (seeded by ``cross_validation.seed``), with the clean models re-scored on
    the same images as level 0 of the trend; ``None``: on all of them, level 0 being the clean audit.
    The degraded models are those of the whole audit (label-shuffled ones retrain on every training
    image of their fold); only what they explain shrinks. At least 20, and no fewer than the classes."""

    key_neutral: ClassVar[Mapping[str, str]] = {
        "min_fall": "a verdict on the scores, judged at every run",
        "max_images": "the subsample's work is keyed by the fingerprint of its images",
    }

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "weight_randomisation": Section(WeightRandomisationSpec),
        "label_shuffling": Section(LabelShufflingSpec),
        "min_fall": Interval(float, 0, 1, closed="right"),
        "max_images": Nullable(Interval(int, 20, MAX_COUNT)),
    }


@dataclass(frozen=True, kw_only=True)
class RequirementSpec(_Section):
    """A requirement the report judges met when every threshold it cites passes."""

    id: str
    """Unique name."""
    title: str
    """What is required, in words."""
    articles: tuple[str, ...] = ()
    """Legal provisions the operator maps it to (the operator's legal judgement, not auditkit's)."""
    evidence: tuple[str, ...]
    """Ids of the thresholds that must all pass."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("id", "title", "articles", "evidence"), "a verdict on the thresholds, judged at every run")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "id": Text(),
        "title": Text(),
        "articles": ListOf(Text()),
        "evidence": ListOf(Text(), min_length=1, unique=True),
    }


@dataclass(frozen=True, kw_only=True)
class RunSpec(_Section):
    """Where the audit runs and writes."""

    device: str = "auto"
    """``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``."""
    out: Path = Path("out")
    """Output folder, absolute once loaded (a relative one is read from the policy file's folder)."""
    deterministic: bool = True
    """On CUDA, ``true`` sets ``torch.backends.cudnn.deterministic = True``, ``cudnn.benchmark = False``,
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (when unset) and ``torch.use_deterministic_algorithms(True,
    warn_only=True)``, so a rerun on the same GPU model gives the same numbers; ``false`` lets cuDNN
    pick the fastest algorithms (``benchmark = True``), faster, but the last bits may differ between
    runs. No effect on CPU, where training and explaining are deterministic for a given number of
    threads."""

    key_neutral: ClassVar[Mapping[str, str]] = {
        "device": "where it runs, as with Ray; a reused checkpoint's accuracy is recomputed on this device",
        "out": "where the work folder is",
    }

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "device": Pattern(r"auto|cpu|cuda(:[0-9]+)?", "'auto', 'cpu', 'cuda' or 'cuda:N'"),
        "out": FilePath(),
        "deterministic": Flag(),
    }


@dataclass(frozen=True, kw_only=True)
class RaySpec(_Section):
    """Running the audit's independent tasks on Ray (see :mod:`auditkit.engine.ray_executor`).

    The tasks are the k fold trainings, the label-shuffled retrainings and the explanation passes.
    Their work files go through the out folder, which must therefore be on a filesystem every Ray
    node mounts at the same path; results are identical with and without Ray.
    """

    enabled: bool = False
    """Run on Ray; ``auditkit run --ray`` turns it on for one run whatever this says."""
    address: str | None = None
    """``null``: start a local Ray instance (or join the one named by ``RAY_ADDRESS``); ``auto``: the
    cluster this machine belongs to; ``ray://HOST:PORT``: a remote cluster through Ray Client;
    ``HOST:PORT``: a cluster's head node (GCS address)."""
    num_cpus: int | None = None
    """CPUs of a local instance (``null``: all of this machine's); a cluster declares its own."""
    cpus_per_task: int | None = None
    """CPUs each task reserves and the torch threads it runs with. ``null``: this process's torch
    thread count, which is what makes the numbers bit-identical to a serial run on the same machine
    (float sums depend on the number of threads); set 1 for more tasks at once, the numbers then
    equal a serial run with one thread."""
    gpus_per_task: str | float = "auto"
    """GPUs each task reserves: ``auto`` is 1 when the audit runs on CUDA and 0 on CPU; a fraction
    such as 0.5 lets tasks share a GPU. A task on CUDA runs on the GPU Ray assigns it."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("enabled", "address", "num_cpus", "cpus_per_task", "gpus_per_task"),
        "how the tasks are spread, not what they compute")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "enabled": Flag(),
        "address": Nullable(Pattern(r"auto|ray://[^\s/:]+:[0-9]+|[^\s/:]+:[0-9]+",
                                    "'auto', 'ray://HOST:PORT' or 'HOST:PORT'")),
        "num_cpus": Nullable(Interval(int, 1, 65536)),
        "cpus_per_task": Nullable(Interval(int, 1, 1024)),
        "gpus_per_task": Either(Options(("auto",)), Interval(float, 0, 64)),
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values["address"] is not None and values["num_cpus"] is not None:
            yield "num_cpus", ("num_cpus sizes a local Ray instance; a cluster at 'address' declares "
                               "its own CPUs: remove one of the two")


@dataclass(frozen=True, kw_only=True)
class SigningSpec(_Section):
    """Who signs the report (:mod:`auditkit.signing`); the ``run`` options ``--sign-*`` override it.

    Left out (``key: null``), the report is not signed. The key never belongs in the policy: only
    the path of a key file and the name of an environment variable holding its passphrase.
    """

    key: Path | None = None
    """PKCS#12 file (key and certificate), or a PEM/DER private key with ``cert``; relative to the
    policy file's folder."""
    cert: Path | None = None
    """The signer's certificate (PEM or DER) when ``key`` is a bare key."""
    passphrase_env: str | None = None
    """Name of the environment variable holding the passphrase of ``key``, if it is encrypted."""
    level: str | None = None
    """PAdES level: ``B-B``, ``B-T`` (needs ``tsa``) or ``B-LT`` (needs ``tsa``); ``null``: B-T when
    ``tsa`` is set, else B-B."""
    tsa: str | None = None
    """URL of an RFC 3161 timestamp authority."""

    key_neutral: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("key", "cert", "passphrase_env", "level", "tsa"), "signs the report, after the work")

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "key": Nullable(FilePath()),
        "cert": Nullable(FilePath()),
        "passphrase_env": Nullable(Pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")),
        "level": Nullable(Options(("B-B", "B-T", "B-LT"))),
        "tsa": Nullable(Pattern(r"https?://\S+", "an http(s) URL")),
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values["key"] is None:
            for name in ("cert", "passphrase_env", "level", "tsa"):
                if values[name] is not None:
                    yield name, f"{name} needs 'key' (the key that signs the report)"
        if values["level"] in ("B-T", "B-LT") and values["tsa"] is None:
            yield "level", f"{values['level']} needs a timestamp authority: set 'tsa'"


DICT_ORIGIN = Path("<policy dict>")
"""What a policy given as a dict is called where a file's path would be (errors, results.json)."""


@dataclass(frozen=True, kw_only=True)
class Policy(_Section):
    """A whole policy: what to audit, how, and the thresholds that decide the verdict."""

    version: int
    """Schema version; must be 1."""
    name: str
    """Name of the audit, shown in the report and the history."""
    description: str | None = None
    """Free text for the report; ``None`` when there is none."""
    profile: str = "paper"
    """Defaults of the disputed choices: ``paper`` or ``authors_library`` (:data:`PROFILES`); a field
    written in the policy wins over its profile."""
    dataset: DatasetSpec
    """The images."""
    model: ModelSpec = field(default_factory=ModelSpec)
    """The classifier."""
    training: TrainingSpec = field(default_factory=TrainingSpec)
    """Its training."""
    preprocessing: PreprocessingSpec = field(default_factory=PreprocessingSpec)
    """Resize, crop and normalisation of the images."""
    system: SystemSpec = field(default_factory=SystemSpec)
    """The AI system audited (name, version, owner, purpose, contact)."""
    cross_validation: CrossValidationSpec = field(default_factory=CrossValidationSpec)
    """The k-fold cross-training."""
    explainers: tuple[ExplainerSpec, ...]
    """The explanation methods to audit, in report order; names unique."""
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
    """How the metrics are computed."""
    thresholds: tuple[ThresholdSpec, ...] = ()
    """Pass/fail tests; ids unique."""
    sanity_checks: SanitySpec = field(default_factory=SanitySpec)
    """Degradation sanity checks."""
    properties: PropertiesSpec = field(default_factory=PropertiesSpec)
    """Robustness, invariance and completeness of the explanations."""
    convergence: ConvergenceSpec = field(default_factory=ConvergenceSpec)
    """Whether the sampling budgets suffice (off by default)."""
    requirements: tuple[RequirementSpec, ...] = ()
    """Requirements judged from the thresholds; ids unique."""
    run: RunSpec = field(default_factory=RunSpec)
    """Device and output folder."""
    ray: RaySpec = field(default_factory=RaySpec)
    """Whether and where the independent tasks run on Ray (off by default)."""
    signing: SigningSpec = field(default_factory=SigningSpec)
    """Who signs the report (unsigned by default)."""
    deployed: DeployedSpec = field(default_factory=DeployedSpec)
    """The checkpoint the operator deploys, measured beside the k fold models (none by default)."""
    source: Path | None = None
    """The policy file, absolute; set by :func:`~auditkit.policy.load_policy`."""
    sha256: str = ""
    """SHA-256 (hex) of the policy file's exact bytes; set by :func:`~auditkit.policy.load_policy`."""
    lines: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False, repr=False
    )
    """Line of each key written in the file, by dotted key (``"dataset.path"``), for later errors;
    ``None`` for each key of a policy given as a dict (:func:`~auditkit.policy.policy_from_dict`)."""
    objects: Mapping[str, Callable[..., Any]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False, repr=False
    )
    """Python objects standing for the policy's dotted paths: ``factory`` for ``model.factory``,
    ``function`` for ``training.function`` (passed to ``auditkit.audit``); empty for a file."""

    key_neutral: ClassVar[Mapping[str, str]] = {
        **dict.fromkeys(("version", "name", "description", "source", "sha256", "lines"),
                        "identifies the policy; the work is keyed by its sections"),
        "profile": "its choices are resolved into the fields it sets",
        "objects": "the models are keyed by the digest of these objects' source",
    }

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "version": Options((1,)),
        "name": Text(),
        "description": Nullable(Text(allow_blank=True)),
        "profile": Options(tuple(PROFILES)),
        "dataset": Section(DatasetSpec),
        "model": Section(ModelSpec),
        "training": Section(TrainingSpec),
        "preprocessing": Section(PreprocessingSpec),
        "system": Section(SystemSpec),
        "cross_validation": Section(CrossValidationSpec),
        "explainers": ListOf(Explainer(), min_length=1),
        "metrics": Section(MetricsSpec),
        "thresholds": ListOf(Section(ThresholdSpec)),
        "sanity_checks": Section(SanitySpec),
        "properties": Section(PropertiesSpec),
        "convergence": Section(ConvergenceSpec),
        "requirements": ListOf(Section(RequirementSpec)),
        "run": Section(RunSpec),
        "ray": Section(RaySpec),
        "signing": Section(SigningSpec),
        "deployed": Section(DeployedSpec),
    }

    @staticmethod
    def problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        names = [e.name for e in values["explainers"]]
        for i, name in enumerate(names):
            if name in names[:i]:
                first = names.index(name)
                yield f"explainers[{i}].name", f"{name!r} is listed twice (also explainers[{first}])"
        yield from _unique_ids("thresholds", values["thresholds"])
        yield from _unique_ids("requirements", values["requirements"])
        for i, t in enumerate(values["thresholds"]):
            if t.explainers != "all":
                for j, name in enumerate(t.explainers):
                    if name not in names:
                        yield (f"thresholds[{i}].explainers[{j}]",
                               f"explainer {name!r} is not in this policy's explainers ({', '.join(names)})")
        yield from _property_thresholds(values["thresholds"], values["properties"], names)
        yield from _pair_thresholds(values["thresholds"], names)
        yield from _deployed_test(values["deployed"], values["dataset"])
        ids = [t.id for t in values["thresholds"]]
        for i, r in enumerate(values["requirements"]):
            for j, cited in enumerate(r.evidence):
                if cited not in ids:
                    known = ", ".join(ids) if ids else "none"
                    yield (f"requirements[{i}].evidence[{j}]",
                           f"no threshold has id {cited!r} (threshold ids: {known}){suggestion(cited, ids)}")

    @property
    def origin(self) -> Path:
        """The policy file, or :data:`DICT_ORIGIN` for a policy given as a dict."""
        return self.source or DICT_ORIGIN

    def to_dict(self) -> dict[str, Any]:
        """The resolved policy as JSON-ready data, in the YAML's shape (``source``, ``sha256`` left out)."""
        skip = {"source", "sha256", "lines", "objects"}
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in skip}


def _property_thresholds(thresholds: tuple[ThresholdSpec, ...], properties: PropertiesSpec,
                         names: list[str]) -> Iterator[tuple[str, str]]:
    """A threshold on a property needs it measured, and completeness only exists where claimed."""
    for i, t in enumerate(thresholds):
        section = PROPERTY_METRICS.get(t.metric)
        if section is None:
            continue
        if not getattr(properties, section).enabled:
            yield (f"thresholds[{i}].metric",
                   f"{t.metric} is measured by properties.{section}, which is disabled: enable it or "
                   "remove this threshold")
        if section == "completeness":
            named = names if t.explainers == "all" else list(t.explainers)
            complete = complete_explainers()
            others = [n for n in named if n not in complete]
            if others:
                yield (f"thresholds[{i}].explainers",
                       f"{', '.join(others)} claim{'s' if len(others) == 1 else ''} no completeness, so "
                       f"completeness_error is not measured there: list only "
                       f"{', '.join(sorted(complete))}")


def _pair_thresholds(thresholds: tuple[ThresholdSpec, ...], names: list[str]) -> Iterator[tuple[str, str]]:
    """A threshold on a pair metric needs two explainers to pair."""
    for i, t in enumerate(thresholds):
        if t.metric not in PAIR_METRICS:
            continue
        named = pair_members(t.explainers, names)
        if len(named) < 2:
            key = "explainers" if t.explainers != "all" else "metric"
            yield (f"thresholds[{i}].{key}",
                   f"{t.metric} compares pairs of explainers, and this threshold names "
                   f"{len(named)} ({', '.join(named) or 'none'}): name at least two (controls only "
                   "when listed)")


def pair_members(explainers: str | tuple[str, ...], names: list[str]) -> list[str]:
    """The explainers a threshold on a pair metric pairs: those it lists, or for ``all`` every one of
    ``names`` (the policy's, in order) that is not a control.

    >>> pair_members("all", ["saliency", "random", "gradcam"])
    ['saliency', 'gradcam']
    """
    if explainers != "all":
        return list(explainers)
    controls = control_explainers()
    return [n for n in names if n not in controls]


def _deployed_test(deployed: DeployedSpec, dataset: DatasetSpec) -> Iterator[tuple[str, str]]:
    """The deployed model's test images are read as the dataset's kind reads them."""
    if not deployed.held_out:
        return
    kind = dataset.kind
    if kind in ("digits", in_memory_kind()):
        key = "deployed.test_path" if deployed.test_path is not None else "deployed.test_split"
        yield key, (f"{kind} images cannot be split for the deployed model's test: audit a dataset "
                    "read from files, or leave test_path and test_split out")
    elif deployed.test_split is not None and deployed.test_split not in dataset_splits(kind):
        yield "deployed.test_split", f"{kind} has no {deployed.test_split!r} split; use 'all'"


def _unique_ids(section: str, items: tuple[Any, ...]) -> Iterator[tuple[str, str]]:
    ids = [item.id for item in items]
    for i, item_id in enumerate(ids):
        if item_id in ids[:i]:
            yield f"{section}[{i}].id", f"id {item_id!r} is used twice (also {section}[{ids.index(item_id)}])"


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts, tuples as lists, paths as strings."""
    if isinstance(value, ExplainerSpec):
        return {"name": value.name, **{k: _plain(v) for k, v in value.settings.items()}}
    if isinstance(value, TransformationSpec):
        own = TRANSFORMATIONS[value.name]
        return {"name": value.name, **({} if own is None else {own.key: value.amount})}
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def __getattr__(name: str) -> Any:
    """The registries' facts under their former names (``EXPLAINER_SETTINGS``, ...), read on first use."""
    from auditkit.policy import registries

    if name in registries.FORMER_NAMES:
        return registries.FORMER_NAMES[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
