"""auditkit: certify the quality of an image classifier's explanations.

From Python: :func:`audit` runs the audit a policy describes (a path or a dict) and returns the
typed :class:`~auditkit.engine.AuditResult`; :func:`certify` does what ``auditkit run`` does
(audit, report, sign with :class:`SigningOptions`, record in the history). See :mod:`auditkit.api`.
"""

__version__ = "0.1.0"

from auditkit.api import Certification, audit, certify
from auditkit.signing.options import SigningOptions

__all__ = ["Certification", "SigningOptions", "__version__", "audit", "certify"]
