"""The adapter protocol and ``--model`` specs.

Every adapter the runner and the executors see is an :class:`Adapter`: a base class that
declares each hook they use with a typed default (``for_task``, ``fingerprint(task)``, ``fit``,
``cacheable``, ``check_ids``, ``info``, ``resources``, ``predict`` returning a
:class:`~bench.families.base.Response` or :class:`~bench.families.base.Failure` per request),
with typed, validated parameters and a pure fingerprint that covers them. A third-party object
that only has ``name``, ``fingerprint()``, ``supports(family)`` and ``predict(requests)`` is
wrapped by :class:`PluginAdapter`, the one place that adapts foreign objects.

A model spec on the command line is ``kind:target[,key=value...]``::

    baseline:tfidf-logreg
    baseline:majority,seed=1
    baseline:textcnn,max_epochs=5,name=my-cnn

``name=`` sets the display name used in results folders and leaderboards.

A third-party adapter comes in two ways: a registered entry point (``adapter.NAME`` in the
group ``bench.plugins``, used as ``NAME:TARGET``), or without any registration as
``plugin:package.module:Factory[,key=value...]``, which imports ``package.module``, calls
``Factory(**params)`` (a class or any callable) and checks that the result is an adapter.
Either way the distribution that provides it is recorded in the run record and folded into the
fingerprint, so upgrading a plugin never serves its old cached answers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import ModelSpecError, did_you_mean
from bench.families.base import Failure, Request, Response
from bench.identity import combine, short_hash
from bench.redaction import SECRET_KEYS, mask_spec

#: The type of a model parameter that seeds a random generator: NumPy and torch take
#: 0 … 2**32 - 1, so a negative seed is refused when the spec is read, not after the run.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]

if TYPE_CHECKING:
    from bench.families.base import Family
    from bench.spec import TaskSpec

__all__ = [
    "Adapter",
    "Baseline",
    "FitProgress",
    "ModelAdapter",
    "ModelSpec",
    "PluginAdapter",
    "Resources",
    "TrainableAdapter",
    "as_adapter",
    "make_adapter",
    "parse_model_spec",
]


FitProgress = Callable[[str, int, int], None]
"""A training-progress callback: ``(what, done, total)``, e.g. ``("epoch 2/3", 40, 60)``:
``what`` names the phase (an epoch, a cross-validation fold), ``done`` of ``total`` its steps.
The runner sets :attr:`Adapter.fit_progress` to one before :meth:`Adapter.fit` and the CLI
shows it as the pair's bar."""


@runtime_checkable
class ModelAdapter(Protocol):
    """The least a third-party object needs to be wrapped as an adapter (:class:`PluginAdapter`):
    every other hook of :class:`Adapter` is optional for it."""

    name: str

    def fingerprint(self) -> str:
        """A hash that changes whenever the model's answers could change."""
        ...

    def supports(self, family: str) -> bool:
        """Whether the adapter can answer requests of ``family``."""
        ...

    def predict(self, requests: Sequence[Request]) -> Sequence[Response | Failure]:
        """One response (or failure) per request, in order."""
        ...


@runtime_checkable
class TrainableAdapter(ModelAdapter, Protocol):
    """An adapter trained on the task's train split before it predicts."""

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Train on ``(request, reference)`` pairs."""
        ...


@dataclass(frozen=True)
class Resources:
    """Where an adapter's work can run, as the adapter declares it (:meth:`Adapter.resources`).

    Executors place work from this, never from the model spec's kind. Model-spec parameters
    ``num_cpus`` / ``num_gpus`` / ``replicas`` override the declared values.

    Attributes:
        num_cpus: CPUs one replica uses while it predicts.
        num_gpus: GPUs one replica uses.
        remote: Answers come from a remote API (mostly waiting): such adapters share one
            concurrency budget on a cluster.
        light: Cheaper to build than a worker process is to start (rule-based and small
            trainable baselines): a cluster runs its jobs as pooled tasks, not as actors.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    remote: bool = False
    light: bool = False


class Adapter:
    """Base class of every adapter: each hook the runner or an executor uses, with its default.

    Subclasses set ``name`` (the registry name), ``families`` and a nested pydantic ``Params``
    model; ``self.params`` holds the validated values. ``version`` is bumped whenever a change
    of code changes the adapter's answers, which changes the fingerprint and so invalidates
    cached predictions.

    The hooks, all declared here so that callers never probe with ``getattr``:

    * :meth:`supports` — whether a family is served;
    * :meth:`for_task` — the adapter configured for one task (its prompt, its labels), as a new
      object or ``self``; it never mutates ``self``;
    * :meth:`fingerprint` — pure: parameters, code version, weights or remote model identity and
      the task; never call order or device visibility;
    * :attr:`trainable` / :attr:`requires_training` / :meth:`fit` — training on the train split
      (reporting its steps through :meth:`report_fit`);
    * :attr:`cacheable` — whether answers may be cached and shared between equal requests;
    * :meth:`check_ids` — a look at the test ids before anything is predicted;
    * :meth:`info` — facts for the record (``model.info``);
    * :meth:`secrets` — strings (an API key) masked in every answer before it is stored;
    * :meth:`resources` — where its work can run (:class:`Resources`);
    * :meth:`predict` — one :class:`~bench.families.base.Response` or
      :class:`~bench.families.base.Failure` per request, in order.
    """

    name: str = "adapter"
    version: ClassVar[int] = 1
    families: ClassVar[tuple[str, ...]] = ()
    cacheable: ClassVar[bool] = True
    """Answers depend on the request's content only (not its id): cache them and answer equal
    requests once. ``False`` for adapters that answer by id (a predictions file)."""
    requires_training: ClassVar[bool] = False
    """The adapter cannot predict untrained: a task without a train split is skipped."""
    fit_progress: FitProgress | None = None
    """Where :meth:`report_fit` sends training progress; the runner sets it for the duration
    of :meth:`fit` (``None``: nobody listens)."""

    class Params(BaseModel):
        """No parameters."""

        model_config = ConfigDict(extra="forbid", frozen=True)

    # Subclasses narrow this to their own ``Params`` (``params: Params``).
    params: Any

    def __init__(self, target: str | None = None, **params: Any) -> None:
        self.target = target
        try:
            self.params = self.Params(**params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: "
                + (
                    "unknown parameter" + did_you_mean(str(e["loc"][-1]), self.Params.model_fields)
                    if e["type"] == "extra_forbidden"
                    else e["msg"]
                )
                for e in exc.errors()
            )
            raise ModelSpecError(
                f"model '{self.name}': {problems}",
                fix=f"parameters of {self.name}: {', '.join(self.Params.model_fields) or 'none'}",
            ) from exc

    @property
    def trainable(self) -> bool:
        """Whether :meth:`fit` is implemented (it is called before predicting, when the task has
        a train split)."""
        return type(self).fit is not Adapter.fit

    def identity(self) -> dict[str, Any]:
        """What :meth:`fingerprint` hashes: name, code version, target and parameters.
        Subclasses add what else decides their answers (weights, a remote model's identity)."""
        return {
            "adapter": self.name,
            "version": self.version,
            "target": self.target,
            "params": self.params.model_dump(mode="json"),
        }

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """Short SHA-256 of :meth:`identity` (and of what the adapter reads of ``task``, for
        adapters whose answers depend on it); pure, so equal inputs give equal fingerprints in
        any order and on any machine."""
        return short_hash(self.identity())

    def supports(self, family: str) -> bool:
        """Whether ``family`` is one of ``self.families``."""
        return family in self.families

    def for_task(self, task: TaskSpec, family: Family) -> Adapter:
        """The adapter configured for ``task`` (default: ``self``, unchanged)."""
        return self

    @property
    def prompted(self) -> bool:
        """Whether the adapter answers through the task's prompt (a language model): it is
        given in-context examples, every prompt variant, the task's scoring mode and its
        generation settings (see :mod:`bench.protocol`). Default ``False``."""
        return False

    def protocol_support(self, task: TaskSpec) -> str | None:
        """Why this adapter cannot honour ``task``'s protocol (its resolved scoring mode, its
        sampling settings), or ``None`` when it can. Asked at plan time, before any data is
        read; a reason skips the pair, it never substitutes another protocol. Default: none."""
        return None

    def sort_key(self, request: Request) -> int | None:
        """A length-like key the runner orders the requests it computes by, across the whole
        test set, before cutting them into ``--batch-size`` chunks (so an adapter that batches
        by length is not cut into unsorted chunks); ``None`` (the default): input order.
        Answers go back in input order either way."""
        return None

    def check_ids(self, ids: Sequence[str]) -> None:
        """Look at the test set's ids before anything is predicted (default: nothing).

        Raises:
            BenchError: The adapter cannot answer this test set (e.g. a predictions file for
                other ids).
        """
        return None

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Train on ``(request, reference)`` pairs; only adapters with :attr:`trainable` have
        one."""
        raise NotImplementedError(f"{self.name} is not trainable")

    def report_fit(self, what: str, done: int, total: int) -> None:
        """Report training progress from inside :meth:`fit`: ``done`` of ``total`` steps of
        the phase ``what`` (``"epoch 2/3"``). A no-op unless :attr:`fit_progress` is set.

        Example:
            >>> seen = []
            >>> adapter = Adapter()
            >>> adapter.fit_progress = lambda what, done, total: seen.append((what, done, total))
            >>> adapter.report_fit("epoch 1/2", 5, 10)
            >>> seen
            [('epoch 1/2', 5, 10)]
        """
        if self.fit_progress is not None:
            self.fit_progress(what, done, total)

    def info(self) -> dict[str, Any]:
        """Facts about the model for the record's ``model.info`` (default: none)."""
        return {}

    def resources(self) -> Resources:
        """Where this adapter's work can run (default: one CPU, built in a worker)."""
        return Resources()

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be stored or shown, such as the API key the adapter sends:
        the runner masks them in every answer and failure before anything is cached or written
        (see :mod:`bench.redaction`; default: none)."""
        return ()

    def predict(self, requests: Sequence[Request]) -> Sequence[Response | Failure]:
        """One response (or failure) per request, in order.

        Return a :class:`~bench.families.base.Failure` for an example the adapter knows it
        could not answer; raise only on a bug (the run stops, naming the adapter).
        """
        raise NotImplementedError


class Baseline(Adapter):
    """A built-in baseline: cheap to build, answering on one CPU (:attr:`Resources.light`, so a
    cluster runs its jobs as pooled tasks, not as actors)."""

    def resources(self) -> Resources:
        """One CPU, light."""
        return Resources(num_cpus=1.0, light=True)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` spec.

    Attributes:
        raw: The spec as written.
        kind: The part before ``:`` (``baseline``, ``hf``, ``openai``, ``predictions``, a plugin).
        target: The part after ``:`` up to the first comma (a baseline name, a model path).
        params: ``key=value`` pairs, values as strings (the adapter validates and converts them).
        display_name: ``name=`` if given, else :attr:`default_name` (``KIND:TARGET``; for
            ``predictions:`` specs, the file's stem).
    """

    raw: str
    kind: str
    target: str
    params: dict[str, str] = field(default_factory=dict)
    display_name: str = ""

    @property
    def dir_name(self) -> str:
        """The display name made safe as one folder name (:func:`bench.folders.folder_name`:
        distinct names, distinct folders)."""
        from bench.folders import folder_name

        return folder_name(self.display_name)

    def public_params(self) -> dict[str, str]:
        """Params with anything that looks like a secret removed."""
        return {k: ("***" if SECRET_KEYS.search(k) else v) for k, v in self.params.items()}

    @property
    def default_name(self) -> str:
        """The name a spec without ``name=`` gets: ``KIND:TARGET`` (a ``predictions:`` file:
        its stem). Parameters are left out: those that change answers are in the adapter's
        fingerprint, and a plan with two specs of one ``KIND:TARGET`` names each by its whole
        spec (:func:`bench.folders.distinct_names`)."""
        if self.kind == "predictions":
            from bench.adapters.prediction_paths import default_name

            return default_name(self.target)
        return f"{self.kind}:{self.target}"

    @property
    def spec_name(self) -> str:
        """The spec without secrets, ``KIND:TARGET,key=value,...`` (``name=`` left out): the
        name of specs that share a :attr:`default_name` in one plan."""
        shown = [f"{k}={v}" for k, v in self.params.items() if not SECRET_KEYS.search(k)]
        return ",".join([f"{self.kind}:{self.target}", *shown])

    def typed_params(self, adapter: Any = None) -> dict[str, Any]:
        """The spec's parameters as the adapter's parameter model typed them
        (``max_epochs=5`` is the integer 5, ``lr=2e-5`` the float), secrets masked: what
        records store. A parameter the model does not hold under its spec key (a plugin
        factory without a ``Params`` model) stays the string written."""
        model = getattr(adapter, "params", None)
        dumped: dict[str, Any] = {}
        if isinstance(model, BaseModel):
            dumped = model.model_dump(mode="json")
        return {
            k: "***" if SECRET_KEYS.search(k) else dumped.get(k, v) for k, v in self.params.items()
        }


def parse_model_spec(raw: str) -> ModelSpec:
    """Parse ``kind:target[,key=value...]``.

    Kind, target and keys are stripped of surrounding spaces; values are kept exactly as
    written (``prefix=summarize: `` keeps its trailing space, which T5 expects).

    Raises:
        ModelSpecError: The spec is malformed.

    Example:
        >>> parse_model_spec("baseline:majority,seed=1").params
        {'seed': '1'}
    """
    # Only the left end: a trailing space belongs to the last value.
    text = raw.lstrip()
    kind, sep, rest = text.partition(":")
    if not sep or not kind or not rest.strip():
        raise ModelSpecError(
            f"model spec '{mask_spec(raw)}' is not KIND:TARGET[,key=value...]",
            fix="write e.g. baseline:tfidf-logreg or baseline:majority,seed=1",
        )
    target, *pairs = rest.split(",")
    params: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ModelSpecError(
                f"model spec '{mask_spec(raw)}': '{mask_spec(',' + pair)[1:]}' is not key=value",
                fix="write parameters as key=value",
            )
        if key in params:
            raise ModelSpecError(f"model spec '{mask_spec(raw)}': parameter '{key}' is given twice")
        params[key] = value
    display = params.pop("name", None)
    spec = ModelSpec(raw=raw, kind=kind.strip(), target=target.strip(), params=params)
    # A file of outputs is named after the file (a run's samples: after its model); any other
    # spec KIND:TARGET.
    return replace(spec, display_name=spec.default_name if display is None else display)


def make_adapter(spec: ModelSpec | str) -> Adapter:
    """Build the adapter a spec names (``kind:target`` first, then ``kind``).

    Raises:
        ModelSpecError: Unknown kind or target (with did-you-mean), or bad parameters.
    """
    from bench.registry import registry

    if isinstance(spec, str):
        spec = parse_model_spec(spec)
    full = f"{spec.kind}:{spec.target}"
    if spec.kind == PLUGIN_KIND:
        return _plugin_adapter(spec)
    names = registry.names("adapter")
    if ("adapter", full) in registry:
        cls = registry.get("adapter", full)
        adapter = cls(**spec.params)
    elif ("adapter", spec.kind) in registry:
        cls = registry.get("adapter", spec.kind)
        adapter = cls(spec.target, **spec.params)
    else:
        known_kinds = sorted({n.partition(":")[0] for n in names} | {PLUGIN_KIND})
        if spec.kind in known_kinds:
            targets = [n.partition(":")[2] for n in names if n.startswith(spec.kind + ":")]
            raise ModelSpecError(
                f"unknown {spec.kind} '{spec.target}'{did_you_mean(spec.target, targets)}",
                fix=f"use one of: {', '.join(f'{spec.kind}:{t}' for t in targets)}",
            )
        raise ModelSpecError(
            f"unknown model kind '{spec.kind}' in '{mask_spec(spec.raw)}'"
            f"{did_you_mean(spec.kind, known_kinds)}",
            fix=f"use one of: {', '.join(known_kinds)} (plugins add more)",
        )
    if not isinstance(adapter, ModelAdapter):
        raise ModelSpecError(
            f"'{full}' does not implement the adapter protocol "
            "(name, fingerprint, supports, predict)"
        )
    if not type(adapter).__module__.startswith("bench.") or not isinstance(adapter, Adapter):
        return PluginAdapter(adapter, source=f"entry point adapter.{spec.kind}")
    return adapter


PLUGIN_KIND = "plugin"
"""The model-spec kind of unregistered plugin factories: ``plugin:package.module:Factory``."""


def _plugin_adapter(spec: ModelSpec) -> PluginAdapter:
    """Import and call the factory of a ``plugin:package.module:Factory`` spec."""
    import inspect

    from bench.registry import import_object

    factory = import_object(spec.target, error=ModelSpecError, what="plugin factory")
    if not callable(factory):
        raise ModelSpecError(
            f"plugin factory '{spec.target}' is a {type(factory).__name__}, not a class or "
            "function",
            fix="point at a class or function that returns an adapter",
        )
    try:
        signature: inspect.Signature | None = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        signature = None
    if signature is not None:
        try:
            signature.bind(**spec.params)
        except TypeError as exc:
            raise ModelSpecError(
                f"plugin factory '{spec.target}{signature}' cannot take "
                f"{', '.join(f'{k}=' for k in spec.params) or 'no parameters'}: {exc}",
                fix="pass only the parameters the factory accepts, as key=value",
            ) from exc
    adapter = factory(**spec.params)
    missing = [m for m in ("name", "fingerprint", "supports", "predict") if not hasattr(adapter, m)]
    if missing or not isinstance(adapter, ModelAdapter):
        raise ModelSpecError(
            f"plugin factory '{spec.target}' returned a {type(adapter).__name__}, which does not "
            f"implement the adapter protocol (missing: {', '.join(missing) or 'a callable'})",
            fix="return an object with name, fingerprint(), supports(family) and "
            "predict(requests); subclassing bench.adapters.Adapter gives all but predict",
        )
    return PluginAdapter(adapter, source=f"{PLUGIN_KIND}:{spec.target}")


class PluginAdapter(Adapter):
    """A third-party adapter, with the distribution that provides it on record.

    The one place that adapts a foreign object: it may subclass :class:`Adapter` or only have
    ``name``, ``fingerprint()``, ``supports(family)`` and ``predict(requests)``; each other hook
    is the wrapped object's when it has one, else :class:`Adapter`'s default. :meth:`info` adds
    a ``plugin`` entry (where the adapter came from, and the name and version of the installed
    distribution that provides its module when that can be resolved) and :meth:`fingerprint`
    folds that version in.

    Args:
        inner: The adapter.
        source: How it was named (``plugin:pkg.mod:Factory``, ``entry point adapter.NAME``).
    """

    def __init__(self, inner: Any, *, source: str) -> None:
        from bench.registry import distribution_of

        self.inner = inner
        self.source = source
        self.module = type(inner).__module__
        self.distribution = distribution_of(self.module)
        self.target = getattr(inner, "target", None)
        self.params = getattr(inner, "params", None) or Adapter.Params()
        self.name = str(inner.name)

    def _hook(self, attr: str) -> Any:
        """The wrapped object's ``attr`` if it has one (``None`` otherwise)."""
        return getattr(self.inner, attr, None)

    @property
    def cacheable(self) -> bool:  # type: ignore[override]
        """The wrapped adapter's ``cacheable`` (default ``True``)."""
        return bool(getattr(self.inner, "cacheable", True))

    @property
    def requires_training(self) -> bool:  # type: ignore[override]
        """The wrapped adapter's ``requires_training`` (default ``False``)."""
        return bool(getattr(self.inner, "requires_training", False))

    @property
    def trainable(self) -> bool:
        """Whether the wrapped adapter says it trains (``trainable``, else has ``fit``)."""
        declared = getattr(self.inner, "trainable", None)
        if declared is not None:
            return bool(declared)
        return callable(self._hook("fit"))

    def identity(self) -> dict[str, Any]:
        """The wrapped adapter's fingerprint and the plugin's distribution."""
        return {"inner": self._inner_fingerprint(None), "distribution": self.distribution}

    def _inner_fingerprint(self, task: TaskSpec | None) -> str:
        import inspect

        method = self.inner.fingerprint
        try:
            takes_task = bool(inspect.signature(method).parameters)
        except (TypeError, ValueError):
            takes_task = False
        return str(method(task) if takes_task else method())

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """The wrapped adapter's fingerprint, combined with the plugin's version if known."""
        inner = self._inner_fingerprint(task)
        if self.distribution is None:
            return inner
        return combine(inner, *self.distribution)

    def supports(self, family: str) -> bool:
        """Whether the wrapped adapter serves ``family``."""
        return bool(self.inner.supports(family))

    def for_task(self, task: TaskSpec, family: Family) -> Adapter:
        """The wrapped adapter's ``for_task`` (or legacy ``bind``), wrapped again."""
        for_task = self._hook("for_task")
        if callable(for_task):
            inner = for_task(task, family)
            if inner is self.inner:
                return self
            return _rewrap(self, inner)
        bind = self._hook("bind")
        if callable(bind):
            # A legacy hook that configures the object in place: bind a copy, never self.
            inner = copy.copy(self.inner)
            inner.bind(task, family)
            return _rewrap(self, inner)
        return self

    @property
    def prompted(self) -> bool:
        """The wrapped adapter's ``prompted`` (default ``False``)."""
        return bool(getattr(self.inner, "prompted", False))

    def protocol_support(self, task: TaskSpec) -> str | None:
        """The wrapped adapter's ``protocol_support``, if it has one (default: none)."""
        hook = self._hook("protocol_support")
        return hook(task) if callable(hook) else None

    def sort_key(self, request: Request) -> int | None:
        """The wrapped adapter's ``sort_key``, if it has one (default: input order)."""
        hook = self._hook("sort_key")
        return hook(request) if callable(hook) else None

    def check_ids(self, ids: Sequence[str]) -> None:
        """The wrapped adapter's ``check_ids``, if it has one."""
        hook = self._hook("check_ids")
        if callable(hook):
            hook(ids)

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """The wrapped adapter's ``fit``."""
        hook = self._hook("fit")
        if not callable(hook):
            raise NotImplementedError(f"{self.name} is not trainable")
        hook(examples)

    def resources(self) -> Resources:
        """The wrapped adapter's ``resources()``, if it has one (default: one CPU)."""
        hook = self._hook("resources")
        return hook() if callable(hook) else Resources()

    def secrets(self) -> tuple[str, ...]:
        """The wrapped adapter's ``secrets()``, if it has one (default: none)."""
        hook = self._hook("secrets")
        return tuple(hook()) if callable(hook) else ()

    def predict(self, requests: Sequence[Request]) -> Sequence[Response | Failure]:
        """The wrapped adapter's responses (and failures)."""
        return list(self.inner.predict(requests))

    def info(self) -> dict[str, Any]:
        """The wrapped adapter's info plus ``plugin``: source, module, distribution, version."""
        own = self._hook("info")
        out = dict(own()) if callable(own) else {}
        dist, version = self.distribution or (None, None)
        out["plugin"] = {
            "source": self.source,
            "module": self.module,
            "distribution": dist,
            "version": version,
        }
        return out


def as_adapter(obj: Any, *, source: str = "an adapter object") -> Adapter:
    """``obj`` itself when it is an :class:`Adapter`, else ``obj`` wrapped as a
    :class:`PluginAdapter` (the one place foreign objects are adapted).

    Raises:
        ModelSpecError: ``obj`` lacks ``name``, ``fingerprint``, ``supports`` or ``predict``.
    """
    if isinstance(obj, Adapter):
        return obj
    if not isinstance(obj, ModelAdapter):
        raise ModelSpecError(
            f"{source} ({type(obj).__name__}) does not implement the adapter protocol "
            "(name, fingerprint, supports, predict)",
            fix="subclass bench.adapters.Adapter",
        )
    return PluginAdapter(obj, source=source)


def _rewrap(wrapper: PluginAdapter, inner: Any) -> PluginAdapter:
    """``wrapper`` around another inner object (same source and distribution)."""
    new = copy.copy(wrapper)
    new.inner = inner
    return new


def builtin_baselines() -> list[str]:
    """Specs of every built-in baseline, in a stable order."""
    from bench.registry import registry

    return [n for n in registry.names("adapter") if n.startswith("baseline:")]
