"""``python -m auditkit.cli``: the command line."""

import sys

from auditkit.cli import main

sys.exit(main())
