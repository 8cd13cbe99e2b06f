"""One contested decision explained to the person it affects, under a certified audit.

:mod:`auditkit.decision.dossier` writes a decision sheet's folder, signs it, records it in the
history and verifies it with the audit it names; it imports no torch (the light verifier packages
it), and neither may this package's ``__init__``.
"""
