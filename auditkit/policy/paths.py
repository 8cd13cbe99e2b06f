"""Checks of the files and folders a policy names, against the filesystem, as ``auditkit validate`` and
the start of ``auditkit run`` do them: every file the run reads exists and is a regular file, every
folder it reads is a folder, and the out folder is a folder or can be made one.

The policy's own shape (length, NUL bytes) is checked when it is loaded
(:class:`~auditkit.policy.constraints.FilePath`); these need the disk, so they run only when asked.
"""

from __future__ import annotations

import os
from pathlib import Path

from auditkit.errors import PolicyError
from auditkit.policy.schema import Policy

INPUT_FILES: tuple[str, ...] = ("model.init_weights", "signing.key", "signing.cert", "deployed.checkpoint")
"""The policy keys naming a file the run reads."""


def check_paths(policy: Policy) -> None:
    """Check ``dataset.path`` and ``deployed.test_path`` are folders, each of :data:`INPUT_FILES` a
    regular file, and ``run.out`` a folder or creatable as one.

    Raises:
        PolicyError: the first problem, at that key's line.
    """
    path = policy.dataset.path
    if path is not None:
        problem = _folder_problem(path)
        if problem:
            _fail(policy, "dataset.path", f"the dataset folder {path} {problem}")
    test = policy.deployed.test_path
    if test is not None:
        problem = _folder_problem(test)
        if problem:
            _fail(policy, "deployed.test_path", f"the deployed model's test folder {test} {problem}")
    for key in INPUT_FILES:
        section, name = key.split(".")
        file = getattr(getattr(policy, section), name)
        if file is not None:
            problem = input_file_problem(file)
            if problem:
                _fail(policy, key, f"{file} {problem}")
    problem = out_folder_problem(policy.run.out)
    if problem:
        _fail(policy, "run.out", f"the out folder {policy.run.out} {problem}")


def input_file_problem(path: Path) -> str:
    """Why the run could not read the file ``path`` (``""`` when it can)."""
    try:
        if not path.exists():
            return "does not exist"
        if not path.is_file():
            return "is not a regular file" + (" (a folder)" if path.is_dir() else "")
        if not os.access(path, os.R_OK):
            return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"
    return ""


def out_folder_problem(path: Path) -> str:
    """Why ``path`` cannot be the out folder (``""`` when it is a writable folder or can be created).

    >>> out_folder_problem(Path("/dev/null"))
    'is not a folder (a device, FIFO or file): name a folder to write the audit into'
    """
    try:
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                return "is not a folder (a device, FIFO or file): name a folder to write the audit into"
            return "" if os.access(path, os.W_OK | os.X_OK) else "is not writable"
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            return f"cannot be created: {parent} is not a folder"
        return "" if os.access(parent, os.W_OK | os.X_OK) else f"cannot be created: {parent} is not writable"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"


def _folder_problem(path: Path) -> str:
    try:
        if path.is_dir():
            return ""
        return "is a file, not a folder" if path.exists() else "does not exist"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"


def _fail(policy: Policy, key: str, message: str) -> None:
    line = policy.lines.get(key, policy.lines.get(key.partition(".")[0]))
    raise PolicyError(message, file=policy.origin, line=line, key=key)
