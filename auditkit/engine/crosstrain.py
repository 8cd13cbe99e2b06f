"""Step 1 of Algorithm 1 (Fel et al., appendix A): train f_i on D \\ V_i for every fold i.

Each fold's model is checkpointed with its held-out accuracy under a key that digests everything
the training depends on; a later run with the same key loads it instead of training again, which is
how an interrupted audit resumes without redoing finished folds. A checkpoint is verified first
(:mod:`auditkit.engine.workfiles`: digest, architecture, its held-out accuracy recomputed) and
retrained when it fails.

The training of one fold is a task of its own (:func:`train_fold`): it writes the fold's checkpoint
and returns its metadata. :func:`cross_train` trains the missing folds inline (with progress bars)
or, given an :class:`~auditkit.engine.executor.Executor`, submits them all at once (Ray), then
loads every checkpoint the same way, so both paths give the same models, bit for bit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from auditkit.data import ImageDataset
from auditkit.engine.executor import Executor, Task
from auditkit.engine.keys import keyed_settings, work_key
from auditkit.engine.workfiles import fold_checkpoint_finished, load_fold_checkpoint
from auditkit.models import (
    AuditedModel,
    ModelError,
    TrainingConfig,
    accuracy,
    build_model,
    build_torchvision,
    choose_layer,
    import_callable,
    load_checkpoint,
    load_init_weights,
    predict,
    save_checkpoint,
    source_record,
    train_model,
)
from auditkit.models.checkpoint import state_mismatch
from auditkit.policy import Policy


@dataclass(frozen=True)
class FoldModel:
    """A trained fold predictor f_i.

    Attributes:
        index: fold i (0-based).
        model: f_i, in eval mode on the audit's device.
        accuracy: accuracy of f_i on its held-out fold V_i, in [0, 1].
        n_test: |V_i|.
        checkpoint_sha256: SHA-256 of the checkpoint file.
        reused: True when loaded from an earlier run's checkpoint.
    """

    index: int
    model: nn.Module
    accuracy: float
    n_test: int
    checkpoint_sha256: str
    reused: bool


def fresh_model(policy: Policy, dataset: ImageDataset) -> nn.Module:
    """An untrained model of the policy's ``model`` section for this dataset's shape."""
    return build_audited_model(policy, in_channels=dataset.in_channels, num_classes=dataset.num_classes,
                               image_size=dataset.image_size)


def build_audited_model(policy: Policy, *, in_channels: int, num_classes: int,
                        image_size: tuple[int, int]) -> nn.Module:
    """The model the audit trains and explains, for images ``[N, in_channels, *image_size]`` in [0, 1].

    A built-in family with nothing else declared is returned as :func:`~auditkit.models.build_model`
    builds it (its checkpoints unchanged). Anything else (a torchvision architecture, a factory,
    initial weights, a Grad-CAM layer path, a token grid, a normalisation) is wrapped in
    :class:`~auditkit.models.AuditedModel`: normalisation inside, ``target_layer`` resolved in the
    operator's network, ``reset_parameters`` re-building it with its own initialisation.

    Raises:
        ModelError: the factory does not import or returns no ``nn.Module``, unknown torchvision name,
            initial weights that do not fit; ``parameter`` names the policy key.
    """
    m, norm = policy.model, policy.preprocessing.normalize
    plain = (m.source == "family" and m.init_weights is None and m.target_layer is None and norm.mean is None
             and m.token_grid is None)
    if plain:
        return _bare_network(policy, in_channels, num_classes, image_size)

    def build() -> nn.Module:
        net = _bare_network(policy, in_channels, num_classes, image_size)
        if m.init_weights is not None:
            load_init_weights(m.init_weights, net)
        return net

    net = build()
    choice = choose_layer(net, m.target_layer, token_grid=m.token_grid is not None)
    rebuild = build if (m.source != "family" or m.init_weights is not None) else None
    return AuditedModel(net, build=rebuild, layer=None if choice.own else choice.name, mean=norm.mean,
                        std=norm.std, token_grid=m.token_grid, prefix_tokens=m.prefix_tokens)


def target_layer_name(policy: Policy, model: nn.Module) -> str | None:
    """The dotted name of Grad-CAM's layer in the operator's network (``None``: the family's own)."""
    return model.layer_name if isinstance(model, AuditedModel) else None


def _policy_folder(policy: Policy) -> Path | None:
    return None if policy.source is None else Path(policy.source).parent


def operator_callable(policy: Policy, parameter: str) -> Callable[..., Any]:
    """The operator's ``factory`` (``model.factory``) or ``function`` (``training.function``): the
    Python object passed for it (:attr:`Policy.objects`), else the dotted path imported.

    Raises:
        ModelError: the path does not import (:func:`~auditkit.models.import_callable`).
    """
    given = policy.objects.get(parameter)
    if given is not None:
        return given
    path = policy.model.factory if parameter == "factory" else policy.training.function
    return import_callable(path, search=_policy_folder(policy), parameter=parameter)


def _bare_network(policy: Policy, in_channels: int, num_classes: int,
                  image_size: tuple[int, int]) -> nn.Module:
    m = policy.model
    if m.source == "family":
        return build_model(m.family, in_channels=in_channels, num_classes=num_classes,
                           image_size=image_size, base_filters=m.base_filters, dropout=m.dropout)
    if m.source == "torchvision":
        return build_torchvision(m.torchvision, num_classes=num_classes, in_channels=in_channels,
                                 kwargs=m.kwargs)
    factory = operator_callable(policy, "factory")
    try:
        net = factory(num_classes=num_classes, in_channels=in_channels, image_size=tuple(image_size),
                      **dict(m.kwargs))
    except Exception as exc:  # the operator's code failed
        raise ModelError(f"{m.factory!r} raised {type(exc).__name__}: {exc}", parameter="factory") from None
    if not isinstance(net, nn.Module):
        raise ModelError(f"{m.factory!r} returned a {type(net).__name__}, not a torch.nn.Module",
                         parameter="factory")
    return net


def operator_code(policy: Policy) -> dict[str, Any]:
    """The operator's code and files the models depend on, each with its SHA-256 (empty when none):
    ``factory`` and ``function`` (:func:`~auditkit.models.source_record`), ``init_weights``."""
    out: dict[str, Any] = {}
    if policy.model.factory is not None:
        out["factory"] = source_record(operator_callable(policy, "factory"), policy.model.factory)
    if policy.training.function is not None:
        out["function"] = source_record(operator_callable(policy, "function"), policy.training.function)
    if policy.model.init_weights is not None:
        path = policy.model.init_weights
        out["init_weights"] = {"path": str(path), "sha256": _sha256_file(path) if path.is_file() else None}
    return out


def training_config(policy: Policy, fold: int, seed_offset: int = 0) -> TrainingConfig:
    """The policy's training settings; fold i trains with seed ``training.seed + i``."""
    t = policy.training
    return TrainingConfig(
        epochs=t.epochs,
        batch_size=t.batch_size,
        optimizer=t.optimizer,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        seed=t.seed + fold + seed_offset,
        mixed_precision=t.mixed_precision or None,
    )


def fold_key(policy: Policy, dataset: ImageDataset, fold: int, labels_digest: str) -> str:
    """Digest of everything f_i depends on: the images (their fingerprint), the training labels, the
    fold, the policy sections that split, build and train it (:func:`~auditkit.engine.keys.keyed_settings`),
    and the SHA-256 of the operator's factory, training function and initial weights when there are any.
    """
    parts: dict[str, Any] = {
        "dataset": dataset.fingerprint,
        "labels": labels_digest,
        "fold": fold,
        **{name: keyed_settings(getattr(policy, name))
           for name in ("cross_validation", "model", "training", "preprocessing", "run")},
    }
    code = {name: (record.get("source_sha256") or record.get("sha256"))
            for name, record in operator_code(policy).items()}
    if code:
        parts["code"] = code
    return work_key(parts)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_fold(
    policy: Policy,
    dataset: ImageDataset,
    labels: torch.Tensor,
    held_out: torch.Tensor,
    fold: int,
    key: str,
    path: Path,
    *,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train f_i on every image but ``held_out`` and save its checkpoint to ``path``: one task.

    Seeded by ``training.seed + fold`` alone, so it gives the same weights in any process, in any
    order (on the same hardware and number of torch threads).

    Args:
        labels: training labels ``[N]`` (the dataset's, or a sanity check's shuffled ones).
        held_out: indices of V_i ``[|V_i|]``; the accuracy is measured on them with the true labels.
        key: :func:`fold_key` of this fold, stored in the checkpoint for resume.
        path: the checkpoint file (written atomically).
        device: where to train.
        progress: per-batch callback, as in :func:`~auditkit.models.train_model`.

    Returns:
        The checkpoint's metadata: key, fold, held-out accuracy, ``n_test``.
    """
    model = fit(policy, dataset, labels, _complement(held_out, len(dataset)), fold, device=device,
                progress=progress)
    acc = accuracy(model, dataset.images[held_out], dataset.labels[held_out], device=device)
    meta = {"key": key, "fold": fold, "accuracy": acc, "n_test": int(held_out.numel())}
    save_checkpoint(path, model.cpu(), meta)
    return meta


def fit(policy: Policy, dataset: ImageDataset, labels: torch.Tensor, train_idx: torch.Tensor, fold: int,
        *, device: torch.device, progress: Callable[[int], None] | None = None) -> nn.Module:
    """A fresh model of the policy trained by its recipe (auditkit's loop, or ``training.function``)
    on the images ``train_idx`` with ``labels``, seeded by ``training.seed + fold``; on ``device``."""
    if policy.training.function is None:
        model = fresh_model(policy, dataset)
        train_model(model, dataset.images[train_idx], labels[train_idx], training_config(policy, fold),
                    device=device, progress=progress)
        return model
    model = _train_with_function(policy, dataset, labels, train_idx, policy.training.seed + fold, device)
    if progress is not None:  # the function reports no steps: its bar completes when it returns
        progress(int(train_idx.numel()) * policy.training.epochs)
    return model


def train_on_all(policy: Policy, dataset: ImageDataset, *, device: torch.device,
                 progress: Callable[[int], None] | None = None) -> nn.Module:
    """The policy's model trained by its recipe on every audited image, seeded by ``training.seed``
    (the folds' code and seeds, fold 0's offset): a model the policy's ``deployed.checkpoint`` can
    name (``auditkit train``)."""
    return fit(policy, dataset, dataset.labels, torch.arange(len(dataset)), 0, device=device,
               progress=progress)


def _train_with_function(policy: Policy, dataset: ImageDataset, labels: torch.Tensor,
                         train_idx: torch.Tensor, seed: int, device: torch.device) -> nn.Module:
    """Train a fresh model with the operator's ``training.function`` (contract in
    :class:`~auditkit.policy.TrainingSpec`); return it on ``device`` in eval mode.

    The global RNG is seeded with ``seed`` before the model is built, inside
    :func:`torch.random.fork_rng`, so the caller's RNG state is unchanged afterwards.

    Raises:
        ModelError: the function raised, or returned something that is not the model it was given
            nor an ``nn.Module`` with the same ``state_dict`` names and shapes.
    """
    t = policy.training
    fit = operator_callable(policy, "function")
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        model = fresh_model(policy, dataset)
        try:
            trained = fit(model, dataset.x(train_idx), labels[train_idx].clone(), seed=seed, device=device,
                          **dict(t.kwargs))
        except Exception as exc:  # the operator's code failed
            raise ModelError(f"training function {t.function!r} raised {type(exc).__name__}: {exc}",
                             parameter="function") from exc
    if trained is not model:
        if not isinstance(trained, nn.Module):
            raise ModelError(f"training function {t.function!r} returned a {type(trained).__name__}, not "
                             "the trained model", parameter="function")
        mismatch = state_mismatch(trained.state_dict(), model)
        if mismatch:
            raise ModelError(f"training function {t.function!r} returned a model that is not the one it "
                             f"was given ({mismatch}); return the model it receives, trained",
                             parameter="function")
    return trained.to(device).eval()


def _fold_work(policy: Policy, dataset: ImageDataset, n_folds: int, workdir: Path,
               labels: torch.Tensor, tag: str) -> tuple[list[str], list[Path]]:
    """The key and the checkpoint path of each fold's training on ``labels``."""
    labels_digest = hashlib.sha256(labels.numpy().tobytes()).hexdigest()
    keys = [fold_key(policy, dataset, i, labels_digest) for i in range(n_folds)]
    return keys, [checkpoint_path(workdir, i, tag) for i in range(n_folds)]


def checkpoint_path(workdir: Path, fold: int, tag: str = "fold") -> Path:
    """The work file of fold model f_i (``fold``: i, 0-based) of a level (``tag``: ``fold`` for the
    clean audit, a sanity check's prefix otherwise).

    >>> checkpoint_path(Path("work"), 0).as_posix()
    'work/fold_0.pt'
    """
    return workdir / f"{tag}_{fold}.pt"


def training_tasks(
    policy: Policy,
    dataset: ImageDataset,
    folds: list[torch.Tensor],
    workdir: Path,
    executor: Executor,
    *,
    labels: torch.Tensor | None = None,
    tag: str = "fold",
) -> list[Task]:
    """The trainings :func:`cross_train` would do, as tasks: the folds without a finished checkpoint.

    A caller may run them (with those of other levels) before :func:`cross_train`, which then only
    loads the checkpoints. Arguments as :func:`cross_train`'s.
    """
    labels = dataset.labels if labels is None else labels
    keys, paths = _fold_work(policy, dataset, len(folds), workdir, labels, tag)
    todo = [i for i in range(len(folds))
            if not fold_checkpoint_finished(paths[i], keys[i], fresh_model(policy, dataset), fold=i,
                                            n_test=int(folds[i].numel()))]
    if not todo:
        return []
    shared, shared_labels = executor.share(dataset), executor.share(labels)
    return [Task(train_fold, (policy, shared, shared_labels, folds[i], i, keys[i], paths[i]),
                 f"train {tag} {i}", output=paths[i]) for i in todo]


def cross_train(
    policy: Policy,
    dataset: ImageDataset,
    folds: list[torch.Tensor],
    workdir: Path,
    device: torch.device,
    *,
    labels: torch.Tensor | None = None,
    tag: str = "fold",
    on_fold: Callable[[int, int], Callable[[int], None] | None] | None = None,
    executor: Executor | None = None,
) -> list[FoldModel]:
    """Train (or reload) the k fold models.

    Args:
        labels: training labels ``[N]``; default the dataset's (label shuffling passes others).
        tag: checkpoint name prefix (``fold``, or a sanity check's).
        on_fold: called with ``(fold, n_train)`` before training a fold inline; may return a
            per-batch progress callback.
        executor: when given, the folds without a finished checkpoint are trained as its tasks, all
            submitted at once (:func:`training_tasks`); ``None`` trains them here, one after the
            other. A checkpoint its tasks wrote in this run (:attr:`Executor.produced`) is not
            reported as reused (the executor logs each finished task).
    """
    labels = dataset.labels if labels is None else labels
    keys, paths = _fold_work(policy, dataset, len(folds), workdir, labels, tag)
    produced: set[Path] = set()
    if executor is not None:
        executor.run(training_tasks(policy, dataset, folds, workdir, executor, labels=labels, tag=tag))
        produced = executor.produced
    out: list[FoldModel] = []
    for i, held_out in enumerate(folds):
        model = fresh_model(policy, dataset)
        meta = load_fold_checkpoint(paths[i], keys[i], model, fold=i, held_out=held_out, dataset=dataset,
                                    device=device)
        reused = meta is not None and paths[i] not in produced
        if meta is None:
            progress = on_fold(i, len(dataset) - int(held_out.numel())) if on_fold else None
            meta = train_fold(policy, dataset, labels, held_out, i, keys[i], paths[i], device=device,
                              progress=progress)
            load_checkpoint(paths[i], model)  # the saved weights, as a resumed run gets them
        model.to(device).eval()
        out.append(FoldModel(i, model, float(meta["accuracy"]), int(meta["n_test"]),
                             _sha256_file(paths[i]), reused))
    return out


def _complement(index: torch.Tensor, n: int) -> torch.Tensor:
    keep = torch.ones(n, dtype=torch.bool)
    keep[index] = False
    return keep.nonzero().squeeze(1)


def predictions(models: list[FoldModel], dataset: ImageDataset, device: torch.device) -> torch.Tensor:
    """Predicted labels of every fold model on every image: ``Tensor[N, k]`` (int64, CPU)."""
    return torch.stack([predict(m.model, dataset.images, device=device).cpu() for m in models], dim=1)
