"""Read a policy file into YAML nodes within fixed bounds, so no input can hang or exhaust the loader.

Bounds (each broken one is a :class:`~auditkit.errors.PolicyError` with the file and, where the YAML
has one, the line):

- only a regular file is read (a folder, FIFO, socket or device is refused before any byte is read,
  a FIFO without blocking), and at most :data:`MAX_BYTES` of it;
- nesting at most :data:`MAX_DEPTH` mappings and lists deep, checked on the parser's event stream
  (which is iterative) before the recursive composer runs;
- the document with every alias and merge key expanded at most :data:`MAX_NODES` nodes and
  :data:`MAX_DEPTH` deep: an alias bomb (``<<: [*a, *a, ...]`` nested) is measured on the shared node
  graph in time linear in its size, never expanded.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import yaml

from auditkit.errors import PolicyError

MAX_BYTES = 1 << 20
"""Largest policy file read, in bytes (1 MiB; a full policy is a few KB)."""
MAX_DEPTH = 48
"""Deepest nesting of mappings and lists, aliases expanded (a full policy nests 5 deep)."""
MAX_NODES = 50_000
"""Most YAML nodes (keys, values, items) once aliases and merge keys are expanded (a full policy has
a few hundred)."""

_KINDS = ((stat.S_ISDIR, "is a folder"), (stat.S_ISFIFO, "is a FIFO (named pipe)"),
          (stat.S_ISSOCK, "is a socket"), (stat.S_ISCHR, "is a character device"),
          (stat.S_ISBLK, "is a block device"))


def read_bytes(file: Path) -> bytes:
    """The bytes of the regular file ``file`` (a symlink is followed), at most :data:`MAX_BYTES`.

    Raises:
        PolicyError: missing, unreadable, not a regular file, or larger than :data:`MAX_BYTES`.
    """
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise PolicyError("policy file not found", file=file) from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO opened without a writer on some systems
            raise PolicyError("is not a regular file; a policy must be a YAML file", file=file) from None
        raise PolicyError(f"cannot read the policy file: {exc.strerror or exc}", file=file) from None
    try:
        mode = os.fstat(fd).st_mode
        for test, what in _KINDS:
            if test(mode):
                raise PolicyError(f"{what}, not a policy file; a policy must be a regular YAML file",
                                  file=file)
        if not stat.S_ISREG(mode):
            raise PolicyError("is not a regular file; a policy must be a YAML file", file=file)
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file: {exc.strerror or exc}", file=file) from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise PolicyError(f"larger than {MAX_BYTES // 1024} KiB; a policy is a few KB of YAML", file=file)
    return b"".join(chunks)


def compose(text: str, file: Path) -> yaml.Node | None:
    """The YAML nodes of ``text`` (``None`` for an empty document), within the module's bounds.

    Raises:
        PolicyError: invalid YAML, or a bound broken, at the line where the parser or the bound saw it.
    """
    last_line = max(text.count("\n") + (not text.endswith("\n")), 1)
    try:
        _check_nesting(text, file)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file, last_line) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise PolicyError(f"invalid YAML: {exc.reason} (character U+{char:04X})", file=file,
                          line=line) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", file=file) from None
    if root is not None:
        _Expansion(file).measure(root, 1)
    return root


def _check_nesting(text: str, file: Path) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` on the event stream, before composing."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise PolicyError(f"nested more than {MAX_DEPTH} mappings or lists deep",
                                  file=file, line=event.start_mark.line + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _Expansion:
    """Size and depth of the document with aliases expanded, computed once per shared node."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.measured: dict[int, tuple[int, int]] = {}
        self.open: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> PolicyError:
        return PolicyError(message, file=self.file, line=node.start_mark.line + 1)

    def measure(self, node: yaml.Node, level: int) -> tuple[int, int]:
        """``(nodes, height)`` of ``node`` expanded (height: mappings and lists deep, 0 for a scalar);
        ``level`` is its depth from the root (1)."""
        if id(node) in self.measured:
            size, height = self.measured[id(node)]
        elif isinstance(node, yaml.ScalarNode):
            size, height = 1, 0
        else:
            if level > MAX_DEPTH:
                raise self.fail(node, f"nested more than {MAX_DEPTH} mappings or lists deep once "
                                      "aliases are expanded")
            self.open.add(id(node))
            # Each child with the node whose line names it: a mapping's key, a list's item itself.
            children = ([(n, key) for key, value in node.value for n in (key, value)]
                        if isinstance(node, yaml.MappingNode) else [(n, n) for n in node.value])
            size, height = 1, 1
            for child, where in children:
                if id(child) in self.open:
                    raise self.fail(where, "an alias refers to the mapping or list it is inside "
                                           "(a recursive structure); a policy is a tree")
                child_size, child_height = self.measure(child, level + 1)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_NODES:
                    raise self.fail(node, f"more than {MAX_NODES} values once its aliases and merge "
                                          "keys are expanded (an alias bomb?)")
            self.open.discard(id(node))
            self.measured[id(node)] = (size, height)
        if height and level + height - 1 > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} mappings or lists deep once aliases "
                                  "are expanded")
        return size, height


def _yaml_error(exc: yaml.MarkedYAMLError, file: Path, last_line: int) -> PolicyError:
    """The YAML error at its problem's line (the last line when the problem is the file's end)."""
    mark = exc.problem_mark or exc.context_mark
    message = f"invalid YAML: {exc.problem or exc.context}"
    if exc.problem and exc.context and exc.context_mark is not None:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return PolicyError(message, file=file, line=None if mark is None else min(mark.line + 1, last_line))
