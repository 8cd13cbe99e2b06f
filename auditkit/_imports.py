"""Third-party imports whose import-time warnings go to auditkit's log, not to stderr or a notebook.

A dependency can warn when it is imported (cryptography 51 made pyHanko's import print a
``CryptographyDeprecationWarning`` about DSA): such a warning says nothing about the user's audit, yet
it would stand above every command's own output, before the command line could set its filters.
:func:`quiet_imports` records the warnings raised inside it and logs each one at WARNING on the
``auditkit.imports`` logger instead; auditkit's loggers carry a ``NullHandler``, so nothing reaches
stderr unless someone asks for the records (``auditkit --debug`` shows them). Warnings outside the
block, auditkit's own among them, are untouched.

:func:`loaded_class` looks a class up only where its module is already imported: a check such as
"is this a torchvision ViT?" needs no import, since a model of the class exists only once its module
has been imported, and importing ``torchvision.models`` costs seconds (it pulls ``torch._dynamo``).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

logging.getLogger("auditkit").addHandler(logging.NullHandler())
log = logging.getLogger("auditkit.imports")


@contextmanager
def quiet_imports() -> Iterator[None]:
    """Import third-party packages inside this block: their warnings are logged, not shown.

    >>> with quiet_imports():
    ...     warnings.warn("from a dependency's import", UserWarning)
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.warning("%s while importing: %s (%s:%s)", w.category.__name__, w.message, w.filename, w.lineno)


def loaded_class(module: str, name: str) -> type | None:
    """Class ``name`` of ``module`` if that module is imported, else ``None`` (nothing is imported).

    >>> loaded_class("logging", "Logger") is logging.Logger
    True
    >>> loaded_class("auditkit.no_such_module", "Anything") is None
    True
    """
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


__all__ = ["loaded_class", "quiet_imports"]
