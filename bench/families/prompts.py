"""Prompt templates: jinja2, sandboxed, strict, over the plain values a family exposes.

A family declares the fields its prompts may use
(:attr:`~bench.families.base.Family.prompt_example`, one example value per field) and turns
each request into plain values (``str``, ``int``, ``None`` or a list of strings) with
:meth:`~bench.families.base.Family.prompt_values`. A template is checked when its task file is
validated:

* it must parse as jinja2 (``{{ text }}``, ``{% for t in history %}...{% endfor %}``, filters
  such as ``{{ text | truncate(200) }}``);
* it may name only the family's fields (a misspelt field is an error with a did-you-mean);
* attribute and item access (``{{ text.upper }}``, ``{{ labels[0] }}``), calls, ``include``,
  ``import``, ``extends`` and macros are refused: the values are data, nothing in a template is
  callable;
* a ``{name}`` in the template's text is the old ``str.format`` placeholder and an error naming
  the jinja2 spelling, so an old task file never sends a literal ``{text}`` to a model (write
  ``{{ '{name}' }}`` for literal braces);
* it is rendered once with the family's example values, so a filter used wrongly fails at
  validation, not in the middle of a run.

Rendering uses :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with
:class:`jinja2.StrictUndefined`, no globals, no autoescaping, and the trailing newline kept, so
a template renders exactly the text it spells.

Example:
    >>> check_template("Classify: {{ text }}", {"text": "x"}, where="demo")
    >>> render_template("Classify: {{ text }}", {"text": "Great!"}, where="demo")
    'Classify: Great!'
    >>> try:
    ...     check_template("{{ text.upper }}", {"text": "x"}, where="demo")
    ... except TaskSpecError as exc:
    ...     print(exc.message.split(": ", 2)[2])
    '{{ text.upper }}' reads an attribute of 'text'; fields are plain values
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bench.errors import TaskSpecError, did_you_mean

__all__ = ["PromptValue", "check_template", "render_template"]

PromptValue = str | int | float | bool | None | list[str]
"""The values a template sees: plain data, never request objects."""

_OLD_PLACEHOLDER = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(?!\})")
_REFUSED: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Call, "calls a function"),
    (nodes.Include, "includes another template"),
    (nodes.Import, "imports a template"),
    (nodes.FromImport, "imports a template"),
    (nodes.Extends, "extends another template"),
    (nodes.Macro, "defines a macro"),
    (nodes.CallBlock, "calls a macro"),
)


class _Sandbox(ImmutableSandboxedEnvironment):
    """A sandbox where no value has attributes or keys: templates read fields, nothing else.

    Static checks refuse ``.attr`` and ``[key]`` already; this refuses them again for filters
    (``map(attribute=...)``, ``attr``) that look attributes up at render time.
    """

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def getattr(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"attribute '{attribute}' of a {type(obj).__name__} is not readable")

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, (str, list, tuple)) and isinstance(argument, (int, slice)):
            return obj[argument]
        raise SecurityError(f"item {argument!r} of a {type(obj).__name__} is not readable")


@functools.cache
def _environment() -> _Sandbox:
    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()
    return env


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> jinja2.Template:
    return _environment().from_string(template)


def _fail(where: str | None, line: int | None, message: str, fix: str | None = None) -> NoReturn:
    at = f" line {line}" if line else ""
    head = f"{where}: prompt.template{at}" if where else f"template{at}"
    exc = TaskSpecError(f"{head}: {message}", fix=fix)
    exc.loc = ("prompt", "template")  # type: ignore[attr-defined]
    raise exc


def _spelling(node: nodes.Node) -> str:
    """The source-like spelling of a ``Name``/``Getattr``/``Getitem`` chain, for messages."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_spelling(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        arg = node.arg.value if isinstance(node.arg, nodes.Const) else "..."
        return f"{_spelling(node.node)}[{arg!r}]"
    return "..."


def _root(node: nodes.Node) -> str:
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    return node.name if isinstance(node, nodes.Name) else "..."


def check_template(
    template: str,
    fields: Mapping[str, PromptValue],
    *,
    where: str | None,
    family: str = "this family's",
) -> None:
    """Refuse a template that does not parse, names a field ``fields`` lacks, or reaches
    past a field's value (see the module docstring).

    Args:
        template: The jinja2 template text.
        fields: The family's fields with an example value each (rendered once as a trial).
        where: The task (file) the template belongs to, named in every message; ``None``
            when the caller names it (the task loader adds the file and line).
        family: Whose fields these are, for messages (``sentiment``).

    Raises:
        TaskSpecError: Naming ``where``, the template's line and the field at fault; its
            ``loc`` is ``("prompt", "template")``.
    """
    allowed = sorted(fields)
    listed = ", ".join("{{ " + f + " }}" for f in allowed) or "(none)"
    try:
        ast = _environment().parse(template)
        _compiled(template)  # unknown filters and tests fail when compiling, not parsing
    except jinja2.TemplateSyntaxError as exc:
        _fail(where, exc.lineno, f"not a valid jinja2 template: {exc.message}",
              "write fields as {{ field }}; see README 'Prompts and options'")  # fmt: skip
    _refuse_access(ast, where)
    for kind, what in _REFUSED:
        for found in ast.find_all(kind):
            _fail(where, found.lineno, f"the template {what}; templates only fill in fields",
                  f"use the fields {listed} and filters")  # fmt: skip
    unknown = sorted(meta.find_undeclared_variables(ast) - set(fields))
    if unknown:
        name = unknown[0]
        line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name), None)
        _fail(where, line, f"uses '{{{{ {name} }}}}', which {family} prompts do not "
              f"expose{did_you_mean(name, allowed)}", f"use one of: {listed}")  # fmt: skip
    _refuse_format_placeholders(ast, allowed, listed, where)
    render_template(template, fields, where=where)


def _refuse_access(ast: nodes.Template, where: str | None) -> None:
    """``{{ x.attr }}`` and ``{{ x['key'] }}`` (an integer index of a list stays allowed)."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, int)
        ):
            continue  # {{ history[0] }}: an element of a list field is still plain data
        root = _root(node)
        what = "an attribute" if isinstance(node, nodes.Getattr) else "an item"
        hint = ""
        if isinstance(node, nodes.Getattr) and node.attr in _environment().filters:
            hint = f" (or use a filter: {{{{ {root} | {node.attr} }}}})"
        _fail(
            where,
            node.lineno,
            f"'{{{{ {_spelling(node)} }}}}' reads {what} of '{root}'; fields are plain values",
            f"write {{{{ {root} }}}}{hint}",
        )


def _refuse_format_placeholders(
    ast: nodes.Template, allowed: list[str], listed: str, where: str | None
) -> None:
    """A ``{name}`` left in the template's text: the old ``str.format`` spelling."""
    for data in ast.find_all(nodes.TemplateData):
        match = _OLD_PLACEHOLDER.search(data.data)
        if match is None:
            continue
        name = match.group(1)
        known = name in allowed
        _fail(
            where,
            data.lineno + data.data[: match.start()].count("\n"),
            f"'{match.group(0)}' is a str.format placeholder, which jinja2 leaves as text"
            + ("" if known else did_you_mean(name, allowed)),
            f"write {{{{ {name} }}}}"
            if known
            else f"use one of {listed}, or {{{{ '{match.group(0)}' }}}} for literal braces",
        )


def render_template(template: str, values: Mapping[str, PromptValue], *, where: str | None) -> str:
    """Render ``template`` with ``values`` (sandboxed, ``StrictUndefined``).

    Raises:
        TaskSpecError: The template names a value that is missing, is not valid jinja2, or
            tries to read past a value; the message names ``where`` (when given).
    """
    try:
        return _compiled(template).render(dict(values))
    except jinja2.TemplateSyntaxError as exc:
        _fail(where, exc.lineno, f"not a valid jinja2 template: {exc.message}")
    except jinja2.UndefinedError as exc:
        _fail(where, None, f"{exc.message}", f"use one of: {', '.join(sorted(values))}")
    except SecurityError as exc:
        _fail(where, None, f"{exc}; fields are plain values")
    except (TypeError, ValueError, jinja2.TemplateError) as exc:
        _fail(where, None, f"cannot be rendered: {type(exc).__name__}: {exc}")
