"""``auditkit plan``: what an audit will cost before it runs (:func:`auditkit.api.plan`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from auditkit.cli.output import EXIT_OK, printable
from auditkit.cli.run import checked_policy


def add_parsers(commands: Any) -> None:
    """Add ``plan`` to ``commands`` (``parser.add_subparsers()``)."""
    parser = commands.add_parser(
        "plan", help="estimate an audit's cost and whether its evidence will be measurable",
        description="Count the model evaluations of every phase of the audit a policy describes, time "
        "a few batches of each kind on its own model on this device (seconds), and print the estimated "
        "time of each phase, largest first, and the S= and S≠ pairs to expect. Nothing is trained.")
    parser.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    parser.add_argument("--device", help="auto (default: the policy's run.device), cpu, cuda or cuda:N")
    parser.add_argument("--accuracy", type=float, metavar="A",
                        help="the fold models' expected held-out accuracy, in [0, 1]: the S= and S≠ "
                        "pairs to expect at each level (default: the accuracy above which ReCo has "
                        "too few pairs)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON on stdout")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the headline: the total, the largest phases and the warnings")
    parser.set_defaults(handler=plan)


def plan(args: argparse.Namespace) -> int:
    """``auditkit plan``: check the policy as ``validate`` does, then :func:`auditkit.api.plan`; exit 0
    (a bad policy or a batch that does not fit raises: one line, exit 2)."""
    from auditkit.api import plan as make

    policy, _ = checked_policy(args.policy)
    made = make(policy, device=args.device, accuracy=args.accuracy)
    if args.json:
        print(json.dumps(made.to_dict(), indent=2))
    else:
        lines = made.headline() if args.quiet else made.lines()
        print("\n".join(printable(line) for line in lines))
    return EXIT_OK
