"""Commented task-file templates for ``bench new-task``: each family writes its own."""

from __future__ import annotations

import re
import unicodedata

from bench.errors import TaskSpecError, UnknownName

__all__ = ["check_task_name", "task_template"]


def _slug(name: str) -> str:
    """``name`` as a task name: ASCII lowercase, runs of other characters become ``-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_name.lower())
    return re.sub(r"-{2,}", "-", slug).strip("-._")


def check_task_name(name: str) -> None:
    """Refuse a name that is not a task name (the file stem and the ``name:`` field).

    A task name is what ``--tasks`` selects and the file's stem, so it cannot hold a path
    (``../x``, ``/tmp/x``), spaces or capitals: such a name would write a file outside the
    chosen folder, or one that does not validate.

    Raises:
        TaskSpecError: ``name`` does not match the task-name pattern; the fix suggests one
            that does, where there is one.
    """
    from bench.spec import NAME

    if re.match(NAME, name):
        return
    slug = _slug(name.replace("/", "-").replace("\\", "-"))
    suggestion = f"use e.g. '{slug}'" if slug and re.match(NAME, slug) else "choose another name"
    raise TaskSpecError(
        f"'{name}' is not a task name: a task name is the file's stem, made of lowercase "
        "letters, digits, '.', '_' and '-', starting with a letter or digit (no folders: "
        "the folder is --dir)",
        fix=suggestion,
    )


def task_template(name: str, family: str) -> str:
    """A commented YAML template for a new task of ``family`` that validates as it is.

    The text is the family's :attr:`~bench.families.base.Family.new_task_template` with
    ``{name}`` replaced by ``name``.

    Raises:
        TaskSpecError: ``name`` is not a task name (see :func:`check_task_name`).
        UnknownName: ``family`` is not registered (with a did-you-mean), or has no template.
    """
    from bench.registry import registry

    check_task_name(name)
    cls = registry.get("family", family)
    template = cls.new_task_template
    if template is None:
        raise UnknownName(
            f"the {family} family has no task template for bench new-task",
            fix="copy a task file of that family and edit it",
        )
    return str(template).replace("{name}", name)
