"""Reading `mloop.yaml` as bounded, plain data.

A manifest is a few hundred lines at most, so anything far larger is refused before
parsing: the file is capped at 256 KiB, nesting at 64 levels, and the document, with every
alias expanded, at 100,000 nodes (a 1 KB "billion laughs" file otherwise expands
exponentially). Keys must be plain scalars and unique. Errors give the line, column and
problem, never a quote of the file: the file may be something else than it claims to be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import InvalidManifest

MAX_MANIFEST_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000
# PyYAML's problem texts are short; this only bounds what a message can carry.
MAX_PROBLEM_CHARS = 200


class _Refused(yaml.MarkedYAMLError):
    """A document that parses but exceeds a bound."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with bounded nesting and expansion, plain unique keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # Depth while composing: the composer recurses, so a deep document would otherwise
        # end in a RecursionError instead of a message.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Counts nodes and depth as if every alias were copied out, without copying anything.

    Aliases make the node graph a DAG (or a cycle, which a manifest never needs): each node's
    expanded size is computed once, iteratively, so neither time nor the stack grows with
    the expansion.
    """
    expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, depth)
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes = [expanded[id(c)] for c in _children(node)]
            total = 1 + sum(n for n, _ in sizes)
            depth = 1 + max((d for _, d in sizes), default=0)
            if total > MAX_EXPANDED_NODES:
                raise _Refused(
                    problem=f"expands to more than {MAX_EXPANDED_NODES} values once its aliases are followed",
                    problem_mark=node.start_mark,
                )
            if depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"nested deeper than {MAX_DEPTH} levels once its aliases are followed",
                    problem_mark=node.start_mark,
                )
            expanded[key] = (total, depth)
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise _Refused(problem="an alias refers to a value that contains it", problem_mark=node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in expanded)


def _construct_plain_mapping(loader: _BoundedLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Keys must be scalars (a list or mapping as a key is no field name) and unique (PyYAML
    would silently keep the last one)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise yaml.constructor.ConstructorError(
                problem=f"a {kind} is used as a key; keys must be plain names", problem_mark=key_node.start_mark
            )
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_BoundedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_plain_mapping)


def _where(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def read_manifest_yaml(path: Path) -> Any:
    """The parsed document of `path`; every failure is an InvalidManifest naming the file."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise InvalidManifest(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidManifest(f"{path}: larger than {MAX_MANIFEST_BYTES // 1024} KiB; a manifest is much smaller")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidManifest(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from exc
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        problem = (exc.problem or exc.context or "not valid YAML")[:MAX_PROBLEM_CHARS]
        raise InvalidManifest(f"{path}: not valid YAML: {_where(exc)}{problem}") from exc
    except yaml.YAMLError as exc:
        raise InvalidManifest(f"{path}: not valid YAML ({type(exc).__name__})") from exc
