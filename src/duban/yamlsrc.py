"""Load YAML while keeping where every value came from, for error messages."""

from __future__ import annotations

import re
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


def _compose_python(text: str, path: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as error:
        raise YamlSyntaxError(_place(path, text, error.position), _reader_message(error)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Where(path, mark.line + 1, mark.column + 1) if mark else Where(path, 1, 1)
        raise YamlSyntaxError(where, f"YAML syntax: {error.problem or error.context}") from None


_FAST_LOADER: type | None = getattr(yaml, "CSafeLoader", None)

# Where libyaml and PyYAML part ways on text PyYAML refuses or places differently: a tab (PyYAML refuses it
# in many places libyaml takes it as a space), a BOM after the first character (libyaml skips one at the
# start of any line), '#' right after a block scalar's header (libyaml takes it as a comment), a last line
# without a line break (libyaml ends the stream on a new line, so empty values there sit elsewhere), and an
# empty value in a flow collection, `{a: }` (libyaml places it at the next token, PyYAML right after ':'),
# a tag running into ',', '[' or ']' (`[!!str, 1]`: PyYAML keeps them in the tag, libyaml ends it there), and
# a tag with a later '!' after a character no handle has (`!a.b!c`: PyYAML refuses the handle, libyaml reads
# it as a local tag).
_LIBYAML_DIFFERS = re.compile(
    r"\t|(?<!^)\ufeff|[|>][-+0-9]*#|[^\n\r\x85\u2028\u2029]\Z"
    r"|:(?:\s|#[^\n\r\x85\u2028\u2029]*+)*[,}\]]|![^\s{}]*[,\[\]]"
    r"|![-0-9A-Za-z_]*[^-0-9A-Za-z_!\s][^\s!]*!"
)
# Inside [...] or {...} PyYAML ends a plain scalar at any '?' and then refuses it; libyaml keeps it as text.
_FLOW_START = re.compile(r"[\[{]")


def _libyaml_may_differ(text: str) -> bool:
    return bool(
        yaml.reader.Reader.NON_PRINTABLE.search(text)
        or _LIBYAML_DIFFERS.search(text)
        or ("?" in text and _FLOW_START.search(text))
    )


def _compose(text: str, path: str) -> yaml.Node | None:
    # libyaml's composer gives the same nodes and marks as PyYAML's several times faster. PyYAML's
    # pure-Python path stays the judge of what is an error and how it is worded: it runs whenever
    # libyaml is missing, the text has characters PyYAML's reader refuses (libyaml lets some through)
    # or anything else the two read differently, or libyaml finds a fault; if PyYAML then accepts the
    # text after all, its nodes are used.
    if _FAST_LOADER is None or _libyaml_may_differ(text):
        return _compose_python(text, path)
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return _compose_python(text, path)


def load_located(text: str, path: str) -> Any:
    """Parse YAML text into plain values that remember their source places."""
    node = _compose(text, path)
    if node is None:
        return None
    try:
        return _Builder(path).build(node)
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        raise YamlSyntaxError(Where(path, mark.line + 1, mark.column + 1), str(error.problem)) from None
