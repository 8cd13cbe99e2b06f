"""``auditkit run`` (:func:`auditkit.api.certify`), ``auditkit validate`` (a policy's check) and
``auditkit train`` (:func:`auditkit.api.train_deployed`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from auditkit.cli import signing
from auditkit.cli.output import EXIT_FAILED, EXIT_OK, printable, progress_log, talks


def add_parsers(commands: Any) -> None:
    """Add ``run``, ``validate`` and ``train`` to ``commands`` (``parser.add_subparsers()``)."""
    _add_run(commands)
    _add_validate(commands)
    _add_train(commands)


def _add_run(commands: Any) -> None:
    parser = commands.add_parser("run", help="run the audit a policy describes",
                                 description="Run the audit a policy describes and write results.json.")
    parser.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    parser.add_argument("--out", type=Path, help="output folder (default: the policy's run.out)")
    parser.add_argument("--device", help="auto (default: the policy's run.device), cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--db", type=Path, help="history database (default: OUT/history.sqlite)")
    parser.add_argument("--fresh", action="store_true",
                        help="redo all work from nothing (OUT/work is emptied first) instead of reusing it")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 if a score dropped significantly (disjoint CIs) since the "
                        "previous finished audit of the same policy name")
    signing.add_signing_arguments(parser)
    parser.add_argument("--ray", action="store_true",
                        help="run the fold trainings and explanation passes as Ray tasks (the policy's "
                        "ray section says where; default a local instance); same numbers")
    parser.set_defaults(handler=run)


def _add_validate(commands: Any) -> None:
    parser = commands.add_parser("validate", help="check a policy without running it",
                                 description="Check a policy (keys, types, ranges, paths, image "
                                 "sizes, and the operator's model, layer and training function, built "
                                 "once on a dummy batch).")
    parser.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    parser.add_argument("--json", action="store_true", help="print the resolved policy as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing when valid")
    parser.set_defaults(handler=validate)


def _add_train(commands: Any) -> None:
    parser = commands.add_parser(
        "train", help="train the policy's model on all the audited images (a deployed checkpoint)",
        description="Train the policy's model with its training recipe on every audited image (seed: "
        "training.seed) and write a checkpoint its deployed.checkpoint can name; print its SHA-256 "
        "as sha256sum does.")
    parser.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="checkpoint file to write")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument("--device", help="auto (default: the policy's run.device), cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true",
                        help="print the path, SHA-256, images and seed as JSON")
    parser.add_argument("--quiet", action="store_true", help="print only the SHA-256 line (no progress)")
    parser.set_defaults(handler=train)


def train(args: argparse.Namespace) -> int:
    """``auditkit train``: :func:`~auditkit.api.train_deployed`, then ``<sha256>  <file>``; exit 0."""
    from auditkit.api import train_deployed

    talk = talks(args)
    log = progress_log(talk)

    done = train_deployed(args.policy, args.out, force=args.force, device=args.device,
                          progress=talk and sys.stderr.isatty(), log=log)
    if args.json:
        print(json.dumps({"path": str(done.path), "sha256": done.sha256, "images": done.images,
                          "seed": done.seed}, indent=2))
    else:
        print(printable(f"{done.sha256}  {done.path}"))
    return EXIT_OK


def validate(args: argparse.Namespace) -> int:
    """``auditkit validate``: load the policy and check its setup (:func:`checked_policy`); exit 0 (a
    problem raises)."""
    policy, setup = checked_policy(args.policy)
    layer = setup.layer
    if args.json:
        print(json.dumps({"valid": True, "sha256": policy.sha256, "policy": policy.to_dict(),
                          "grad_cam_layer": None if layer is None else {
                              "name": layer.name, "reason": layer.reason, "map": list(layer.map_shape),
                              "tokens": layer.tokens}}, indent=2))
    elif not args.quiet:
        print(printable(f"{args.policy}: valid policy '{policy.name}' (sha256 {policy.sha256})"))
        if layer is not None:
            print(printable(layer.line()))
    return EXIT_OK


def checked_policy(path: Path) -> tuple[Any, Any]:
    """The policy at ``path`` and its setup (:func:`~auditkit.engine.preflight.check_setup`), as
    ``validate`` checks them: what needs no registry (the policy on paper, then its paths) before
    torch is imported, so such a problem is reported in a fraction of a second."""
    from auditkit.policy import check_paths, load_policy

    check_paths(load_policy(path, on_paper=True))
    policy = load_policy(path)
    from auditkit.engine.preflight import check_setup

    return policy, check_setup(policy)


def run(args: argparse.Namespace) -> int:
    """``auditkit run``: :func:`~auditkit.api.certify`, then its summary; 0 passed, 1 not."""
    from auditkit.api import certify

    talk = talks(args)
    log = progress_log(talk)

    done = certify(args.policy, out=args.out, device=args.device,
                   signing=signing.signing_options(args), db=args.db, fresh=args.fresh, ray=args.ray,
                   compare=args.fail_on_regression, progress=None if talk else False, log=log)
    if args.json:  # the bytes that were signed and recorded, not a second rendering
        sys.stdout.write((done.out / "results.json").read_text(encoding="utf-8"))
    elif not args.quiet or not done.result.passed:
        from auditkit.report.text import summary_text

        print(summary_text(done.result.document()), end="")
        print(f"results written to {done.out / 'results.json'}")
    if done.regressions:
        from auditkit.history.text import regression_lines

        print(regression_lines(done.previous, done.record, list(done.regressions)), end="",
              file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK if done.passed else EXIT_FAILED
