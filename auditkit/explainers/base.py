"""The contract every explainer honours: :class:`Explainer`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from itertools import chain
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from auditkit._batching import batch_slices
from auditkit.constraints import Constraint, Interval, must
from auditkit.errors import ExplainerError

BATCH_SIZE = Interval(int, 1, 2**31 - 1)
"""What ``batch_size`` accepts."""
GENERATOR_SEED = Interval(int, 0, 2**63 - 1)
"""What ``generator_seed`` of a ``seeded`` method accepts (what ``torch.Generator.manual_seed`` takes)."""


class Evaluations(NamedTuple):
    """The model evaluations one explanation of one image costs
    (:meth:`Explainer.evaluations_per_image`), as the audit's cost plan counts them.

    Attributes:
        forward: forward passes without autograd (masked or occluded copies).
        grad: forward passes followed by a backward to the input (to the layer for Grad-CAM).
        driver: the settings the count grows with, as ``auditkit plan`` names them (``""``: fixed).
    """

    forward: int = 0
    grad: int = 0
    driver: str = ""


def target_gradients(forward_fn: Callable[..., Tensor], inputs: tuple[Tensor, ...], target_ind: Tensor,
                     additional_forward_args: Any = None) -> tuple[Tensor, ...]:
    """``d f_{c_n}(x_n) / d x_n`` of every row n of ``inputs``: one backward pass of
    ``sum_n f_{c_n}(x_n)``, the rows being independent (eval mode: no batch statistics).

    The contract of captum's ``gradient_func`` (``captum._utils.gradient.compute_gradients``), which
    :class:`~auditkit.explainers.integrated_gradients.IntegratedGradients` installs in captum's
    method and :class:`~auditkit.explainers.saliency.Saliency` calls. captum's own function gives the
    same gradients to the bit (tested) but differentiates ``torch.unbind`` of the outputs, one
    gradient output tensor per row (60 x 256 per batch of Integrated Gradients): on 8x8 digits in
    batches of 256 that was about 20 % of the method's time.

    Args:
        forward_fn: the model, ``[B, ...] -> [B, classes]``.
        inputs: ``(x,)`` or the tensors ``forward_fn`` takes, each ``[B, ...]``, requiring grad.
        target_ind: ``Tensor[B]`` class of each row, or one class for all (captum passes one when
            a chunk holds one image and several steps).
        additional_forward_args: passed after ``inputs`` (a tuple, one value, or ``None``).
    """
    extra = () if additional_forward_args is None else (
        additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,))
    with torch.enable_grad():
        logits = forward_fn(*inputs, *extra)
        index = torch.as_tensor(target_ind, device=logits.device).reshape(-1, 1)
        if index.shape[0] == 1:  # one class for every row, as captum reads a single target
            index = index.expand(logits.shape[0], 1)
        return torch.autograd.grad(logits.gather(1, index).sum(), inputs)


class Explainer(ABC):
    """Attribution maps for a classifier's logit ``f_c`` of the given target class ``c``.

    Subclasses implement :meth:`_attribute` on one chunk of at most ``batch_size`` images;
    :meth:`explain` checks the call, cuts ``x`` into chunks with :func:`auditkit._batching.batch_slices`
    and writes each chunk's maps into one preallocated float32 output. Internal model evaluations
    (integration steps, noisy copies, masked copies) are capped by ``batch_size`` too, so memory is
    bounded whatever ``N``, and results do not depend on ``batch_size`` beyond float rounding.

    The class attributes are the facts of the method: the policy schema, the engine and the report read
    them here and nowhere else.

    Class attributes:
        name: registry name.
        label: the name a reader sees (``"Grad-CAM"``).
        settings: the method's own settings a policy may set, each with what it accepts; their
            defaults are those of ``__init__`` (the paper's, appendix B). ``__init__`` checks each with
            the same constraint (:meth:`_setting`), so the policy and the class cannot disagree.
        control: a control map, not a method under audit (``random``): a yardstick the methods must
            beat; never gated by the sanity checks and never cited as evidence for a method.
        needs_layer: needs a convolutional ``layer`` (Grad-CAM, Grad-CAM++).
        pixel_wise: maps are ``[N, C, H, W]`` (one value per input feature); ``False`` gives ``[N, 1, H, W]``.
        seeded: draws random numbers from a ``torch.Generator`` seeded with ``generator_seed``.
        budget: the setting that sizes the method's Monte-Carlo sample or quadrature (``steps``,
            ``samples``, ``masks``): doubling it should barely move the maps, which the audit's
            convergence checks measure (:mod:`auditkit.engine.convergence`); ``None``: none.
        background_size: how many images of the explained model's own training set the method draws
            its baselines from (Expected Gradients); ``0``: it needs none. :func:`make_explainer` hands
            them over as ``background``.
        completeness_baseline: the default scalar baseline x0 of a method that claims completeness
            (its maps sum to ``f_c(x) - f_c(x0)``), checked by the audit's completeness property with
            the instance's :meth:`reference` (which a method with a baseline setting overrides);
            ``None`` for a method that makes no such claim.

    Every call requires the model in eval mode (all submodules: dropout or batch-norm in training mode
    would make maps random), leaves no ``.grad`` on parameters (gradients are taken with
    ``torch.autograd.grad``) and never changes ``requires_grad`` of parameters or of ``x``.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    settings: ClassVar[Mapping[str, Constraint]] = {}
    control: ClassVar[bool] = False
    needs_layer: ClassVar[bool] = False
    pixel_wise: ClassVar[bool] = True
    seeded: ClassVar[bool] = False
    budget: ClassVar[str | None] = None
    background_size: ClassVar[int] = 0
    completeness_baseline: ClassVar[float | None] = None

    def __init__(self, model: nn.Module, *, batch_size: int = 256) -> None:
        if not isinstance(model, nn.Module):
            raise ExplainerError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.batch_size = must(batch_size, "batch_size", BATCH_SIZE, ExplainerError)
        self._num_classes: int | None = None

    @classmethod
    def evaluations_per_image(cls, settings: Mapping[str, Any],
                              image_size: tuple[int, int]) -> Evaluations:
        """The model evaluations one map of an ``image_size`` ``(H, W)`` image costs with ``settings``
        (the method's settings, every one given): the cost plan's count (``auditkit plan``) and the
        cost column of the documentation's table of methods. None for a control (the default)."""
        return Evaluations()

    def reference(self, x: Tensor) -> Tensor:
        """The baseline x0 of images ``x`` ``[N, C, H, W]`` that completeness is measured against:
        :attr:`completeness_baseline` everywhere (a method without a claim has none)."""
        if self.completeness_baseline is None:
            raise ExplainerError(f"{self.name} makes no completeness claim and has no baseline")
        return torch.full_like(x, self.completeness_baseline)

    @classmethod
    def size_problems(cls, settings: Mapping[str, Any],
                      image_size: tuple[int, int]) -> Iterator[tuple[str, str]]:
        """``(setting, problem)`` for each of ``settings`` (name -> value) that images of ``image_size``
        ``(H, W)`` pixels cannot take (a window larger than the image); none for most methods.
        ``auditkit validate`` reports them at the setting's line, and the method refuses such images."""
        return iter(())

    def _check_size(self, image_size: tuple[int, int]) -> None:
        """Raise :class:`ExplainerError` for the first of :meth:`size_problems` of this instance."""
        settings = {name: getattr(self, name) for name in self.settings}
        for name, problem in self.size_problems(settings, image_size):
            raise ExplainerError(f"{self.name}: {name} {problem}")

    @classmethod
    def _setting(cls, name: str, value: Any) -> Any:
        """``value`` of the declared setting ``name``, checked by its constraint in :attr:`settings`."""
        return must(value, name, cls.settings[name], ExplainerError)

    def explain(self, x: Tensor, targets: Tensor) -> Tensor:
        """Attribution maps of ``x`` for ``targets``.

        Args:
            x: ``Tensor[N, C, H, W]``, floating point, on the model's device.
            targets: ``Tensor[N]`` integer class indices in ``[0, num_classes)`` (any device).

        Returns:
            ``Tensor[N, C, H, W]`` (``pixel_wise``) or ``Tensor[N, 1, H, W]``, float32, detached, on
            ``x``'s device.
        """
        targets = self._check_call(x, targets)
        n, c, h, w = x.shape
        out = torch.empty((n, c if self.pixel_wise else 1, h, w), dtype=torch.float32, device=x.device)
        for part in batch_slices(n, self.batch_size):
            out[part] = self._attribute(x[part].detach(), targets[part]).detach()
        return out

    @abstractmethod
    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        """Maps of one checked chunk: ``x`` ``[B, C, H, W]`` (detached, B <= batch_size), ``targets`` ``[B]``.

        Returns ``Tensor[B, C, H, W]`` (``pixel_wise``) or ``Tensor[B, 1, H, W]``, float32.
        """

    def _check_call(self, x: Tensor, targets: Tensor) -> Tensor:
        """Check ``x``, ``targets`` and the model state; return ``targets`` as int64 on ``x``'s device."""
        if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
            got = f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
            raise ExplainerError(f"x must be a floating-point Tensor[N, C, H, W], got {got}")
        if not isinstance(targets, Tensor) or targets.shape != (x.shape[0],):
            got = f"shape {tuple(targets.shape)}" if isinstance(targets, Tensor) else type(targets).__name__
            raise ExplainerError(f"targets must be a Tensor[N] with N = {x.shape[0]} (len of x), got {got}")
        if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
            raise ExplainerError(f"targets must hold integer class indices, got dtype {targets.dtype}")
        training = next((name or "model" for name, m in self.model.named_modules() if m.training), None)
        if training is not None:
            raise ExplainerError(
                f"{self.name}: the model must be in eval mode, but {training!r} is in training mode "
                "(dropout/batch-norm would make maps random); call model.eval() first"
            )
        ref = next(chain(self.model.parameters(), self.model.buffers()), None)
        if ref is not None and ref.device != x.device:
            raise ExplainerError(
                f"x is on {x.device} but the model is on {ref.device}; move x to {ref.device}"
            )
        targets = targets.to(device=x.device, dtype=torch.int64)
        if targets.numel():
            k = self._classes(x[:1])
            low, high = int(targets.min()), int(targets.max())
            if low < 0 or high >= k:
                bad = low if low < 0 else high
                raise ExplainerError(f"targets must be class indices in [0, {k - 1}], got {bad}")
        return targets

    def _classes(self, probe: Tensor) -> int:
        """Number of logits, from one forward pass on ``probe`` ``[1, C, H, W]`` (cached)."""
        if self._num_classes is None:
            with torch.no_grad():
                out = self.model(probe.detach())
            if not isinstance(out, Tensor) or out.dim() != 2:
                got = f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
                raise ExplainerError(f"the model must return logits Tensor[N, num_classes], got {got}")
            self._num_classes = int(out.shape[1])
        return self._num_classes
