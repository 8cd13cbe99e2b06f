"""The version of auditkit, its one home: ``pyproject.toml`` reads it, and so does every module that
records it (results.json, the work keys, the history)."""

__version__ = "0.1.0"
