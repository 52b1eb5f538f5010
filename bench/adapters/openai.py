"""``openai:`` — any server that speaks the OpenAI chat or completions protocol.

vLLM, llama.cpp's server, Ollama, TGI and hosted APIs all do::

    openai:MODEL,base_url=http://localhost:8000/v1,api_key_env=MY_KEY,endpoint=chat

Parameters: ``base_url`` (up to and including ``/v1``), ``api_key_env`` (the *name* of the
environment variable holding the key; default ``OPENAI_API_KEY``; unset means no
``Authorization`` header, fine for local servers), ``endpoint`` (``chat`` or ``completions``),
``concurrency`` (requests in flight), ``max_retries``, ``timeout`` (seconds to connect and
between two reads), ``deadline`` (seconds one HTTP request may take in all, however the server
trickles its answer; default: twice ``timeout``, at least 120), ``temperature``,
``max_tokens``, ``backoff`` and ``max_backoff`` (seconds).

Prompts come from the task's ``prompt:`` (see :mod:`bench.adapters.prompting`), answers are
parsed back into the family's response without guessing.

Requests run concurrently (``asyncio`` with a semaphore). 429, 5xx, timeouts, exceeded
deadlines and connection errors are retried with exponential backoff and full jitter, honouring
``Retry-After``, at most ``max_retries`` times. Every wait is capped by ``max_backoff`` (a
``Retry-After`` of an hour, ``inf`` or a far HTTP date waits ``max_backoff``), so one example
takes at most ``(max_retries + 1) * deadline + max_retries * max_backoff`` seconds once it is
sent. A request that still fails (or gets a malformed answer) is answered with a
:class:`~bench.families.base.Failure` (its cause, e.g. ``HTTP 503`` or ``malformed JSON``),
which the runner counts and scores as a miss. 401, 403 and 404 stop the run with an
:class:`~bench.errors.AdapterError`: every request would fail the same way.

The key is read from the environment when a request is sent; it is never part of the params,
the fingerprint, the record, or an error message, and :meth:`OpenAIAdapter.secrets` hands it to
the runner, which masks it in everything the server sends back before anything is stored
(cache, samples, record).
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import hashlib
import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Resources
from bench.adapters.prompting import parse, render, system_prompt, template_for
from bench.errors import AdapterError, MissingDependency
from bench.families.base import Failure, Request, Response
from bench.identity import short_hash
from bench.redaction import Redactor

if TYPE_CHECKING:
    import httpx

    from bench.families.base import Family
    from bench.spec import TaskSpec

__all__ = ["APIRequestError", "OpenAIAdapter"]

_RETRY_STATUS = frozenset({408, 409, 425, 429})
_FATAL_STATUS = frozenset({401, 403, 404})


class APIRequestError(Exception):
    """One request failed for good (retries exhausted, or an unusable answer).

    Raised inside the adapter only: :meth:`OpenAIAdapter.predict` turns it into a
    :class:`~bench.families.base.Failure` with the same ``cause`` (e.g. ``HTTP 503``,
    ``malformed JSON``) for that example.
    """

    def __init__(self, cause: str, detail: str = "") -> None:
        self.cause = cause
        self.detail = detail
        super().__init__(cause + (f": {detail}" if detail else ""))


class _Retryable(Exception):
    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        self.cause = cause
        self.retry_after = retry_after
        super().__init__(cause)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), at least 0.

    ``inf`` stays ``inf`` (the caller caps every wait); ``nan`` and anything unreadable are
    ``None`` (no advice: the usual backoff applies).
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


class OpenAIAdapter(Adapter):
    """A model behind an OpenAI-compatible HTTP API; see the module docstring."""

    name = "openai"
    version: ClassVar[int] = 1
    families: ClassVar[tuple[str, ...]] = (
        "sentiment",
        "translation",
        "summarization",
        "qa",
        "recommendation",
    )

    class Params(Adapter.Params):
        """Connection, retry and decoding settings."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        base_url: str = "https://api.openai.com/v1"
        api_key_env: str = "OPENAI_API_KEY"
        endpoint: Literal["chat", "completions"] = "chat"
        concurrency: int = Field(default=8, ge=1, le=1024)
        max_retries: int = Field(default=5, ge=0, le=100)
        timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
        deadline: float | None = Field(default=None, gt=0, allow_inf_nan=False)
        temperature: float = Field(default=0.0, ge=0, allow_inf_nan=False)
        max_tokens: int = Field(default=256, ge=1)
        backoff: float = Field(default=1.0, ge=0, allow_inf_nan=False)
        max_backoff: float = Field(default=60.0, ge=0, allow_inf_nan=False)

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        if not target:
            raise AdapterError(
                "model 'openai' needs a model name", fix="write openai:MODEL,base_url=..."
            )
        self.model: str = target
        self._spec: TaskSpec | None = None
        self._family: str | None = None
        # Counters for info().
        self._http_requests = 0
        self._retries: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()

    # ------------------------------------------------------------------ runner protocol

    def for_task(self, task: TaskSpec, family: Family) -> OpenAIAdapter:
        """A copy that renders ``task``'s prompt (``self`` is left as it was)."""
        bound = copy.copy(self)
        bound._spec = task
        bound._family = task.family
        # The copy counts its own requests: info() describes the pair it served.
        bound._http_requests = 0
        bound._retries = Counter()
        bound._failures = Counter()
        return bound

    @property
    def deadline(self) -> float:
        """Seconds one HTTP request may take in all: ``deadline=`` if given, else twice
        ``timeout`` and at least 120 (a slow server given a long ``timeout`` keeps it)."""
        if self.params.deadline is not None:
            return float(self.params.deadline)
        return max(120.0, 2 * self.params.timeout)

    def resources(self) -> Resources:
        """No CPU of its own (it mostly waits), remote: API jobs share one concurrency budget."""
        return Resources(num_cpus=0.0, remote=True)

    def identity(self) -> dict[str, Any]:
        """Model, server, endpoint and decoding settings; never the key."""
        return {
            "adapter": self.name,
            "version": self.version,
            "model": self.model,
            "base_url": self.params.base_url.rstrip("/"),
            "endpoint": self.params.endpoint,
            "temperature": self.params.temperature,
            "max_tokens": self.params.max_tokens,
        }

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """:meth:`identity` and ``task``'s prompt (its own, or the family's default template)."""
        prompt: str | None = None
        if task is not None:
            prompt = task.prompt_hash()
            if prompt is None:
                prompt = "default:" + short_hash(template_for(task.family, None))
        return short_hash({**self.identity(), "prompt": prompt})

    def info(self) -> dict[str, Any]:
        """Request, retry and failure counts since the adapter (or its :meth:`for_task` copy)
        was made."""
        return {
            "endpoint": self.params.endpoint,
            "http_requests": self._http_requests,
            "retries": sum(self._retries.values()),
            "retries_by_cause": dict(sorted(self._retries.items())),
            "failures": sum(self._failures.values()),
            "failures_by_cause": dict(sorted(self._failures.items())),
        }

    def predict(self, requests: Sequence[Request]) -> list[Response | Failure]:
        """Answer ``requests`` concurrently; equal requests are sent once.

        A request that fails for good (retries exhausted, a malformed answer) gets a
        :class:`Failure` with its cause.

        Raises:
            AdapterError: The server refuses every request (401, 403, 404).
        """
        for req in requests:
            if req.family not in self.families:
                raise AdapterError(f"openai cannot answer {req.family} requests")
        keyed = [(self._payload(req), req) for req in requests]
        keys = [self._key(p) for p, _ in keyed]
        todo = dict(zip(keys, keyed, strict=True))
        answers: dict[str, Response | Failure] = {}
        if todo:
            asyncio.run(self._send_all(todo, answers))
        return [answers[k] for k in keys]

    # ------------------------------------------------------------------ internals

    def _payload(self, request: Request) -> dict[str, Any]:
        prompt = render(request, self._spec)
        system = system_prompt(self._spec)
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": self.params.temperature,
            "max_tokens": self.params.max_tokens,
        }
        if self.params.endpoint == "chat":
            messages = [{"role": "system", "content": system}] if system else []
            messages.append({"role": "user", "content": prompt})
            body["messages"] = messages
        else:
            body["prompt"] = f"{system}\n\n{prompt}" if system else prompt
        return body

    @staticmethod
    def _key(payload: dict[str, Any]) -> str:
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def secrets(self) -> tuple[str, ...]:
        """The key in ``$api_key_env`` (if set): masked in every answer before it is stored."""
        key = os.environ.get(self.params.api_key_env)
        return (key,) if key else ()

    def _redact(self, text: str) -> str:
        return Redactor(self.secrets(), min_length=1).text(text)

    async def _send_all(
        self,
        todo: dict[str, tuple[dict[str, Any], Request]],
        answers: dict[str, Response | Failure],
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise MissingDependency(
                "the openai adapter needs httpx", fix="pip install 'bench[api]'"
            ) from exc
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.params.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = self.params.base_url.rstrip("/") + (
            "/chat/completions" if self.params.endpoint == "chat" else "/completions"
        )
        limit = asyncio.Semaphore(self.params.concurrency)
        limits = httpx.Limits(max_connections=self.params.concurrency)
        async with httpx.AsyncClient(
            timeout=self.params.timeout, limits=limits, headers=headers
        ) as client:
            results = await asyncio.gather(
                *(self._send(client, limit, url, k, p, r, answers) for k, (p, r) in todo.items()),
                return_exceptions=True,
            )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, APIRequestError):
                raise result  # AdapterError (fatal status) or a bug

    async def _send(
        self,
        client: httpx.AsyncClient,
        limit: asyncio.Semaphore,
        url: str,
        key: str,
        payload: dict[str, Any],
        request: Request,
        answers: dict[str, Response | Failure],
    ) -> None:
        try:
            text = await self._complete(client, limit, url, payload)
            answers[key] = parse(text, request, self._spec)
        except APIRequestError as exc:
            self._failures[exc.cause] += 1
            answers[key] = Failure(cause=exc.cause, message=exc.detail)
            raise

    async def _complete(
        self, client: httpx.AsyncClient, limit: asyncio.Semaphore, url: str, body: dict[str, Any]
    ) -> str:
        import httpx

        attempt = 0
        while True:
            try:
                async with limit:
                    self._http_requests += 1
                    try:
                        # ``timeout`` bounds each read; the deadline bounds the whole exchange,
                        # so a server that trickles a byte a second cannot hold it for ever.
                        async with asyncio.timeout(self.deadline):
                            response = await client.post(url, json=body)
                    except httpx.TimeoutException as exc:
                        raise _Retryable("timeout") from exc
                    except TimeoutError as exc:
                        raise _Retryable(f"deadline exceeded ({self.deadline:g} s)") from exc
                    except httpx.TransportError as exc:
                        raise _Retryable(f"connection error ({type(exc).__name__})") from exc
                return self._answer(response)
            except _Retryable as exc:
                if attempt >= self.params.max_retries:
                    raise APIRequestError(
                        exc.cause, f"gave up after {attempt + 1} attempts"
                    ) from None
                self._retries[exc.cause] += 1
                attempt += 1
                await asyncio.sleep(self._wait(attempt - 1, exc.retry_after))

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``attempt + 1``: the server's ``Retry-After`` when it
        gave one, else exponential backoff with full jitter; never more than ``max_backoff``."""
        cap = self.params.max_backoff
        if retry_after is not None:
            return min(retry_after, cap)
        return random.uniform(0, min(cap, self.params.backoff * 2.0 ** min(attempt, 64)))

    def _answer(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in _RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
        if status in _FATAL_STATUS:
            raise AdapterError(
                f"openai:{self.model} at {self.params.base_url}: HTTP {status} "
                f"({response.reason_phrase})",
                fix=f"check the model name, base_url and the key in ${self.params.api_key_env}",
            )
        if status >= 400:
            raise APIRequestError(f"HTTP {status}", self._redact(_error_message(response)))
        try:
            data = response.json()
        except ValueError:
            raise APIRequestError("malformed JSON") from None
        try:
            choice = data["choices"][0]
            if self.params.endpoint == "chat":
                text = choice["message"]["content"]
            else:
                text = choice["text"]
        except (KeyError, IndexError, TypeError):
            raise APIRequestError("unexpected response shape") from None
        if not isinstance(text, str):
            raise APIRequestError("unexpected response shape", "answer text is not a string")
        return text


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
        message = data["error"]["message"]
        return str(message)[:200]
    except (ValueError, KeyError, TypeError):
        return ""
