"""Load YAML while keeping where every value came from, for error messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Where:
    """A place in a source file, 1-based."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class Located(dict):
    """A mapping that remembers where it and each of its keys and values were written."""

    where: Where
    key_where: dict[str, Where]
    value_where: dict[str, Where]


class LocatedList(list):
    """A sequence that remembers where it and each of its items were written."""

    where: Where
    item_where: list[Where]


class YamlSyntaxError(Exception):
    """The file is not valid YAML; carries the place."""

    def __init__(self, where: Where, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _where(path: str, node: yaml.Node) -> Where:
    return Where(path, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node)
        try:
            return self.constructor.construct_object(node, deep=True)
        except ValueError:
            # A scalar that looks like a timestamp but is not a real date (2020-13-01) stays text,
            # so the catalog can name it as a bad date in its own words.
            return node.value

    def _mapping(self, node: yaml.MappingNode) -> Located:
        result = Located()
        result.where = _where(self.path, node)
        result.key_where = {}
        result.value_where = {}
        for key_node, value_node in node.value:
            key = self.build(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise YamlSyntaxError(_where(self.path, key_node), f"duplicate key '{key}'")
            result[key] = self.build(value_node)
            result.key_where[key] = _where(self.path, key_node)
            result.value_where[key] = _where(self.path, value_node)
        return result

    def _sequence(self, node: yaml.SequenceNode) -> LocatedList:
        result = LocatedList(self.build(item) for item in node.value)
        result.where = _where(self.path, node)
        result.item_where = [_where(self.path, item) for item in node.value]
        return result


def _place(path: str, text: str, position: int) -> Where:
    line_start = text.rfind("\n", 0, position) + 1
    return Where(path, text.count("\n", 0, position) + 1, position - line_start + 1)


def _reader_message(error: yaml.reader.ReaderError) -> str:
    # PyYAML refuses raw control characters anywhere in the file, before any value is built.
    if isinstance(error.character, int):
        return f"a control character (U+{error.character:04X}) cannot be in the file: remove it"
    return f"YAML: {error.reason}"


def load_located(text: str, path: str) -> Any:
    """Parse YAML text into plain values that remember their source places."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as error:
        raise YamlSyntaxError(_place(path, text, error.position), _reader_message(error)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Where(path, mark.line + 1, mark.column + 1) if mark else Where(path, 1, 1)
        raise YamlSyntaxError(where, f"YAML syntax: {error.problem or error.context}") from None
    if node is None:
        return None
    try:
        return _Builder(path).build(node)
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        raise YamlSyntaxError(Where(path, mark.line + 1, mark.column + 1), str(error.problem)) from None
