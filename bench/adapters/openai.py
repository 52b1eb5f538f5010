"""``openai:`` — any server that speaks the OpenAI chat or completions protocol.

vLLM, llama.cpp's server, Ollama, TGI and hosted APIs all do::

    openai:MODEL,base_url=http://localhost:8000/v1,api_key_env=MY_KEY,endpoint=chat

Parameters: ``base_url`` (up to and including ``/v1``), ``api_key_env`` (the *name* of the
environment variable holding the key; default ``OPENAI_API_KEY``; unset means no
``Authorization`` header, fine for local servers), ``endpoint`` (``chat`` or ``completions``),
``concurrency`` (requests in flight), ``max_retries``, ``timeout`` (seconds to connect and
between two reads), ``deadline`` (seconds one HTTP request may take in all, however the server
trickles its answer; default: twice ``timeout``, at least 120), ``backoff`` and
``max_backoff`` (seconds); decoding: ``temperature``, ``max_tokens``, ``top_p`` and
``system`` (the system prompt, replacing the task's; ``system=`` with nothing sends none).

The adapter is *prompted* (:attr:`~bench.adapters.base.Adapter.prompted`): it is configured per
unit with :meth:`OpenAIAdapter.for_task` and honours the task's protocol.

Scoring (the task's ``scoring.mode``, else the family's default):

* ``generate``: the prompt (``endpoint=completions``: the task's system prompt, a blank line,
  then :func:`~bench.adapters.prompting.render`; ``endpoint=chat``:
  :func:`~bench.adapters.prompting.messages`, with in-context examples as user/assistant turns
  under ``fewshot.as_multiturn``) is sent with the effective decoding settings: each of
  ``max_tokens``, ``temperature``, ``top_p`` is the model spec's value if given, else the
  task's ``generation:`` (``max_new_tokens``...), else bench's default (greedy, 128 tokens, no
  ``top_p``); ``stop`` is the task's ``generation.stop``, else the family's stop strings (the
  first four are sent, the OpenAI limit; the answer is cut at any of them here as well). Every
  request carries a ``seed`` derived from ``generation.seed`` (the sample's, see
  :func:`bench.protocol.sample_seed`) and the request's content hash, so a server that honours
  ``seed`` (vLLM, llama.cpp) answers the same whatever the batch or order; hosted APIs treat
  ``seed`` as best effort, so their samples may not reproduce. The raw completion is parsed by
  the family (:func:`~bench.adapters.prompting.parse`, with the task's ``extract`` and
  ``strip_reasoning``). The effective settings, and where each came from, are in
  :meth:`OpenAIAdapter.info` and the fingerprint.
* ``loglik`` (``endpoint=completions`` only; a chat endpoint says so at plan time through
  :meth:`OpenAIAdapter.protocol_support`): each answer choice is scored by sending
  ``prompt = context + continuation`` with ``echo: true``, ``logprobs: 1`` and
  ``max_tokens: 1`` (what lm-evaluation-harness sends; servers with ``echo`` accept it, some
  refuse 0; the generated token is dropped). The choice's log-likelihood is the sum of the
  ``token_logprobs`` of the echoed tokens whose ``text_offset`` is at or after the context's
  length (a token that straddles the boundary counts as the continuation's), its token count
  their number; :func:`~bench.adapters.loglik.normalize` applies the task's
  ``normalization`` (``pmi``: the same continuation is scored again after
  :func:`~bench.adapters.loglik.answer_only_context`). A server whose answer has no
  log-probabilities for the prompt (it ignores ``echo``, or gives only the generated token's)
  stops the run with an :class:`~bench.errors.AdapterError` at its first answer, which is
  awaited before the other requests are sent: every request would fail the same way. A
  server that refuses ``echo`` outright (llama.cpp's server answers 400 "Only no echo is
  supported") gets a :class:`Failure` per example (``HTTP 400``, with its message), like any
  other 400. A continuation that starts the text (an empty answer-only context) has no
  log-probability for its first token: that example is a :class:`Failure`
  (``no logprob for the first token``).

Every response carries a :class:`~bench.families.base.Transcript`: the messages (chat) or
the prompt (completions), the raw completion, or the normalised score of each choice.

Requests run concurrently (``asyncio`` with a semaphore). 429, 5xx, timeouts, exceeded
deadlines and connection errors are retried with exponential backoff and full jitter, honouring
``Retry-After``, at most ``max_retries`` times. Every wait is capped by ``max_backoff`` (a
``Retry-After`` of an hour, ``inf`` or a far HTTP date waits ``max_backoff``), so one example
takes at most ``(max_retries + 1) * deadline + max_retries * max_backoff`` seconds once it is
sent (``loglik``: per choice). A request that still fails (or gets a malformed answer) is
answered with a :class:`~bench.families.base.Failure` (its cause, e.g. ``HTTP 503`` or
``malformed JSON``), which the runner counts and scores as a miss. 401, 403 and 404 stop the
run with an :class:`~bench.errors.AdapterError`: every request would fail the same way.

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
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Resources
from bench.adapters.loglik import answer_only_context, continuation, normalize
from bench.adapters.prompting import messages, parse, render, system_prompt, template_for
from bench.errors import AdapterError, MissingDependency
from bench.families.base import Failure, Family, Request, Response, Transcript, get_family
from bench.identity import short_hash
from bench.redaction import Redactor
from bench.spec import GenerationSpec, ScoringSpec, TaskSpec

if TYPE_CHECKING:
    import httpx

__all__ = ["APIRequestError", "OpenAIAdapter"]

_RETRY_STATUS = frozenset({408, 409, 425, 429})
_FATAL_STATUS = frozenset({401, 403, 404})
_MAX_STOP = 4  # the OpenAI API's limit on stop strings
DEFAULT_MAX_TOKENS = 128
CHAT_CANNOT_LOGLIK = (
    "openai chat endpoints cannot score by log-likelihood; use endpoint=completions with a "
    "server that returns prompt logprobs (vLLM; llama.cpp's server only with echo support), "
    "or a task with scoring.mode: generate"
)


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


class _NoPromptLogprobs(Exception):
    """A completions answer without log-probabilities for the echoed prompt."""


@dataclass(frozen=True)
class _Call:
    """One HTTP request of a loglik request: a choice scored after ``prompt[:context]``."""

    payload: dict[str, Any]
    context: int  # characters of the prompt before the continuation
    length: int  # characters of the whole prompt (later tokens are generated)


@dataclass(frozen=True)
class _Plan:
    """How one request is answered: one generation, or one call per choice (and PMI's)."""

    request: Request
    calls: tuple[tuple[str, _Call], ...]
    transcript: Transcript
    choices: tuple[str, ...] = ()  # loglik: the choices' texts, in order
    conts: tuple[str, ...] = ()  # loglik: each choice's continuation text
    loglik: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.calls)


class OpenAIAdapter(Adapter):
    """A model behind an OpenAI-compatible HTTP API; see the module docstring."""

    name = "openai"
    version: ClassVar[int] = 2
    families: ClassVar[tuple[str, ...]] = (
        "sentiment",
        "translation",
        "summarization",
        "qa",
        "recommendation",
        "judge",
    )

    class Params(Adapter.Params):
        """Connection, retry and decoding settings (decoding ones ``None``: the task's, else
        bench's default)."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        base_url: str = "https://api.openai.com/v1"
        api_key_env: str = "OPENAI_API_KEY"
        endpoint: Literal["chat", "completions"] = "chat"
        concurrency: int = Field(default=8, ge=1, le=1024)
        max_retries: int = Field(default=5, ge=0, le=100)
        timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
        deadline: float | None = Field(default=None, gt=0, allow_inf_nan=False)
        temperature: float | None = Field(default=None, ge=0, allow_inf_nan=False)
        max_tokens: int | None = Field(default=None, ge=1)
        top_p: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
        system: str | None = None
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

    @property
    def prompted(self) -> bool:
        """``True``: the adapter answers through the task's prompt and protocol."""
        return True

    def protocol_support(self, task: TaskSpec) -> str | None:
        """Why ``task``'s resolved scoring mode cannot be honoured (``None``: it can).

        A chat endpoint only generates; ``loglik`` also needs a family with answer choices.
        """
        if _scoring(task).mode != "loglik":
            return None
        if self.params.endpoint == "chat":
            return CHAT_CANNOT_LOGLIK
        if type(get_family(task.family)).answer_choices is Family.answer_choices:
            return (
                f"{task.family} tasks have no answer choices to score by log-likelihood; "
                "use scoring.mode: generate"
            )
        return None

    def for_task(self, task: TaskSpec, family: Family) -> OpenAIAdapter:
        """A copy configured for ``task`` (one unit's bound spec: its prompt variant, resolved
        scoring, generation settings with the sample's seed, in-context examples config);
        ``self`` is left as it was."""
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
        """Model, server, endpoint and the model spec's own decoding settings; never the key."""
        return {
            "adapter": self.name,
            "version": self.version,
            "model": self.model,
            "base_url": self.params.base_url.rstrip("/"),
            "endpoint": self.params.endpoint,
            "temperature": self.params.temperature,
            "max_tokens": self.params.max_tokens,
            "top_p": self.params.top_p,
            "system": self.params.system,
        }

    def decoding(self, task: TaskSpec | None) -> dict[str, Any]:
        """The effective generation settings for ``task``: the model spec's value, else the
        task's ``generation:``, else bench's default; ``from`` says which for each."""
        gen = task.generation if task is not None and task.generation is not None else None
        gen = gen or GenerationSpec()
        out: dict[str, Any] = {}
        source: dict[str, str] = {}
        for name, own, theirs, default in (
            ("max_tokens", self.params.max_tokens, gen.max_new_tokens, DEFAULT_MAX_TOKENS),
            ("temperature", self.params.temperature, gen.temperature, 0.0),
            ("top_p", self.params.top_p, gen.top_p, None),
        ):
            if own is not None:
                out[name], source[name] = own, "model"
            elif theirs is not None:
                out[name], source[name] = theirs, "task"
            else:
                out[name], source[name] = default, "default"
        if gen.stop is not None:
            out["stop"], source["stop"] = list(gen.stop), "task"
        else:
            family = get_family(task.family).stop_sequences if task is not None else ()
            out["stop"], source["stop"] = list(family), "default"
        out["seed"] = gen.seed
        source["seed"] = "task" if task is not None and task.generation is not None else "default"
        return {**out, "from": source}

    def _system(self, task: TaskSpec | None) -> str | None:
        if self.params.system is not None:
            return self.params.system or None
        return system_prompt(task)

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """:meth:`identity` and, for ``task``: its prompt (its own, or the family's default
        template), its resolved scoring, the effective decoding settings and system prompt."""
        if task is None:
            return short_hash({**self.identity(), "prompt": None})
        prompt = task.prompt_hash()
        if prompt is None:
            prompt = "default:" + short_hash(template_for(task.family, None))
        decoding = self.decoding(task)
        del decoding["from"]
        return short_hash(
            {
                **self.identity(),
                "prompt": prompt,
                "scoring": _scoring(task).model_dump(mode="json"),
                "decoding": decoding,
                "system_prompt": self._system(task),
            }
        )

    def info(self) -> dict[str, Any]:
        """The effective scoring and decoding settings (and where each came from), the system
        prompt used and the request, retry and failure counts since the adapter (or its
        :meth:`for_task` copy) was made."""
        decoding = self.decoding(self._spec)
        source = decoding.pop("from")
        out: dict[str, Any] = {"endpoint": self.params.endpoint}
        if self._spec is not None:
            scoring = _scoring(self._spec)
            out["scoring"] = {"mode": scoring.mode, "normalization": scoring.normalization}
            out["system"] = self._system(self._spec)
            out["system_from"] = "model" if self.params.system is not None else "task"
        out.update(
            {
                "generation": decoding,
                "generation_from": source,
                "http_requests": self._http_requests,
                "retries": sum(self._retries.values()),
                "retries_by_cause": dict(sorted(self._retries.items())),
                "failures": sum(self._failures.values()),
                "failures_by_cause": dict(sorted(self._failures.items())),
            }
        )
        return out

    def predict(self, requests: Sequence[Request]) -> list[Response | Failure]:
        """Answer ``requests`` concurrently; equal requests are sent once.

        A request that fails for good (retries exhausted, a malformed answer) gets a
        :class:`Failure` with its cause.

        Raises:
            AdapterError: The server refuses every request (401, 403, 404), the task scores by
                log-likelihood on a chat endpoint, or the server returns no prompt
                log-probabilities.
        """
        for req in requests:
            if req.family not in self.families:
                raise AdapterError(f"openai cannot answer {req.family} requests")
        loglik = self._spec is not None and _scoring(self._spec).mode == "loglik"
        if loglik and self._spec is not None:
            reason = self.protocol_support(self._spec)
            if reason is not None:
                raise AdapterError(f"openai:{self.model} on {self._spec.name}: {reason}")
        plans = [self._loglik_plan(r) if loglik else self._generate_plan(r) for r in requests]
        todo: dict[str, _Call] = {}
        for plan in plans:
            todo.update(plan.calls)
        results: dict[str, dict[str, Any] | APIRequestError] = {}
        if todo:
            asyncio.run(self._send_all(todo, results, probe_first=loglik))
        answers: dict[tuple[str, ...], Response | Failure] = {}
        for plan in plans:
            if plan.key not in answers:
                answers[plan.key] = self._finish(plan, results)
        return [answers[plan.key] for plan in plans]

    # ------------------------------------------------------------------ internals

    def _request_seed(self, request: Request) -> int:
        """The request's sampling seed: from ``generation.seed`` and its content hash."""
        base = self.decoding(self._spec)["seed"]
        return int(short_hash({"seed": base, "request": request.content_hash()})[:8], 16)

    def _prompt_text(self, request: Request) -> str:
        prompt = render(request, self._spec)
        system = self._system(self._spec)
        return f"{system}\n\n{prompt}" if system else prompt

    def _generate_plan(self, request: Request) -> _Plan:
        decoding = self.decoding(self._spec)
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": decoding["temperature"],
            "max_tokens": decoding["max_tokens"],
            "seed": self._request_seed(request),
        }
        if decoding["top_p"] is not None:
            body["top_p"] = decoding["top_p"]
        if decoding["stop"]:
            body["stop"] = decoding["stop"][:_MAX_STOP]
        if self.params.endpoint == "chat":
            msgs = messages(request, self._spec)
            if self.params.system is not None:
                msgs = [m for m in msgs if m["role"] != "system"]
                if self.params.system:
                    msgs.insert(0, {"role": "system", "content": self.params.system})
            body["messages"] = msgs
            transcript = Transcript(messages=msgs)
        else:
            body["prompt"] = self._prompt_text(request)
            transcript = Transcript(prompt=body["prompt"])
        return _Plan(request, ((self._key(body), _Call(body, 0, 0)),), transcript)

    def _loglik_plan(self, request: Request) -> _Plan:
        family = get_family(request.family)
        choices = tuple(family.answer_choices(request, self._spec) or ())
        prompt = self._prompt_text(request)
        conts = tuple(continuation(prompt, choice) for choice in choices)
        contexts = [prompt]
        if _scoring(self._spec).normalization == "pmi":
            contexts.append(answer_only_context(prompt))
        calls = []
        for context in contexts:
            for cont in conts:
                text = context + cont
                body = {
                    "model": self.model,
                    "prompt": text,
                    "echo": True,
                    "logprobs": 1,
                    "max_tokens": 1,
                    "temperature": 0.0,
                }
                calls.append((self._key(body), _Call(body, len(context), len(text))))
        return _Plan(request, tuple(calls), Transcript(prompt=prompt), choices, conts, loglik=True)

    def _finish(
        self, plan: _Plan, results: dict[str, dict[str, Any] | APIRequestError]
    ) -> Response | Failure:
        """The request's response from its calls' answers (the first failed call's cause if
        any failed)."""
        answers = []
        try:
            for key, _ in plan.calls:
                result = results[key]
                if isinstance(result, APIRequestError):
                    raise result
                answers.append(result)
            if plan.loglik:
                return self._scored(plan, answers)
            return self._parsed(plan, answers[0])
        except APIRequestError as exc:
            self._failures[exc.cause] += 1
            return Failure(cause=exc.cause, message=exc.detail)

    def _parsed(self, plan: _Plan, choice: dict[str, Any]) -> Response:
        try:
            chat = self.params.endpoint == "chat"
            raw = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, TypeError):
            raise APIRequestError("unexpected response shape") from None
        if not isinstance(raw, str):
            raise APIRequestError("unexpected response shape", "answer text is not a string")
        text = raw
        stops = [s for s in self.decoding(self._spec)["stop"] if s and s in text]
        if stops:
            text = text[: min(text.index(s) for s in stops)]
        response = parse(text, plan.request, self._spec)
        transcript = plan.transcript.model_copy(update={"completion": raw})
        return response.model_copy(update={"transcript": transcript})

    def _scored(self, plan: _Plan, answers: list[dict[str, Any]]) -> Response:
        mode = _scoring(self._spec).normalization
        n = len(plan.choices)
        scores = []
        for i, cont in enumerate(plan.conts):
            call = plan.calls[i][1]
            logprob, tokens = _continuation_logprob(answers[i], call)
            unconditional = None
            if mode == "pmi":
                unconditional, _ = _continuation_logprob(answers[n + i], plan.calls[n + i][1])
            scores.append(
                normalize(logprob, tokens=tokens, text=cont, mode=mode, unconditional=unconditional)
            )
        family = get_family(plan.request.family)
        response = family.from_choice_scores(plan.request, self._spec, scores)
        transcript = plan.transcript.model_copy(
            update={"choices": dict(zip(plan.choices, scores, strict=True))}
        )
        return response.model_copy(update={"transcript": transcript})

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
        todo: dict[str, _Call],
        results: dict[str, dict[str, Any] | APIRequestError],
        *,
        probe_first: bool = False,
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
        items = list(todo.items())
        # loglik: one answer first, so a server without prompt log-probabilities stops the
        # run before every other request is sent.
        waves = [items[:1], items[1:]] if probe_first else [items]
        async with httpx.AsyncClient(
            timeout=self.params.timeout, limits=limits, headers=headers
        ) as client:
            for wave in waves:
                outcomes = await asyncio.gather(
                    *(self._send(client, limit, url, k, c, results) for k, c in wave),
                    return_exceptions=True,
                )
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome  # AdapterError (fatal status, no logprobs) or a bug

    async def _send(
        self,
        client: httpx.AsyncClient,
        limit: asyncio.Semaphore,
        url: str,
        key: str,
        call: _Call,
        results: dict[str, dict[str, Any] | APIRequestError],
    ) -> None:
        try:
            choice = await self._complete(client, limit, url, call.payload)
        except APIRequestError as exc:
            results[key] = exc
            return
        if "logprobs" in call.payload:
            try:
                _continuation_logprob(choice, call)
            except _NoPromptLogprobs as exc:
                raise AdapterError(
                    f"openai:{self.model} at {self.params.base_url} returned no "
                    f"log-probabilities for the prompt ({exc}); scoring by log-likelihood "
                    "needs echo + logprobs",
                    fix="use a server that returns prompt logprobs with echo: true (vLLM), or "
                    "a task with scoring: {mode: generate}",
                ) from None
            except APIRequestError:
                pass  # this example's failure, reported when its answer is assembled
        results[key] = choice

    async def _complete(
        self, client: httpx.AsyncClient, limit: asyncio.Semaphore, url: str, body: dict[str, Any]
    ) -> dict[str, Any]:
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

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's first choice (a JSON object), or the error its status means."""
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
        except (KeyError, IndexError, TypeError):
            raise APIRequestError("unexpected response shape") from None
        if not isinstance(choice, dict):
            raise APIRequestError("unexpected response shape", "a choice is not an object")
        return choice


def _scoring(task: TaskSpec | None) -> ScoringSpec:
    """``task``'s scoring block with its mode resolved (the family's default when unset)."""
    scoring = (task.scoring if task is not None else None) or ScoringSpec()
    if scoring.mode is None:
        mode = get_family(task.family).default_scoring if task is not None else "generate"
        scoring = scoring.model_copy(update={"mode": mode})
    return scoring


def _continuation_logprob(choice: dict[str, Any], call: _Call) -> tuple[float, int]:
    """The summed log-probability of the continuation in an ``echo`` answer and its number
    of tokens: the echoed tokens at or after ``call.context`` characters, before
    ``call.length`` (later ones were generated).

    Raises:
        _NoPromptLogprobs: The answer has no log-probabilities for the prompt.
        APIRequestError: The log-probabilities are malformed, or the continuation's first
            token has none (nothing precedes it).
    """
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        raise _NoPromptLogprobs("no logprobs in the answer")
    tokens = logprobs.get("tokens")
    values = logprobs.get("token_logprobs")
    offsets = logprobs.get("text_offset")
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(offsets, list)):
        raise _NoPromptLogprobs("no tokens, token_logprobs or text_offset")
    if not (len(tokens) == len(values) == len(offsets)):
        raise APIRequestError("malformed logprobs", "tokens, logprobs and offsets differ in length")
    echoed = [i for i, o in enumerate(offsets) if isinstance(o, int) and o < call.length]
    if not echoed or offsets[0] != 0 or echoed != list(range(len(echoed))):
        raise _NoPromptLogprobs("the prompt's tokens are not echoed")
    before = [i for i in echoed if offsets[i] < call.context]
    start = before[-1] + 1 if before else 0
    if before and offsets[before[-1]] + len(str(tokens[before[-1]])) > call.context:
        start = before[-1]  # the boundary merged into one token: it is the continuation's
    if start >= len(echoed):
        raise APIRequestError("malformed logprobs", "no token after the context")
    span = echoed[start:]
    if any(values[i] is None for i in span):
        if start == 0:
            raise APIRequestError(
                "no logprob for the first token",
                "the continuation starts the text (empty context): its first token has none",
            )
        raise APIRequestError("malformed logprobs", "a continuation token has no logprob")
    try:
        total = math.fsum(float(values[i]) for i in span)
    except (TypeError, ValueError):
        raise APIRequestError("malformed logprobs", "a logprob is not a number") from None
    return total, len(span)


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
        message = data["error"]["message"]
        return str(message)[:200]
    except (ValueError, KeyError, TypeError):
        return ""
