"""The compiled templates write what Jinja itself would: `escaped` against markupsafe's escape, and templates with
constant imports folded (a run's environment, reload=False) against the same templates unfolded (reload=True)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from jinja2 import TemplateNotFound, UndefinedError
from markupsafe import Markup, escape

from duban.templating import environment, escaped

STYLE = '{% set red = "color:#c00" %}{% set odd = "a<b & \'c\'" %}{% macro m(x) %}<i>{{ x }}</i>{% endmacro %}'


class Html:
    def __html__(self) -> str:
        return "<b>safe</b>"


@pytest.mark.parametrize("value", [
    "", "plain", "司法局（县）", "a<b>&'\"c", "&amp;", 0, 7, -12, True, False, 1.5, None, date(2020, 10, 28),
    Markup("<b>kept</b>"), Markup("a&b"), Html(), ["<x>", 1],
])
def test_escaped_writes_what_escape_writes(value):
    assert escaped(value) == str(escape(value))
    assert type(escaped(value)) is str


TEMPLATES = {
    "plain.html": '{% import "email/_style.html" as s %}<p style="{{ s.red }}">{{ s.odd }}{{ x }}</p>',
    "loop.html": '{% import "email/_style.html" as s %}{% for r in rows %}<p style="{{ s.red if loop.first else '
                 's.odd }}">{{ r }}</p>{% endfor %}',
    "before.html": '{{ s.red }}{% import "email/_style.html" as s %}',
    "reassigned.html": '{% import "email/_style.html" as s %}{{ s.red }}{% set s = {"red": "blue"} %}{{ s.red }}',
    "shadowed.html": '{% import "email/_style.html" as s %}{{ s.red }}{% for s in rows %}{{ s }}{% endfor %}'
                     '{{ s.red }}',
    "param.html": '{% import "email/_style.html" as s %}{% macro f(s) %}{{ s.red }}{% endmacro %}{{ f(y) }}',
    "included.html": '{% import "email/_style.html" as s %}{{ s.red }}{% include "child.html" %}',
    "child.html": "[{{ s.red }}]",
    "macro.html": '{% import "email/_style.html" as s %}{{ s.m(x) }}{{ s.red }}',
    "unknown.html": '{% import "email/_style.html" as s %}{{ s.nope }}',
    "missing.html": '{% import "email/nowhere.html" as s %}{{ s.red }}',
    "red.html": '{% import "email/_style.html" as s %}<p style="{{ s.red }}">',
    "text.txt": '{% import "email/_style.html" as s %}{{ s.odd }} {{ x }}',
    "context.html": '{% import "email/_style.html" as s with context %}{{ s.red }}',
}


def _render(env, name: str) -> str | type:
    try:
        return env.get_template(name).render(x="<x>", y={"red": "green"}, rows=["a", "b"])
    except (UndefinedError, TemplateNotFound) as error:
        return type(error)


@pytest.fixture
def folder(tmp_path) -> Path:
    for name, text in {**TEMPLATES, "email/_style.html": STYLE}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - {"child.html"}))
def test_folded_templates_write_what_unfolded_ones_write(folder, name):
    assert _render(environment(folder, reload=False), name) == _render(environment(folder, reload=True), name)


def test_a_deployments_style_is_the_one_folded_in(folder):
    env = environment(folder, reload=False)
    assert env.get_template("plain.html").render(x="") == '<p style="color:#c00">a&lt;b &amp; &#39;c&#39;</p>'
    (folder / "email" / "_style.html").unlink()
    assert environment(folder, reload=False).get_template("red.html").render() == '<p style="color:#b00">'


def test_the_shipped_mail_compiles_without_a_style_lookup():
    env = environment(reload=False)
    for name in ("email/notice.html", "email/digest.html", "email/_problems.html"):
        code = env.compile(env.loader.get_source(env, name)[0], name, raw=True)
        assert "l_0_s)" not in code, name  # no s.card left to look up
        # the import itself goes too, unless an included template might read `s`
        assert ("_style.html" in code) == (name == "email/digest.html"), name
    reloading = environment(reload=True)
    assert "_style.html" in reloading.compile(reloading.loader.get_source(reloading, "email/notice.html")[0],
                                              "email/notice.html", raw=True)


def test_render_with_one_dict_makes_the_context_jinja_makes(folder):
    env = environment(folder, reload=False)
    template = env.from_string("{{ range(2)|list }} {{ x }} {{ y.red }}{% set x = 1 %} {{ x }}")
    values = {"x": "<x>", "y": {"red": "r"}}
    assert template.render(values) == template.render(**values) == template.render(values.items()) == \
        "[0, 1] &lt;x&gt; r 1"
    assert values == {"x": "<x>", "y": {"red": "r"}}
    with pytest.raises(UndefinedError):
        template.render({"x": 1})


def test_render_sees_globals_added_after_the_template_was_loaded(folder):
    env = environment(folder, reload=False)
    template = env.from_string("{{ office }} {{ x }}")
    env.globals["office"] = "督办室"
    assert template.render({"x": 1}) == template.render(x=1) == "督办室 1"
    assert template.render({"x": 1, "office": "县委办"}) == "县委办 1"
