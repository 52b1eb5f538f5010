"""The family contract: how a data row becomes a typed request and its reference.

A family knows which fields its rows need, which fields are text (so preprocessing applies to
them by default), how to build one :class:`Request` per example, how to check a task spec, and
how to read a response back from JSON (cache, predictions files).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from bench.spec import TaskSpec

__all__ = ["Failure", "Family", "Prepared", "Request", "Response", "get_family"]


class Request(BaseModel):
    """One example as a model sees it. Subclasses add the family's fields.

    ``id`` identifies the example within its task; it is not part of :meth:`content_hash`, so
    two examples with the same content share a cached prediction.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ClassVar[str]
    id: str
    language: str

    def content_hash(self) -> str:
        """SHA-256 of everything the model sees (all fields but ``id``)."""
        payload = self.model_dump(mode="json", exclude={"id"})
        payload["__family__"] = self.family
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


class Response(BaseModel):
    """What an adapter returns for one request. Subclasses add the family's fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ClassVar[str]


class Failure(BaseModel):
    """An example the adapter knows it could not answer: a value, not an exception.

    An adapter returns one in place of a :class:`Response` when it gave up on that example (the
    HTTP API failed after its retries, the answer could not be parsed, the predictions file has
    no line for the id). The runner counts it by :attr:`label`, scores the example as a miss and
    never caches it. Any *exception* an adapter raises is a bug: it stops the run.

    Attributes:
        cause: A short, stable category (``http``, ``timeout``, ``unparsable``, ``missing``,
            ``invalid``, ...): what failure counts are grouped by.
        message: What happened, for a person (at most a few hundred characters).

    Example:
        >>> Failure(cause="http", message="503 after 3 retries").label
        'http: 503 after 3 retries'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cause: str
    message: str = ""

    @property
    def label(self) -> str:
        """``cause: message`` (or just ``cause``), the key failures are counted by."""
        return f"{self.cause}: {self.message}" if self.message else self.cause


@dataclass
class Prepared:
    """A task's test requests (and, lazily, its train examples), ready for an adapter.

    Families whose requests are not one per data row (recommendation builds one per user from
    an interaction log) return this from :meth:`Family.prepare`.

    Attributes:
        requests: One request per scored example (a list, or a lazy sequence built from the
            dataset chunk by chunk: see :mod:`bench.streaming`).
        references: The reference of each request.
        fingerprint: Content fingerprint of what is scored (data, protocol, candidates).
        origin: Human-readable description of the data read.
        dropped: Rows dropped before scoring (``drop_empty``).
        train_fingerprint: Content fingerprint of the train examples, if there are any.
        load_train: Builds the train examples (called only when the adapter must be trained).
        info: Family-specific facts for the record (protocol, candidate hash, excluded users).
    """

    requests: Sequence[Request]
    references: Sequence[Any]
    fingerprint: str
    origin: str
    dropped: int = 0
    train_fingerprint: str | None = None
    load_train: Callable[[], list[tuple[Request, Any]]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Family(ABC):
    """A task family (sentiment, translation, ...)."""

    name: ClassVar[str]
    request_type: ClassVar[type[Request]]
    response_type: ClassVar[type[Response]]
    required_fields: ClassVar[tuple[str, ...]]
    optional_fields: ClassVar[tuple[str, ...]] = ("id",)
    text_fields: ClassVar[tuple[str, ...]]
    default_metrics: ClassVar[tuple[str, ...]]

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        """Raise :class:`~bench.errors.TaskSpecError` when ``spec`` cannot work for this family.

        The default accepts every spec that passed the schema.
        """
        return None

    def has_train(self, spec: TaskSpec) -> bool:
        """Whether the task gives trainable adapters something to train on."""
        return "train" in spec.source.splits

    def prepare(
        self, spec: TaskSpec, *, data_override: str | Path | None, limit: int | None
    ) -> Prepared | None:
        """Build the task's requests in one go; ``None`` (the default) means one per row."""
        return None

    def data_notes(self, requests: Sequence[Request], references: Sequence[Any]) -> dict[str, Any]:
        """Facts about the test data worth recording, not errors (e.g. QA answers that are not
        spans of their context); they go into the record's ``task.protocol``. Default: none."""
        return {}

    @abstractmethod
    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        """Turn one preprocessed row into ``(request, reference)``."""

    @abstractmethod
    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        """Return why ``row`` is unusable (naming the field), or ``None`` when it is fine."""

    @abstractmethod
    def sample_input(self, request: Request) -> Any:
        """The part of the request shown in ``samples.jsonl`` and ``bench tasks show``."""

    @abstractmethod
    def sample_prediction(self, response: Response | None) -> Any:
        """The part of the response shown in ``samples.jsonl``."""

    def parse_response(self, data: Mapping[str, Any]) -> Response:
        """Read a response back from its JSON form."""
        return self.response_type.model_validate(dict(data))

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """Read a response from a predictions file's ``prediction`` value."""
        if isinstance(value, Mapping):
            return self.parse_response(value)
        raise TypeError(f"expected an object, got {type(value).__name__}")


def get_family(name: str) -> Family:
    """Instantiate the registered family ``name``."""
    from bench.registry import registry

    cls = registry.get("family", name)
    family: Family = cls()
    return family
