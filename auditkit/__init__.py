"""auditkit: certify the quality of an image classifier's explanations.

From Python: :func:`audit` runs the audit a policy describes (a path or a dict) and returns the
typed :class:`~auditkit.engine.AuditResult`; :func:`certify` does what ``auditkit run`` does
(audit, report, sign with :class:`SigningOptions`, record in the history); :func:`plan` what it will
cost, before it runs; :func:`train_deployed` what ``auditkit train`` does; :func:`explain` makes a
decision sheet under a signed audit (``auditkit explain``). See :mod:`auditkit.api`.

These names load on first use (PEP 562), so ``import auditkit``, which every submodule's import
runs first, loads neither the API nor torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditkit._version import __version__

if TYPE_CHECKING:
    from auditkit.api import Certification, audit, certify, explain, plan, train_deployed
    from auditkit.signing.options import SigningOptions

__all__ = ["Certification", "SigningOptions", "__version__", "audit", "certify", "explain", "plan",
           "train_deployed"]

_API = ("Certification", "audit", "certify", "explain", "plan", "train_deployed")


def __getattr__(name: str) -> Any:
    """``auditkit.certify`` and the other names of :data:`__all__`, imported when first read."""
    if name in _API:
        from auditkit import api

        value = getattr(api, name)
    elif name == "SigningOptions":
        from auditkit.signing import options

        value = options.SigningOptions
    else:
        raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
    globals()[name] = value  # read once: later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
