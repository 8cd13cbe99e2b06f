"""``auditkit explain`` (:func:`auditkit.api.explain`): a decision sheet for each contested decision.

Exit codes: 0 every sheet was made (or found finished); 2 a bad input (one line on stderr, nothing
written): an image that is missing, not an image or not of the audited kind, a folder without a
signed audit, a dossier that does not verify, a checkpoint that is not the audited one, a method the
audit did not certify, a decision id it cannot be filed under.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from auditkit.cli import signing
from auditkit.cli.output import EXIT_OK, printable, progress_log, talks


def add_parsers(commands: Any) -> None:
    """Add ``explain`` to ``commands`` (``parser.add_subparsers()``)."""
    parser = commands.add_parser(
        "explain", help="explain one decision to the person it affects, under a signed audit",
        description="Make a decision sheet (sheet.json, sheet.html, sheet.pdf) for each decision: what "
                    "the audited deployed model decided for the image, the maps of the methods the "
                    "audit certified, and what the audit's retrained models add for this image. The "
                    "audit must verify (--trust) and the checkpoint be the audited one.")
    parser.add_argument("audit", type=Path, metavar="AUDIT_DIR",
                        help="the out folder of a signed `auditkit run`, or a kept dossier "
                             "audits/<id>-<hex>/")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE",
                        help="an image file, a folder of image files (one decision each, named by the "
                             "file's stem) or a CSV log with the header decision_id,image_path")
    parser.add_argument("--trust", type=Path, action="append", default=[], metavar="CA_CERT",
                        help="CA certificate the audit's signatures must chain to; repeat for several")
    parser.add_argument("--decision-id", metavar="ID", help="the id of a single image's decision "
                        "(default: the image file's stem); it names the sheet's folder")
    parser.add_argument("--out", type=Path, help="folder of the sheets (default: AUDIT out folder/decisions)")
    parser.add_argument("--method", action="append", metavar="NAME",
                        help="explain with this certified method only; repeat for several "
                             "(default: every method the audit certified)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="the deployed checkpoint, when not where the audit read it (its SHA-256 "
                             "must be the audited one)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--json", action="store_true",
                        help="print each sheet's sheet.json as one JSON list on stdout")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    signing.add_signing_arguments(parser)
    parser.set_defaults(handler=explain)


def explain(args: argparse.Namespace) -> int:
    """``auditkit explain``: :func:`~auditkit.api.explain`, then one line per sheet; exit 0."""
    from auditkit.api import explain as make_sheets

    talk = talks(args)
    log = progress_log(talk)

    done = make_sheets(args.audit, args.images, trust=args.trust, decision_id=args.decision_id,
                       out=args.out, checkpoint=args.checkpoint, methods=args.method,
                       signing=signing.signing_options(args), device=args.device,
                       progress=talk and sys.stderr.isatty(), log=log)
    if args.json:
        print(json.dumps([r.sheet.to_plain() for r in done.sheets], indent=2))
    elif not args.quiet:
        for r in done.sheets:
            d = r.sheet.decision.predicted
            print(printable(f"{r.decision_id}: decided {d.label} (p = {d.probability:.3f}); sheet "
                            f"{'already in' if r.reused else 'written to'} {r.folder}"))
        if done.index:
            print(printable(f"index written to {done.index[0]}"))
    return EXIT_OK
