"""The Jinja environment: a deployment's own template folder first, then the shipped templates/."""

from __future__ import annotations

import functools
from collections import ChainMap
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    nodes,
    select_autoescape,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import new_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape

try:
    from markupsafe._speedups import _escape_inner as _escape_text  # the C function markupsafe's escape() calls
except ImportError:  # markupsafe without its C speedups

    def _escape_text(text: str) -> str:
        return str(escape(text))

from duban.config import ROOT
from duban.timeutil import WEEKDAYS, chinese_date

SHIPPED = ROOT / "templates"


def _local(moment: datetime, tz: str | ZoneInfo) -> datetime:
    return moment.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)


def _cn_date(value: date | datetime, tz: str | ZoneInfo | None = None) -> str:
    if isinstance(value, datetime):
        value = (_local(value, tz) if tz else value).date()
    return chinese_date(value)


def _cn_datetime(value: datetime, tz: str | ZoneInfo | None = None) -> str:
    local = _local(value, tz) if tz else value
    return f"{chinese_date(local.date())} {local:%H:%M}"


def _cn_weekday(value: date) -> str:
    return f"星期{WEEKDAYS[value.weekday()]}"


_DICT_ATTRIBUTES = frozenset(dir(dict))


def escaped(value: Any) -> str:
    """What `{{ value }}` writes into an autoescaped template: markupsafe's escape() without the Markup object it
    wraps every piece in (a template joins its pieces into a plain str anyway; escape() and its Markup were a
    third of a notice's HTML: 63 -> 39 us a render). Anything but a str, an int or Markup goes through escape()."""
    kind = type(value)
    if kind is str:
        return _escape_text(value)
    if kind is int or kind is Markup:
        return str(value)
    return str(escape(value))


class _ConstantImports(NodeTransformer):
    """`s.key` → the string `key` holds in the module imported as `s`."""

    def __init__(self, target: str, values: dict[str, str]) -> None:
        self.target, self.values = target, values

    def visit_Getattr(self, node: nodes.Getattr) -> nodes.Node:
        name = node.node
        if isinstance(name, nodes.Name) and name.name == self.target and node.attr in self.values:
            return nodes.Const(self.values[node.attr], lineno=node.lineno)
        return self.generic_visit(node)


def _bound_elsewhere(template: nodes.Template, target: str, found: nodes.Import) -> bool:
    """Whether `target` is (also) assigned, looped over, a parameter, imported again, or read before its import."""
    for name in template.find_all(nodes.Name):
        if name.name == target and name.ctx != "load":
            return True
    for other in template.find_all((nodes.Import, nodes.FromImport)):
        if other is not found and (other.target == target if isinstance(other, nodes.Import) else any(
                (alias if isinstance(alias, str) else alias[1]) == target for alias in other.names)):
            return True
    before = template.body[:template.body.index(found)]
    return any(name.name == target for node in before for name in node.find_all(nodes.Name))


def _shares_context(template: nodes.Template) -> bool:
    """Whether another template sees this one's variables (an include, a parent's or child's blocks, an import
    with context): an import they might read is kept."""
    if template.find((nodes.Include, nodes.Extends, nodes.Block)) is not None:
        return True
    return any(node.with_context for node in template.find_all((nodes.Import, nodes.FromImport)))


def fold_constant_imports(env: Environment, template: nodes.Template, name: str | None) -> None:
    """Compile `{% import "email/_style.html" as s %}`'s `s.card` as the string itself: a mail body writes dozens of
    styles, each a lookup and an escape at every render. Only for a top-level import without context of a template
    (the deployment's own, if it has one) whose attributes are strings, and `s` nothing else; its module is what Jinja
    itself would cache for the environment's life (so only where templates are not reloaded)."""
    for found in [node for node in template.body if isinstance(node, nodes.Import)]:
        if found.with_context or not isinstance(found.template, nodes.Const):
            continue
        if _bound_elsewhere(template, found.target, found):
            continue
        try:
            module = env.get_template(found.template.value, name).module
        except TemplateError:  # not found or failing: the import raises at render, as before
            continue
        values = {key: value for key, value in vars(module).items() if type(value) is str and key[:1] != "_"}
        _ConstantImports(found.target, values).visit(template)
        still_read = any(node.name == found.target for node in template.find_all(nodes.Name))
        if not still_read and not _shares_context(template):
            template.body.remove(found)


class _CodeGenerator(CodeGenerator):
    """Jinja's compiler, with constant imports folded in and `{{ value }}` escaped by `escaped`."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        if not self.environment.auto_reload:
            fold_constant_imports(self.environment, node, self.name)
        super().visit_Template(node, frame)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("environment.escaped(")
            if finalize.src is not None:
                self.write(finalize.src)
            return
        super()._output_child_pre(node, frame, finalize)


class _Template(Template):
    """Jinja's template, its context made from one merged copy of the values (Jinja copies them twice, the second time
    through keyword arguments, and reads its globals' ChainMap key by key twice: with the autoescape test, about a
    fifth of a notice's render, and two thirds of a subject's when the globals are a ChainMap)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        if self.environment.is_async or kwargs or len(args) != 1 or type(args[0]) is not dict:
            return super().render(*args, **kwargs)
        found = self.globals
        if type(found) is ChainMap:
            merged: dict[str, Any] = {}
            for mapping in reversed(found.maps):
                merged.update(mapping)
            found = merged
        context = new_context(self.environment, self.name, self.blocks, {**found, **args[0]}, True, found)
        try:
            return self.environment.concat(self.root_render_func(context))  # type: ignore[arg-type]
        except Exception:  # Jinja's own render: the traceback rewritten to point at the template's line
            self.environment.handle_exception()


class _Environment(Environment):
    """Jinja's environment, compiled by _CodeGenerator, with `item.title` on a plain dict looked up as a key at once:
    Jinja tries the attribute first and catches the AttributeError, which costs more than the rest of the lookup
    (and messages render dozens of them). The answer is the same: a plain dict's attributes are exactly dir(dict)."""

    code_generator_class = _CodeGenerator
    template_class = _Template
    escaped = staticmethod(escaped)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment(override_dir: str | Path | None = None, reload: bool = True) -> Environment:
    """Templates from `override_dir` win over the shipped ones; HTML is autoescaped. `reload=False`: a template is
    read once (for a run that renders thousands of messages; a long-lived server sees edits)."""
    folders = [Path(override_dir)] if override_dir else []
    loader = ChoiceLoader([FileSystemLoader(str(folder)) for folder in [*folders, SHIPPED]])
    env = _Environment(
        loader=loader,
        # asked again at every render, for the template's name
        autoescape=functools.cache(select_autoescape(["html", "htm", "xml", "svg"])),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=reload,
    )
    env.filters.update(cn_date=_cn_date, cn_datetime=_cn_datetime, cn_weekday=_cn_weekday)
    return env
