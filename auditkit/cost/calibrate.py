"""This device's rates on the policy's own model: a few timed batches of each kind of evaluation.

:func:`calibrate` builds the audited model fresh (the policy's family, torchvision model or factory,
its initial weights: evaluating it costs what evaluating a trained one does) on the device the run
would use, and times, on random images of the audited size, after one warm-up call each:

- ``train``: auditkit's training loop (:func:`~auditkit.models.training.train_model`: forward,
  cross-entropy, backward, optimiser and schedule steps, the model's augmentation) on batches of
  ``training.batch_size``; an operator's ``training.function`` is assumed to cost as much;
- ``forward``: forward passes without autograd, ``grad``: forward passes with a backward to the input
  (:func:`~auditkit.explainers.base.target_gradients`), both on batches of
  ``metrics.explain_batch_size``, the batch every explainer and muF evaluate;
- ``scoring``: one explainer's scores at one level (:func:`~auditkit.engine.scoring.explainer_scores`:
  the bootstrap resamples and ReCo's permutation null), on a synthetic distance record of at most
  :data:`SCORING_IMAGES` images with at most :data:`SCORING_DRAWS` resamples and as many permutations,
  scaled linearly to the audited images and to the policy's resamples plus permutations (its cost
  is about linear in each; equal ones, the default, make the two scalings one).

Each kind is timed for about :data:`SECONDS_PER_KIND` (at least one call after the warm-up, at most
:data:`MAX_CALLS`), and its rate is the batch over the median call: a call stalled by another
process's burst does not set it (a run beside a test suite measured a tenth of the rate with the
mean); a kind no phase uses is not timed. The global random state is left as it was
(:func:`torch.random.fork_rng`), so a run that calibrates gives the numbers of one that does not.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from auditkit.data import ImageDataset
from auditkit.engine.crosstrain import fresh_model, training_config
from auditkit.engine.distances import DistanceRecord
from auditkit.engine.faithfulness import sample_images
from auditkit.engine.scoring import explainer_scores
from auditkit.errors import AuditError
from auditkit.explainers.base import target_gradients
from auditkit.metrics.bootstrap import resample_weights
from auditkit.metrics.chance import image_permutations
from auditkit.models.training import train_model
from auditkit.policy import Policy
from auditkit.results import S_EQ, S_NEQ

SECONDS_PER_KIND = 0.3
"""Wall time each kind is timed for, about (after its warm-up call)."""
MAX_CALLS = 5
"""Timed calls per kind at most."""
SCORING_IMAGES = 1000
"""Images of the synthetic distance record a scoring is timed on, at most."""
SCORING_DRAWS = 200
"""Bootstrap resamples, and ReCo permutations, a scoring is timed with, at most."""

SETTING = {"train": "training.batch_size", "forward": "metrics.explain_batch_size",
           "grad": "metrics.explain_batch_size"}
"""The setting that sets each kind's batch: the one to lower when it does not fit."""


class CalibrationError(AuditError, RuntimeError):
    """A calibration batch did not fit the device's memory.

    Attributes:
        kind: ``train``, ``forward`` or ``grad``; batch_size: the batch that failed; setting: the
        policy setting that sets it.
    """

    def __init__(self, message: str, *, kind: str, batch_size: int) -> None:
        super().__init__(message)
        self.kind, self.batch_size, self.setting = kind, batch_size, SETTING[kind]


@dataclass(frozen=True)
class Rates:
    """What :func:`calibrate` measured (0 for a kind not timed).

    Attributes:
        device: where. train, forward, grad: images per second. scoring: seconds per scoring of the
        audited images. train_batch, explain_batch: the batches timed.
    """

    device: str
    train: float
    forward: float
    grad: float
    scoring: float
    train_batch: int
    explain_batch: int

    def seconds(self, train: int, forward: int, grad: int, scorings: int) -> float:
        """Estimated seconds of that work (images of each kind, scorings)."""
        rated = ((train, self.train), (forward, self.forward), (grad, self.grad))
        return sum(n / rate for n, rate in rated if n) + scorings * self.scoring


def calibrate(policy: Policy, dataset: ImageDataset, device: torch.device,
              kinds: frozenset[str] = frozenset({"train", "forward", "grad", "scoring"}),
              phases: dict[str, str] | None = None) -> Rates:
    """The rates of ``kinds`` on ``device`` for ``policy``'s model and ``dataset``'s image size.

    Args:
        phases: kind -> the phases that use it, named in the error when a batch does not fit.

    Raises:
        CalibrationError: a batch ran out of memory: which kind, phases and batch, and the setting
            to lower.
    """
    train_batch, batch = policy.training.batch_size, policy.metrics.explain_batch_size
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        model = fresh_model(policy, dataset).to(device)
        shape = (dataset.in_channels, *dataset.image_size)
        rate: dict[str, float] = {}
        for kind, size in (("train", train_batch), ("forward", batch), ("grad", batch)):
            if kind in kinds:
                call = _call(kind, model, policy, dataset, shape, size, device)
                rate[kind] = size / _timed(call, kind, size, device, (phases or {}).get(kind, ""))
    scoring = _scoring_seconds(policy, len(dataset)) if "scoring" in kinds else 0.0
    return Rates(str(device), rate.get("train", 0.0), rate.get("forward", 0.0), rate.get("grad", 0.0),
                 scoring, train_batch, batch)


def _call(kind: str, model: torch.nn.Module, policy: Policy, dataset: ImageDataset,
          shape: tuple[int, ...], size: int, device: torch.device) -> Callable[[], None]:
    """One call of ``kind`` on a batch of ``size`` random images of ``shape``."""
    x = torch.rand((size, *shape), device=device)
    y = torch.randint(0, dataset.num_classes, (size,), device=device)
    config = replace(training_config(policy, 0), epochs=1, batch_size=size)

    def once() -> None:
        if kind == "train":
            train_model(model, x, y, config, device=device)
        elif kind == "forward":
            with torch.no_grad():
                model.eval()(x)
        else:
            target_gradients(model.eval(), (x.detach().requires_grad_(True),), y)

    return once


def _timed(call: Callable[[], None], kind: str, size: int, device: torch.device, phases: str) -> float:
    """Seconds per call: the median of up to :data:`MAX_CALLS` calls after one warm-up."""
    def once() -> float:
        start = time.perf_counter()
        try:
            call()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if "out of memory" not in str(exc).lower():
                raise
            where = f" (the phases {phases})" if phases else ""
            raise CalibrationError(
                f"calibration ran out of memory on {device} at a batch of {size} images for {kind} "
                f"evaluations{where}: lower {SETTING[kind]}", kind=kind, batch_size=size) from None
        return time.perf_counter() - start

    warm = once()
    calls = max(1, min(MAX_CALLS, math.ceil(SECONDS_PER_KIND / max(warm, 1e-6))))
    return statistics.median(once() for _ in range(calls))


def _scoring_seconds(policy: Policy, n: int) -> float:
    """Seconds of one explainer's scoring on ``n`` images: timed on at most :data:`SCORING_IMAGES`
    synthetic ones (S≠ for a tenth of the pairs) and :data:`SCORING_DRAWS` draws, scaled (module
    docstring)."""
    m, k = policy.metrics, policy.cross_validation.k
    images = min(n, SCORING_IMAGES)
    resamples = min(m.bootstrap.resamples, SCORING_DRAWS)
    perms = min(m.reco_chance.permutations, SCORING_DRAWS)
    gen = torch.Generator().manual_seed(0)
    distances = torch.rand((images, k - 1), generator=gen)
    category = torch.where(torch.rand((images, k - 1), generator=gen) < 0.1, S_NEQ, S_EQ).to(torch.uint8)
    record = DistanceRecord(distances, category, torch.zeros_like(category, dtype=torch.bool),
                            torch.zeros(0, k, 1, 1), torch.zeros(0, dtype=torch.long), torch.zeros(0, k))
    sample = sample_images(images, m.mu_fidelity.samples, 0)
    weights = (None if resamples == 0 else
               resample_weights(images, resamples, torch.Generator().manual_seed(0)))
    permutations = image_permutations(images, perms, torch.Generator().manual_seed(0))
    start = time.perf_counter()
    explainer_scores("calibration", record, torch.rand(sample.numel(), generator=gen, dtype=torch.float64),
                     sample, reco_form=m.reco_form, weights=weights, confidence=m.bootstrap.confidence,
                     permutations=permutations, min_pairs=m.min_pairs)
    draws = (m.bootstrap.resamples + m.reco_chance.permutations) / (resamples + perms)
    return (time.perf_counter() - start) * n / images * draws


__all__ = ["MAX_CALLS", "SCORING_DRAWS", "SCORING_IMAGES", "SECONDS_PER_KIND", "SETTING", "CalibrationError",
           "Rates", "calibrate"]
