"""``bench tasks pin``: pin a Hub task to the commit its data is at now.

A ``hub`` source without ``revision`` loads whatever the repository's main branch holds on the
day of the run; two runs months apart may score different data. Pinning asks the Hub (through
``huggingface_hub``) which commit a branch or tag points at and writes that 40-hex commit into
the task file's ``source.revision``, keeping the file's comments and layout. The spec hash
changes with it, as it should: a pinned task is a different, reproducible task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.errors import DataError, TaskSpecError

__all__ = ["COMMIT", "PinResult", "pin_text", "resolve_revision"]

COMMIT = re.compile(r"[0-9a-f]{40}")
"""A full Git commit id: what a pinned ``revision`` is."""


@dataclass(frozen=True)
class PinResult:
    """One task's pin: the repository, the revision it named (``None``: the main branch) and
    the commit that revision resolves to."""

    task: str
    repo: str
    before: str | None
    commit: str


def resolve_revision(repo: str, revision: str | None = None, *, timeout: float = 10.0) -> str:
    """The commit a dataset repository's ``revision`` (branch, tag or commit; ``None``: main)
    points at, asked of the Hub at ``HF_ENDPOINT``.

    Raises:
        DataError: The Hub cannot be reached (or ``HF_HUB_OFFLINE`` is set), the repository
            or revision does not exist, or the answer holds no commit.
    """
    from huggingface_hub import HfApi, constants

    from bench.data.readers import first_line

    try:
        info = HfApi().dataset_info(repo, revision=revision, timeout=timeout)
    except Exception as exc:  # huggingface_hub raises many kinds (HTTP, offline, timeout)
        raise DataError(
            f"cannot resolve {repo}@{revision or 'main'} on {constants.ENDPOINT}: "
            f"{first_line(exc)}",
            fix="check the network and the repository id (pinning needs the Hub: unset "
            "HF_HUB_OFFLINE; HF_ENDPOINT names a mirror)",
        ) from exc
    sha = getattr(info, "sha", None)
    if not isinstance(sha, str) or not COMMIT.fullmatch(sha):
        raise DataError(
            f"the Hub's answer for {repo}@{revision or 'main'} holds no commit id ({sha!r})",
            fix="check HF_ENDPOINT points at the Hugging Face Hub or a faithful mirror",
        )
    return sha


def pin_text(text: str, commit: str, *, path: str = "the task file") -> str:
    """``text`` (a task file) with ``source.revision`` set to ``commit``: the existing
    ``revision:`` line of the ``source:`` block rewritten (its comment kept), or a new one
    after its ``location:`` line.

    Raises:
        TaskSpecError: The file has no top-level ``source:`` block with a ``location:``.
    """
    if not COMMIT.fullmatch(commit):
        raise ValueError(f"not a commit id: {commit!r}")
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(r"source:\s*(#.*)?$", line)), None)
    if start is None:
        raise TaskSpecError(
            f"{path}: no 'source:' block to pin", fix="pin a task whose source is a block"
        )
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()),
        len(lines),
    )
    keys = [
        (i, m.group(1), m.group(2))
        for i in range(start + 1, end)
        if (m := re.match(r"^(\s+)([A-Za-z_]+):", lines[i]))
    ]
    if not keys:
        raise TaskSpecError(f"{path}: its 'source:' block is empty", fix="give the source")
    indent = keys[0][1]  # the source's own keys (deeper lines belong to nested blocks)
    own = {key: i for i, ind, key in keys if ind == indent}
    if "revision" in own:
        i = own["revision"]
        comment = re.search(r"\s+#.*$", lines[i])
        lines[i] = f"{indent}revision: {commit}{comment.group(0) if comment else ''}"
        return "\n".join(lines)
    if "location" not in own:
        raise TaskSpecError(
            f"{path}: its source has no 'location:' line", fix="a hub source names its location"
        )
    lines.insert(own["location"] + 1, f"{indent}revision: {commit}")
    return "\n".join(lines)
