"""The Python API: what ``auditkit run`` does, callable from a notebook or a script.

- :func:`audit` runs the audit a policy describes and writes results.json; it returns the typed
  :class:`~auditkit.engine.AuditResult`.
- :func:`certify` is ``auditkit run``: audit, summary, report, signature, history record and kept
  dossier; it returns a :class:`Certification`. :func:`auditkit.cli.main` calls it.
- :func:`plan` is ``auditkit plan``: what the audit will cost on this device, phase by phase, and
  whether its evidence will be measurable (:class:`~auditkit.cost.Plan`), before anything trains.
- :func:`train_deployed` is ``auditkit train``: the policy's model trained by its recipe on every
  audited image, written where ``deployed.checkpoint`` can name it (a :class:`TrainedCheckpoint`).

``policy`` is a path to a policy file, a dict in the file's shape (its problems name the key path, as
a file's name the line: :func:`~auditkit.policy.policy_from_dict`) or a loaded
:class:`~auditkit.policy.Policy`. Objects may stand for what a policy names by dotted path:
``model_factory`` for ``model.factory`` (called as ``factory(num_classes=, in_channels=,
image_size=, **model.kwargs)``), ``train_fn`` for ``training.function`` (the contract of
:class:`~auditkit.policy.TrainingSpec`), ``data`` for a ``kind: python`` dataset (an ``(images,
labels)`` pair of tensors or a torch ``Dataset``, :func:`~auditkit.data.memory.from_python`). Each
object is recorded, as a dotted path is, by qualified name and the SHA-256 of its source file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from auditkit.errors import OutputError, PolicyError
from auditkit.signing.options import SigningOptions

if TYPE_CHECKING:
    from auditkit.cost import Plan
    from auditkit.data import ImageDataset
    from auditkit.engine import AuditResult
    from auditkit.policy import Policy
    from auditkit.results import CostPlan

def _quiet(_: str) -> None:
    """The default log: nothing."""


def read_policy(policy: str | Path | Mapping[str, Any] | Policy) -> Policy:
    """A loaded :class:`~auditkit.policy.Policy` from a path, a dict or a Policy (returned as is)."""
    from auditkit.policy import Policy, load_policy, policy_from_dict

    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return policy_from_dict(policy)
    if isinstance(policy, (str, Path)):
        return load_policy(policy)
    raise TypeError(f"policy must be a path, a dict or a Policy, got {type(policy).__name__}")


def dotted_name(obj: Callable[..., Any]) -> str:
    """``module:qualname`` of ``obj``, as a policy would name it.

    >>> dotted_name(dotted_name)
    'auditkit.api:dotted_name'
    """
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _error(policy: Policy, key: str, message: str) -> PolicyError:
    line = policy.lines.get(key) if key in policy.lines else policy.lines.get(key.partition(".")[0])
    return PolicyError(message, file=policy.origin, line=line, key=key)


def _section_problems(policy: Policy, section: str, spec: Any) -> None:
    """Raise the first rule ``spec`` (a replaced section of ``policy``) breaks, at its key."""
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    for key, message in type(spec).problems(values):
        raise _error(policy, f"{section}.{key}", message)


def with_objects(policy: Policy, model_factory: Callable[..., Any] | None = None,
                 train_fn: Callable[..., Any] | None = None) -> Policy:
    """``policy`` with ``model_factory`` as its ``model.factory`` and ``train_fn`` as its
    ``training.function`` (named by :func:`dotted_name`, the objects in :attr:`Policy.objects`).

    Raises:
        PolicyError: the policy already names what builds the model (``model.family``,
            ``torchvision`` or ``factory``) or trains it (``training.function``, or a setting of
            auditkit's loop), or ``model.kwargs`` without a factory; ``TypeError``: not callable.
    """
    objects = dict(policy.objects)
    model, training = policy.model, policy.training
    if model_factory is not None:
        if not callable(model_factory):
            raise TypeError(f"model_factory must be callable, got {type(model_factory).__name__}")
        for key in ("family", "torchvision", "factory"):
            if f"model.{key}" in policy.lines:
                raise _error(policy, f"model.{key}", f"model_factory passed to auditkit builds the model: "
                             f"remove model.{key}")
        model = dataclasses.replace(model, family=None, factory=dotted_name(model_factory))
        _section_problems(policy, "model", model)
        objects["factory"] = model_factory
    if train_fn is not None:
        if not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        if "training.function" in policy.lines:
            raise _error(policy, "training.function", "train_fn passed to auditkit trains the model: "
                         "remove training.function")
        training = dataclasses.replace(training, function=dotted_name(train_fn))
        _section_problems(policy, "training", training)
        objects["function"] = train_fn
    return dataclasses.replace(policy, model=model, training=training, objects=MappingProxyType(objects))


def prepare(policy: str | Path | Mapping[str, Any] | Policy, *,
            model_factory: Callable[..., Any] | None = None, train_fn: Callable[..., Any] | None = None,
            data: Any = None) -> tuple[Policy, ImageDataset | None]:
    """The policy with the objects in it, and ``data`` as a dataset resized as the policy declares."""
    loaded = with_objects(read_policy(policy), model_factory, train_fn)
    if data is None:
        return loaded, None
    from auditkit.data.memory import from_python
    from auditkit.engine.preflight import declared_resize

    return loaded, from_python(data, declared_resize(loaded))


def plan(policy: str | Path | Mapping[str, Any] | Policy, *,
         model_factory: Callable[..., Any] | None = None, train_fn: Callable[..., Any] | None = None,
         data: Any = None, device: str | None = None, accuracy: float | None = None) -> Plan:
    """``auditkit plan``: the model evaluations of every phase of the audit ``policy`` describes, this
    device's rates measured on its own model (seconds), the estimated time of each phase and in
    total, and the S= and S≠ pairs to expect (at the clean ``accuracy`` when given); nothing is
    trained or written. ``.lines()`` is the text, ``.to_dict()`` the JSON (:class:`~auditkit.cost.Plan`).

    Raises:
        PolicyError: a bad policy, as :func:`audit`. CalibrationError: a batch that does not fit the
            device's memory (which, and the setting to lower).
    """
    from auditkit.cost import make_plan

    loaded, dataset = prepare(policy, model_factory=model_factory, train_fn=train_fn, data=data)
    return make_plan(loaded, device=device or loaded.run.device, accuracy=accuracy, data=dataset)


def _estimate(policy: Policy, dataset: ImageDataset | None, device: str,
              log: Callable[[str], None]) -> CostPlan:
    """The cost plan of a run about to start, its headline logged: results.json's ``plan``."""
    from auditkit.cost import make_plan

    made = make_plan(policy, device=device, data=dataset)
    for line in made.headline():
        log(line)
    return made.record()


def audit(policy: str | Path | Mapping[str, Any] | Policy, *,
          model_factory: Callable[..., Any] | None = None, train_fn: Callable[..., Any] | None = None,
          data: Any = None, out: str | Path | None = None, device: str | None = None,
          fresh: bool = False, ray: bool = False, progress: bool | None = None, plan: bool = False,
          log: Callable[[str], None] = _quiet) -> AuditResult:
    """Run the audit ``policy`` describes and write results.json into ``out`` (default: the
    policy's ``run.out``); the :class:`~auditkit.engine.AuditResult` (``.passed``; ``.document()``,
    results.json's content). ``plan``: estimate its cost first (:func:`plan`, logged), recorded in
    results.json beside the measured time of each stage.

    Progress: ``progress=None`` (the default) draws bars when someone is watching: tqdm's notebook
    bar in a Jupyter kernel (its text bar on stderr without ipywidgets), its text bar on stderr when
    stderr is a terminal, none otherwise (a script piped to a file, a cron job); ``True`` always
    draws them, ``False`` never (:func:`~auditkit.engine.progress.bar_class`). ``log`` (default:
    nothing) receives the run's lines, ``log=print`` for instance: the data set, each phase's
    figures as it ends (fold accuracies, each method's scores, each sanity level), and, when no bar
    is drawn, a line as each long phase starts (the trainings, each explanation pass, each method's
    properties), so a run without a terminal is never silent for a whole phase.

    Raises:
        PolicyError: a bad policy, or objects or data that do not fit it, naming the key.
        AuditError: the audit could not run (missing data, an operator's function that fails, ...).

    Example (a notebook)::

        result = auditkit.audit({"version": 1, "name": "mine", "dataset": {"kind": "python"},
                                 "explainers": [{"name": "saliency"}]},
                                model_factory=make_net, train_fn=fit, data=(images, labels), out="out")
    """
    from auditkit.engine import AuditOptions, run_audit

    loaded, dataset = prepare(policy, model_factory=model_factory, train_fn=train_fn, data=data)
    where = device or loaded.run.device
    options = AuditOptions(loaded, _out(loaded, out), device=where, progress=progress, ray=ray, fresh=fresh,
                           data=dataset, plan=_estimate(loaded, dataset, where, log) if plan else None)
    return run_audit(options, log=log)


def _out(policy: Policy, out: str | Path | None) -> Path:
    """The out folder: ``out``, checked, or the policy's ``run.out`` (checked with its paths)."""
    from auditkit.policy.paths import out_folder_problem

    if out is None:
        return Path(policy.run.out)
    problem = out_folder_problem(Path(out))
    if problem:
        raise OutputError(f"out: the out folder {out} {problem}")
    return Path(out)


@dataclass(frozen=True)
class Certification:
    """What :func:`certify` did: the audit, where its dossier is, who signed it, its history record."""

    result: AuditResult
    """The audit."""
    out: Path
    """The out folder: results.json, summary.txt, report.pdf, report.html and signatures."""
    files: tuple[Path, ...]
    """The dossier's files at the top of ``out`` (results.json first)."""
    kept: Path
    """The folder keeping this audit's copy of the dossier (``out/audits/<id>-<digest>/``)."""
    db: Path
    """The history database."""
    record: Any
    """The audit's history row (:class:`auditkit.history.AuditRow`); ``record.id`` is its number."""
    signer_fingerprint: str | None = None
    """SHA-256 of the signer's certificate; ``None``: unsigned."""
    previous: Any = None
    """With ``compare``: the previous finished audit of the policy's name, if any."""
    regressions: tuple[Any, ...] = ()
    """With ``compare``: the scores that dropped significantly since ``previous``."""

    @property
    def passed(self) -> bool:
        """The audit passed and no score dropped significantly (``auditkit run``'s exit 0)."""
        return self.result.passed and not self.regressions


def _keep_folds(folder: Path, document: Any, out: Path) -> list[Path]:
    """The k fold checkpoints kept in the kept dossier ``folder`` (``folds/``, hard links of the work
    files results.json's ``decisions`` names, each checked against its digest there); none without
    ``decisions`` (no deployed checkpoint)."""
    from auditkit.engine.crosstrain import checkpoint_path
    from auditkit.engine.workfiles import WORK_DIR
    from auditkit.history.archive import keep_linked

    if document.decisions is None:
        return []
    kept = [folder / c.file for c in document.decisions.fold_checkpoints]
    for path, c in zip(kept, document.decisions.fold_checkpoints, strict=True):
        keep_linked(path, checkpoint_path(out / WORK_DIR, c.fold - 1), c.sha256)
    return kept


_POLICY_SIGNING = SigningOptions()
"""No signing option given: the policy's ``signing`` section decides."""


def certify(policy: str | Path | Mapping[str, Any] | Policy, *,
            model_factory: Callable[..., Any] | None = None, train_fn: Callable[..., Any] | None = None,
            data: Any = None, out: str | Path | None = None, device: str | None = None,
            signing: SigningOptions = _POLICY_SIGNING, db: str | Path | None = None, fresh: bool = False,
            ray: bool = False, compare: bool = False, progress: bool | None = None, plan: bool = True,
            log: Callable[[str], None] = _quiet) -> Certification:
    """``auditkit run``: audit, write summary.txt and the report, sign it, record it in the history
    (``db``, default ``out/history.sqlite``) and keep the dossier in ``out/audits/<id>-<digest>/``.

    Bad input fails before anything is logged (one error, nothing else on the CLI's stderr): the
    policy, its paths, model and image sizes (:func:`~auditkit.engine.preflight.check_setup`) and the
    signing key (``signing``, else the policy's ``signing`` section), loaded before any fold trains;
    then the policy's digest is logged first. ``compare``: compare with the previous
    finished audit of the policy's name (:attr:`Certification.regressions`). ``plan``: estimate the
    audit's cost before the first fold trains (:func:`plan`; its headline logged after the policy's
    digest), recorded in results.json beside the measured time of each stage. ``progress`` and
    ``log`` as in :func:`audit` (bars by default in a terminal or a notebook).

    Raises:
        PolicyError, SigningError, AuditError: as :func:`audit`, and a key that cannot be loaded.
    """
    from auditkit.engine.preflight import check_setup
    from auditkit.history import DB_FILE_NAME, record_audit
    from auditkit.signing.options import plan_signing

    loaded, dataset = prepare(policy, model_factory=model_factory, train_fn=train_fn, data=data)
    folder = _out(loaded, out)
    database = Path(db) if db is not None else folder / DB_FILE_NAME
    check_setup(loaded, dataset)  # the paths, the model and the image sizes, at their policy lines
    signing_plan = plan_signing(signing.or_policy(loaded.signing))  # read now: the key signs at the end
    log(f"policy '{loaded.name}' sha256 {loaded.sha256}")
    where = device or loaded.run.device
    estimate = _estimate(loaded, dataset, where, log) if plan else None
    with record_audit(database, loaded.name, loaded.sha256, folder, log=log) as recording:
        from auditkit.engine import AuditOptions

        options = AuditOptions(loaded, folder, device=where, progress=progress, ray=ray,
                               history=recording.stamp, fresh=fresh, data=dataset, plan=estimate)
        done = _certified(options, recording, signing_plan, database, log)
        previous = recording.store.previous_finished(done.record) if compare else None
        changes = [] if previous is None else recording.store.changes(previous, done.record)
    log(f"recorded as audit #{done.record.id} in {database}; its dossier is kept in {done.kept}")
    if compare and previous is None:
        log(f"no earlier finished audit of policy '{loaded.name}' to compare with")
    return dataclasses.replace(done, previous=previous,
                               regressions=tuple(c for c in changes if c.regression))


def _certified(options: Any, recording: Any, plan: Any, database: Path,
               log: Callable[[str], None]) -> Certification:
    """Inside the history lock: the audit, its summary, report, signature, kept copy and record."""
    from auditkit.engine import run_audit
    from auditkit.history import report_data
    from auditkit.history.archive import keep_dossier, keep_unkept
    from auditkit.report import render_report
    from auditkit.report.text import write_summary
    from auditkit.signing.options import sign_planned
    from auditkit.signing.sign import remove_signatures

    out = options.out_dir
    kept = keep_unkept(out)  # the dossier at the top, kept before anything replaces it
    if kept is not None:
        log(f"the earlier dossier at the top of {out} is kept in {kept}")
    remove_signatures(out)  # none may stay beside content it does not sign
    result = run_audit(options, log=log)
    document = result.document()  # what results.json holds, handed on without reading it back
    write_summary(document, out)
    reports = render_report(document, out,
                            history=report_data(recording.store, options.policy.name, document),
                            signer=None if plan is None else plan.signer)  # named on page one
    for path in reports:
        log(f"report written to {path}")
    signed = None if plan is None else sign_planned(out, plan)
    if signed is not None:
        reports = [*reports, *signed.signatures]
        log(f"report signed (PAdES {signed.level}) by certificate sha256 {signed.signer_fingerprint}")
    dossier = [out / "results.json", out / "summary.txt", *reports]
    copies = keep_dossier(out, int(recording.stamp["audit_id"]), dossier)
    copies += _keep_folds(copies[0].parent, document, out)
    record = recording.finish(dossier[0], [*dossier[1:], *copies],
                              signer_fingerprint=None if signed is None else signed.signer_fingerprint,
                              signer=None if signed is None else signed.signer)
    return Certification(result, out, tuple(dossier), copies[0].parent, database, record,
                         None if signed is None else signed.signer_fingerprint)


def explain(audit: str | Path, images: str | Path | list[str | Path], *, trust: Any = (),
            decision_id: str | None = None, out: str | Path | None = None,
            checkpoint: str | Path | None = None, methods: list[str] | None = None,
            signing: SigningOptions | None = None, device: str = "cpu", progress: bool = False,
            log: Callable[[str], None] = _quiet) -> Any:
    """``auditkit explain``: a decision sheet for each decision of ``images`` under the signed audit in
    ``audit``, explained with the methods it certified (:mod:`auditkit.decision`); the
    :class:`~auditkit.decision.sheets.Explained` sheets.

    Args:
        audit: the out folder of a signed ``auditkit run``, or a kept dossier ``audits/<id>-<hex>/``.
        images: image files, folders of image files, or CSV logs ``decision_id,image_path``.
        trust: CA certificates the audit's signatures must chain to (as ``auditkit verify --trust``).
        decision_id: the id of a single image's decision (default its file's stem).
        out: where the sheets go (default ``<audit out folder>/decisions/``), one folder each.
        checkpoint: the deployed checkpoint, when not where the audit found it (its SHA-256 must be
            the audited one).
        methods: explain with these certified methods only (default: every certified one).
        signing: the key that signs each sheet as the audit's files are signed (default: unsigned).

    Raises:
        DecisionError, DataError, SigningError: a bad input, nothing written.

    Example (a notebook)::

        done = auditkit.explain("out", ["appeal-17.png"], trust=["ca.pem"], decision_id="appeal-17")
        done.sheets[0].sheet.decision.predicted.label
    """
    from auditkit.decision.sheets import explain_all

    paths = [images] if isinstance(images, (str, Path)) else list(images)
    return explain_all(audit, paths, trust=list(trust), decision_id=decision_id, out=out,
                       checkpoint=checkpoint, methods=methods, signing=signing, device=device,
                       progress=progress, log=log)


@dataclass(frozen=True)
class TrainedCheckpoint:
    """What :func:`train_deployed` wrote.

    Attributes:
        path: the checkpoint file; sha256: the SHA-256 of its bytes (results.json's
            ``deployed.sha256`` once a policy names it); images: the audited images it was trained
            on; seed: ``training.seed``.
    """

    path: Path
    sha256: str
    images: int
    seed: int


def train_deployed(policy: str | Path | Mapping[str, Any] | Policy, out: str | Path, *, force: bool = False,
                   model_factory: Callable[..., Any] | None = None,
                   train_fn: Callable[..., Any] | None = None, data: Any = None,
                   device: str | None = None, progress: bool = False,
                   log: Callable[[str], None] = _quiet) -> TrainedCheckpoint:
    """``auditkit train``: train the policy's model with its recipe (the folds' code,
    :func:`~auditkit.engine.crosstrain.train_on_all`) on every audited image, seeded by
    ``training.seed``, and write it to ``out`` atomically (:func:`~auditkit.models.save_checkpoint`),
    a checkpoint ``deployed.checkpoint`` can name. The policy is checked as ``run`` checks it, its
    ``deployed`` section left out (the checkpoint it names may be the one being made).

    Raises:
        PolicyError, AuditError: as :func:`certify`; OutputError: ``out`` exists (``force``: it is
            replaced) or is a folder.
    """
    import hashlib

    from auditkit.engine import resolve_device
    from auditkit.engine.crosstrain import train_on_all
    from auditkit.engine.executor import torch_settings
    from auditkit.engine.preflight import check_setup
    from auditkit.engine.progress import progress_bar
    from auditkit.engine.stages import audited_images
    from auditkit.models import save_checkpoint
    from auditkit.policy.schema import DeployedSpec

    loaded, given = prepare(policy, model_factory=model_factory, train_fn=train_fn, data=data)
    target = Path(out)
    if target.is_dir() or (target.exists() and not force):
        raise OutputError(f"out: {target} " + ("is a folder: name the checkpoint file to write"
                                                if target.is_dir() else "exists: give --force to replace it"))
    check_setup(dataclasses.replace(loaded, deployed=DeployedSpec()), given)
    where = resolve_device(device or loaded.run.device)
    torch_settings(where, loaded.run.deterministic)
    images = audited_images(loaded, given)
    log(f"policy '{loaded.name}' sha256 {loaded.sha256}: training its model on the {len(images)} audited "
        f"images (seed {loaded.training.seed}) on {where}")
    bar = progress_bar(progress, len(images) * loaded.training.epochs, "train")
    try:
        model = train_on_all(loaded, images, device=where, progress=bar.update)
    finally:
        bar.close()
    meta = {"trained_on": "every audited image", "images": len(images), "dataset_sha256": images.fingerprint,
            "policy_sha256": loaded.sha256, "seed": loaded.training.seed}
    try:
        save_checkpoint(target, model.cpu(), meta, replace=force)
    except FileExistsError:
        raise OutputError(f"out: {target} was written while training: give --force to replace it") from None
    return TrainedCheckpoint(target, hashlib.sha256(target.read_bytes()).hexdigest(), len(images),
                             loaded.training.seed)


__all__ = ["Certification", "TrainedCheckpoint", "audit", "certify", "dotted_name", "explain", "plan",
           "prepare", "read_policy", "train_deployed", "with_objects"]
