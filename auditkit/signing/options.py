"""How a run signs its report, as one frozen options object the library takes (never an argparse
namespace): :class:`SigningOptions` says what to sign with, :func:`plan_signing` loads it before the
audit runs (so a missing key fails at once), :func:`sign_planned` signs once the report is written.

The command line builds a :class:`SigningOptions` from its ``--sign-*`` flags
(:func:`auditkit.cli.signing.signing_options`); each field's docstring names its flag.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.signing.errors import SigningError

if TYPE_CHECKING:
    from auditkit.policy import SigningSpec
    from auditkit.signing.keys import Signer


@dataclass(frozen=True)
class SigningOptions:
    """What signs the report; all ``None`` (the default): the policy's ``signing`` section decides."""

    key: Path | None = None
    """PKCS#12 file, or PEM/DER private key with ``cert`` (``--sign-key``)."""
    cert: Path | None = None
    """Signer certificate for a PEM key (``--sign-cert``)."""
    chain: tuple[Path, ...] = ()
    """Issuing CA certificates (``--sign-chain``)."""
    passphrase_env: str | None = None
    """Environment variable holding the key's passphrase (``--sign-passphrase-env``)."""
    tsa: str | None = None
    """RFC 3161 timestamp authority URL, for PAdES B-T (``--tsa``)."""
    tsa_roots: tuple[Path, ...] = ()
    """Root certificates of the timestamp authority, for B-LT (``--tsa-root``)."""
    level: str | None = None
    """PAdES level ``B-B``, ``B-T`` or ``B-LT``; ``None``: B-T with ``tsa``, else B-B (``--pades-level``)."""

    def or_policy(self, spec: SigningSpec) -> SigningOptions:
        """These options when they name a key (or the policy names none); else the policy's
        ``signing`` section, each field given here overriding the policy's."""
        if self.key is not None or spec.key is None:
            return self
        return SigningOptions(key=spec.key, cert=self.cert or spec.cert, chain=self.chain,
                              passphrase_env=self.passphrase_env or spec.passphrase_env,
                              tsa=self.tsa or spec.tsa, tsa_roots=self.tsa_roots,
                              level=self.level or spec.level)


_FLAGS = (("cert", "--sign-cert"), ("chain", "--sign-chain"), ("tsa", "--tsa"),
          ("tsa_roots", "--tsa-root"), ("level", "--pades-level"))


@dataclass(frozen=True)
class SigningPlan:
    """What the run will sign with, loaded before the audit so that a missing key, certificate or
    passphrase fails at once rather than after the audit has run."""

    signer: Signer
    """The key material."""
    level: str | None
    """PAdES level, ``None`` for the default."""
    tsa_url: str | None
    """RFC 3161 timestamp authority."""
    extra_roots: tuple[Any, ...]
    """Root certificates of the timestamp authority, for B-LT."""


def passphrase(var: str | None) -> str | None:
    """The value of the environment variable ``var`` (``None`` when ``var`` is ``None``).

    Raises:
        SigningError: ``var`` is not set.
    """
    if var is None:
        return None
    if var not in os.environ:
        raise SigningError(f"the environment variable {var} (given for the passphrase) is not set")
    return os.environ[var]


def plan_signing(options: SigningOptions) -> SigningPlan | None:
    """Load what ``options`` name: ``None`` when they name no key.

    Raises:
        SigningError: signing options without a key, a missing passphrase variable, a key,
            certificate or TSA root that cannot be loaded.
    """
    from auditkit.signing.keys import load_certificates, load_signer

    if options.key is None:
        given = [flag for name, flag in _FLAGS if getattr(options, name)]
        if given:
            raise SigningError(f"{given[0]} needs --sign-key (SigningOptions.key: the key that signs "
                               "the report)")
        return None
    signer = load_signer(options.key, cert=options.cert, chain=list(options.chain),
                         passphrase=passphrase(options.passphrase_env))
    roots = tuple(cert for path in options.tsa_roots for cert in load_certificates(path))
    return SigningPlan(signer, options.level, options.tsa, roots)


def sign_planned(out_dir: str | Path, plan: SigningPlan) -> Any:
    """Sign the report in ``out_dir`` as ``plan`` says; the :class:`auditkit.signing.SignedReport`."""
    from auditkit.signing.sign import sign_report

    return sign_report(out_dir, plan.signer, level=plan.level, tsa_url=plan.tsa_url,
                       extra_roots=plan.extra_roots)


__all__ = ["SigningOptions", "SigningPlan", "passphrase", "plan_signing", "sign_planned"]
