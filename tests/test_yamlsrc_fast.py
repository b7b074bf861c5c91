"""load_located gives the same trees, places and errors through libyaml's composer as through PyYAML's own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duban import yamlsrc
from duban.yamlsrc import Located, LocatedList, YamlSyntaxError, load_located

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from scale import make_county  # noqa: E402

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")


@contextmanager
def python_composer() -> Iterator[None]:
    """Load as if libyaml were missing: the pure-Python path duban used before."""
    fast = yamlsrc._FAST_LOADER
    yamlsrc._FAST_LOADER = None
    try:
        yield
    finally:
        yamlsrc._FAST_LOADER = fast


def snapshot(value: Any) -> Any:
    """Everything load_located gives back: values, their types and every place, as comparable tuples."""
    if isinstance(value, Located):
        entries = tuple(
            (key, value.key_where[key], value.value_where[key], snapshot(item)) for key, item in value.items()
        )
        return ("map", value.where, entries)
    if isinstance(value, LocatedList):
        return ("seq", value.where, tuple(value.item_where), tuple(snapshot(item) for item in value))
    # repr keeps nan, -0.0, bytes and tz-aware datetimes apart; the type name keeps 1 and True apart
    return (type(value).__name__, repr(value))


def outcome(text: str) -> Any:
    try:
        return ("value", snapshot(load_located(text, "plan.yaml")))
    except YamlSyntaxError as error:
        return ("error", error.where, error.message)
    except RecursionError:
        # an alias inside its own anchor (&x [*x]) is a loop that neither path turns into values
        return ("recursion",)


def both(text: str) -> tuple[Any, Any]:
    fast = outcome(text)
    with python_composer():
        slow = outcome(text)
    return fast, slow


def repo_yaml_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.yaml", "*.yml"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


def test_libyaml_is_the_composer_here() -> None:
    assert yamlsrc._FAST_LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("name", repo_yaml_files())
def test_repo_files_load_the_same(name: str) -> None:
    fast, slow = both((ROOT / name).read_text(encoding="utf-8"))
    assert fast == slow


def test_the_catalogs_a_daily_run_loads_go_through_libyaml() -> None:
    county, _ = make_county()
    catalog = (ROOT / "tasks_catalog.yaml").read_text(encoding="utf-8")
    for text in (county, catalog):
        assert not yamlsrc._libyaml_may_differ(text)
        fast, slow = both(text)
        assert fast == slow
        assert fast[0] == "value"


TRICKY = {
    "timestamps": "a: 2020-09-01\nb: 2020-09-01 09:00:00\nc: 2020-09-01T09:00:00+08:00\nd: 2020-9-1 9:00:00.5 Z\n",
    "bad date stays text": "due: 2020-13-01\nalso: 2020-02-30\n",
    "bools": "- yes\n- No\n- on\n- OFF\n- true\n- False\n- y\n- n\n",
    "ints": "- 0\n- -17\n- 0o17\n- 017\n- 0x1F\n- 0b101\n- 1_000\n- 190:20:30\n- +12\n",
    "floats": "- .5\n- 1e3\n- 1.0e+3\n- .inf\n- -.Inf\n- .NaN\n- 6.8523015e+5\n- 190:20:30.15\n- 1_000.5\n",
    "nulls": "a:\nb: ~\nc: null\nd: Null\ne: ''\n? f\n",
    "non-string keys": "1: a\ntrue: b\n~: c\n2020-09-01: d\n1.5: e\n[x, y]: f\n",
    "block scalars": "a: |\n  one\n   two\n\nb: >-\n  folded\n  text\n\n  para\nc: |+\n  kept\n\nd: |2\n    indented\n",
    "multi-line flow scalars": "a: 'one\n  two\n\n  three'\nb: \"x\\\n  y \\t z\"\nc: plain\n  continued\n  here\n",
    "anchors and aliases": (
        "d: &d {remind: [3, 1, 0], every: 5}\nt1: *d\nt2:\n  <<: *d\n  every: 7\nl: &l [a, b]\nm: [*l, *l]\n"
    ),
    "chinese": "标题: 县委、县政府\n引文: \"按要求完成（二）\"\n单位: [乡镇001, 县级部门002]\n",
    "bom": "\ufeffplan:\n  id: c01-2020\n  title: 收官方案\n",
    "crlf": "plan:\r\n  id: x\r\n  list:\r\n    - a\r\n    - b\r\nnote: |\r\n  one\r\n  two\r\n",
    "old mac and unicode breaks": "a: 1\rb: 2\x85c: 3\u2028d: 4\u2029e: '5\u20286'\n",
    "tab in a quoted string": "a: \"x\ty\"\nb: 'p\tq'\n",
    "tab after a value": "a: 1\t\nb: [1,\t2]\n",
    "tags": "a: !!str 1\nb: !!float 1\nc: !!binary aGVsbG8=\nd: !!set {x, y}\ne: !!omap [k: 1, j: 2]\nf: !custom z\n",
    "empty flow values": "a: {x: , y: }\nb: [k: ]\nc: {z}\n",
    "question marks in flow": "a: [谁?, why?]\nb: plain? yes\n",
    "document markers": "%YAML 1.1\n---\na: 1\n...\n",
    "only a comment": "# nothing here\n",
    "empty": "",
    "scalar document": "just text\n",
    "no final line break": "a: 1\nb:",
    "no final line break after a list": "- a\n- ",
    "no final line break after a key": "? x",
    "deep nesting": "a:\n  b:\n    - c:\n        - [d, {e: [f, g]}]\n",
    "complex keys": "? |\n  block key\n: value\n? [a, b]\n: c\n",
    "comments everywhere": "a: 1 # one\n# between\nb: # empty\n  - x # item\n",
    "bom at the start of a later line": "a:\n\ufeff  b: 1\n",
    "comment right after a block header": "a: |#\n  x\n",
    "unknown directive": "%FOO bar\n--- a\n",
    "tags running into flow indicators": "a: [!!str, 1]\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_snippets_load_the_same(name: str) -> None:
    fast, slow = both(TRICKY[name])
    assert fast == slow


BAD = {
    "control character": "a: b\x07c\n",
    "escape character": "title: \x1b[1m\n",
    "lone surrogate": "a: \ud800\n",
    "tab indentation": "plan:\n\tid: x\n",
    "tab before a key": "a: 1\n\tb: 2\n",
    "duplicate key": "id: a\ntitle: x\nid: b\n",
    "duplicate key in a flow mapping": "a: {x: 1, x: 2}\n",
    "unclosed double quote": 'a: "open\nb: 1\n',
    "unclosed single quote": "a: 'open\n",
    "unclosed flow sequence": "a: [1, 2\nb: 3\n",
    "mapping value in a plain scalar": "a: b: c\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "undefined alias": "a: *nowhere\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "unknown tag the safe loader refuses": "a: !!python/name:os.system x\n",
    "bad binary": "a: !!binary 'a'\n",
    "question mark inside a flow scalar": "a: [x?y]\n",
    "text after a block header": "a: ># c\n  x\n",
    "bad yaml version": "%YAML 2.0\n--- a\n",
    "anchor without a name": "- &\n",
    "bom on a line of its own": "a: 1\n\ufeff\n",
    "tag handle with a character no handle has": "a: !x.y!z b\n",
    "tag handle with a chinese character": "a: !中!z b\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_fails_the_same(name: str) -> None:
    fast, slow = both(BAD[name])
    assert slow[0] == "error"
    assert fast == slow


def test_control_character_is_refused_at_its_place() -> None:
    fast, _ = both("a: 1\nb: x\x07y\n")
    message = "a control character (U+0007) cannot be in the file: remove it"
    assert fast == ("error", yamlsrc.Where("plan.yaml", 2, 5), message)


def test_when_libyaml_refuses_what_pyyaml_accepts_pyyaml_decides() -> None:
    text = TRICKY["unknown directive"]
    with pytest.raises(yaml.YAMLError):
        yaml.compose(text, Loader=yaml.CSafeLoader)
    assert load_located(text, "plan.yaml") == "a"


def test_every_tricky_snippet_that_can_take_the_fast_path_does() -> None:
    # Guards the speed: snippets with nothing PyYAML and libyaml read differently are not sent to PyYAML.
    for name in ("timestamps", "bools", "ints", "floats", "anchors and aliases", "chinese", "bom", "crlf"):
        assert not yamlsrc._libyaml_may_differ(TRICKY[name]), name


PIECES = [
    "a", "b", "中", "1", ".5", "yes", "~", "2020-01-01", "2020-13-01", "0x1F", ":", ": ", " ", "  ", "\n", "\r\n",
    "\n  ", "\n- ", "- ", "-", "? ", "?", "[", "]", "{", "}", ",", ", ", "&x ", "*x", "!t ", "!!str ", "!!set ",
    "'", '"', "\\", "# c", "#", "\t", "|", ">", "|-\n", ">+\n", "|2\n", "---", "--- ", "\n...\n", "%YAML 1.1\n",
    "\ufeff", "\x85", "\u2028", "\x07", "@", "`", "<<: *x",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=16), st.booleans())
def test_random_texts_load_the_same(pieces: list[str], final_break: bool) -> None:
    text = "".join(pieces) + ("\n" if final_break else "")
    fast, slow = both(text)
    assert fast == slow
