"""The ``auditkit`` command line: it parses, calls one library function per command and turns its
outcome into printing and an exit code; the work is the library's (:mod:`auditkit.api`,
:mod:`auditkit.signing`, :mod:`auditkit.history`), so a notebook gets everything a command gets.

Exit codes (one place, :func:`main`): 0 the audit ran and every threshold is met; 1 the audit ran
and a threshold, the fold-accuracy spread or a sanity check is not met (the report is still written,
signed and recorded), or with ``--fail-on-regression`` a score
dropped significantly since the previous audit of the policy; 2 the audit could not run: bad
policy, missing data, another run holding the history database or the out folder, a kept dossier
the run would overwrite, any error (``history --check``:
a problem found). 130 after Ctrl-C (rerun the same command to resume).

Every ``run`` is recorded in the history database (:mod:`auditkit.history`), ``<out>/history.sqlite``
unless ``--db``, and keeps its dossier in ``<out>/audits/<id>-<digest>/`` (:mod:`auditkit.history.archive`);
``history`` and ``diff`` read it (``--db``, or ``--policy-file`` for where ``run`` wrote it).

One module per command group, each adding its commands' parsers (:func:`add_parsers`, which set the
function that runs the command as ``handler``): :mod:`~auditkit.cli.run` (``run``, ``validate``),
:mod:`~auditkit.cli.signing` (``keygen``, ``verify``, the signing options of ``run``),
:mod:`~auditkit.cli.history` (``history``, ``diff``); :mod:`~auditkit.cli.parser` puts them together,
:mod:`~auditkit.cli.runtime` maps errors to exit codes, :mod:`~auditkit.cli.output` prints.
"""

from auditkit.cli.parser import build_parser
from auditkit.cli.runtime import main

__all__ = ["build_parser", "main"]
