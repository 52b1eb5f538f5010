"""Commented task-file templates for ``bench new-task``: each family writes its own."""

from __future__ import annotations

from bench.errors import UnknownName

__all__ = ["task_template"]


def task_template(name: str, family: str) -> str:
    """A commented YAML template for a new task of ``family`` that validates as it is.

    The text is the family's :attr:`~bench.families.base.Family.new_task_template` with
    ``{name}`` replaced by ``name``.

    Raises:
        UnknownName: ``family`` is not registered (with a did-you-mean), or has no template.
    """
    from bench.registry import registry

    cls = registry.get("family", family)
    template = cls.new_task_template
    if template is None:
        raise UnknownName(
            f"the {family} family has no task template for bench new-task",
            fix="copy a task file of that family and edit it",
        )
    return str(template).replace("{name}", name)
