"""The exception tree of auditkit.

Every error auditkit raises on purpose derives from :class:`AuditError`; each leaf also derives from
the built-in exception a caller would expect, so ``except ValueError`` keeps working. The CLI turns
these into one-line messages and exit code 2 in one place (:mod:`auditkit.cli`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class AuditError(Exception):
    """Root of every error auditkit raises on purpose."""


class MetricInputError(AuditError, ValueError):
    """A metric received input on which it is not defined (empty set, NaN, wrong shape, ...)."""


class ExplainerError(AuditError, ValueError):
    """An explainer was configured or called in a way it cannot honour."""


class DataError(AuditError, FileNotFoundError):
    """A dataset could not be read: missing folder or file, unexpected format.

    Attributes:
        path: the file or folder that was missing or malformed.
        expected: what auditkit expected to find there.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, expected: str = "") -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.expected = expected


class OutputError(AuditError, OSError):
    """The audit cannot be written where it was asked to be (an out folder that is a file or a
    device, or not writable)."""


class DecisionError(AuditError, ValueError):
    """A decision sheet cannot be made (``auditkit explain``): an image that is not of the audited
    kind, a decision id it cannot be filed under, an audit that does not verify, a checkpoint that is
    not the audited one, a method the audit did not certify. One line, naming what is wrong."""


class PolicyError(AuditError, ValueError):
    """A policy file is invalid: one problem, or several found in one reading of the file.

    Its message is one line per problem, ``<file>:<line>: <key>: <what is wrong>``, in file order.

    Attributes:
        file: the policy file.
        line: 1-based line of the offending key (``None`` when unknown, e.g. an unreadable file).
        key: dotted path of the offending key, e.g. ``"training.epochs"``.
        problems: this problem and the others of the same file (``more``), each a PolicyError;
            ``file``, ``line``, ``key`` and ``detail`` are those of the first.
    """

    def __init__(
        self, message: str, *, file: str | Path | None = None, line: int | None = None, key: str = "",
        more: Sequence[PolicyError] = (),
    ) -> None:
        self.file = None if file is None else Path(file)
        self.line = line
        self.key = key
        self.detail = message
        self.problems: tuple[PolicyError, ...] = (self, *more)
        where = ""
        if self.file is not None:
            where = f"{self.file}:{line}: " if line is not None else f"{self.file}: "
        keypart = f"{key}: " if key else ""
        super().__init__("\n".join([f"{where}{keypart}{message}", *(str(p) for p in more)]))
