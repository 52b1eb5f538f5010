"""One registry for families, preprocessing steps, metrics and adapters.

Entries are ``"module:attr"`` strings resolved on first use, so importing ``bench`` imports
nothing heavy. Third-party packages add entries through the entry-point group ``bench.plugins``;
each entry point is named ``KIND.NAME`` (``adapter.my-model``, ``metric.my-score``) and points at
the object, for example in a plugin's ``pyproject.toml``::

    [project.entry-points."bench.plugins"]
    "adapter.echo" = "my_plugin.adapters:EchoAdapter"

One more kind lives only in entry points: ``tasks.NAME`` names a folder of task files shipped
in a plugin package (``"tasks.mine" = "my_plugin:TASKS"``, where ``TASKS`` is a path, a
``importlib.resources`` Traversable, a package, or a callable returning one of these).
:mod:`bench.catalog` searches those folders beside ``BENCH_TASKS_PATH`` and the built-in tasks.

An entry point that is not named ``KIND.NAME`` never hides the others: every well-formed entry
point is registered, and the bad one is reported with a :class:`PluginWarning` when plugins are
listed, and as the reason when its name is asked for (:class:`PluginProblem`).

Names are stable: a changed meaning is a new name or a new version, never a silent edit.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final, Literal

from bench.errors import BenchError, MissingDependency, UnknownName, did_you_mean

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "TASKS_KIND",
    "Kind",
    "PluginProblem",
    "PluginTaskFolder",
    "PluginWarning",
    "Registry",
    "distribution_of",
    "import_object",
    "registry",
]

Kind = Literal["family", "step", "metric", "adapter"]
KINDS: Final[tuple[Kind, ...]] = ("family", "step", "metric", "adapter")
ENTRY_POINT_GROUP: Final = "bench.plugins"
TASKS_KIND: Final = "tasks"
"""The entry-point kind of plugin task folders (``tasks.NAME``); not a registry kind."""


@dataclass(frozen=True)
class PluginTaskFolder:
    """A ``tasks.NAME`` entry point: a folder of task files shipped in a plugin package.

    Attributes:
        name: The entry point's NAME.
        target: ``"module:attr"`` (or ``"module"``) naming the folder.
        distribution: The plugin distribution's name (``None`` when unknown).
        version: Its version (``None`` when unknown).
    """

    name: str
    target: str
    distribution: str | None = None
    version: str | None = None

    @property
    def origin(self) -> str:
        """How ``bench tasks list`` names where the folder comes from."""
        dist = " ".join(p for p in (self.distribution, self.version) if p)
        return f"plugin {dist or self.target}"


class PluginWarning(UserWarning):
    """An installed plugin declares an entry point bench cannot use (the others still work)."""


@dataclass(frozen=True)
class PluginProblem:
    """An entry point in the ``bench.plugins`` group that is not named ``KIND.NAME``.

    Attributes:
        entry_point: The entry point's name as declared (``echo``, ``adapters.echo``).
        target: What it points at (``my_plugin:EchoAdapter``).
        distribution: The plugin distribution's name (``None`` when unknown).
    """

    entry_point: str
    target: str
    distribution: str | None = None

    @property
    def name(self) -> str:
        """The NAME the author most likely meant (after the first dot, else all of it)."""
        kind, dot, name = self.entry_point.partition(".")
        return name if dot and name else kind

    @property
    def message(self) -> str:
        """What is wrong, naming the entry point and its package."""
        return (
            f"entry point '{self.entry_point}' = '{self.target}' in group '{ENTRY_POINT_GROUP}' "
            f"(package {self.distribution or '?'}) is not named KIND.NAME, so bench ignores it"
        )

    @property
    def fix(self) -> str:
        """How to fix it."""
        return (
            f"rename it in the plugin's pyproject.toml, e.g. 'adapter.{self.name}'; KIND is one "
            f"of {', '.join((*KINDS, TASKS_KIND))}; then reinstall the plugin"
        )

    def error(self) -> UnknownName:
        """The problem as the error raised when its name is asked for."""
        return UnknownName(self.message, fix=self.fix)


_BUILTINS: dict[Kind, dict[str, str]] = {
    "family": {
        "sentiment": "bench.families.sentiment:SentimentFamily",
        "translation": "bench.families.translation:TranslationFamily",
        "summarization": "bench.families.summarization:SummarizationFamily",
        "qa": "bench.families.qa:QAFamily",
        "recommendation": "bench.families.recommendation:RecommendationFamily",
        "judge": "bench.families.judge:JudgeFamily",
        "word-similarity": "bench.families.wordvec:WordSimilarityFamily",
        "word-analogy": "bench.families.wordvec:WordAnalogyFamily",
    },
    "step": {
        "unicode_nfkc": "bench.preprocess.text:UnicodeNFKC",
        "fullwidth_to_halfwidth": "bench.preprocess.text:FullwidthToHalfwidth",
        "lowercase": "bench.preprocess.text:Lowercase",
        "strip_html": "bench.preprocess.text:StripHTML",
        "collapse_whitespace": "bench.preprocess.text:CollapseWhitespace",
        "traditional_to_simplified": "bench.preprocess.zh:TraditionalToSimplified",
        "zh_segment": "bench.preprocess.zh:ZhSegment",
        "zh_pos": "bench.preprocess.zh:ZhPOS",
        "en_tokenize": "bench.preprocess.en:EnTokenize",
        "en_sentences": "bench.preprocess.en:EnSentences",
        "en_pos": "bench.preprocess.en:EnPOS",
        "remove_stopwords": "bench.preprocess.stopwords:RemoveStopwords",
        "truncate": "bench.preprocess.text:Truncate",
    },
    "metric": {
        "accuracy": "bench.metrics.classification:Accuracy",
        "macro_f1": "bench.metrics.classification:MacroF1",
        "mcc": "bench.metrics.classification:MCC",
        "per_class": "bench.metrics.classification:PerClass",
        "confusion_matrix": "bench.metrics.classification:ConfusionMatrix",
        "ece": "bench.metrics.classification:ECE",
        "bleu": "bench.metrics.mt:BLEU",
        "chrf": "bench.metrics.mt:CHRF",
        "ter": "bench.metrics.mt:TER",
        "rouge1": "bench.metrics.rouge:Rouge1",
        "rouge2": "bench.metrics.rouge:Rouge2",
        "rougeL": "bench.metrics.rouge:RougeL",
        "rougeLsum": "bench.metrics.rouge:RougeLsum",
        "bertscore": "bench.metrics.bertscore:BERTScore",
        "comet": "bench.metrics.comet:COMET",
        "cometkiwi": "bench.metrics.comet:CometKiwi",
        "judge": "bench.metrics.judge:Judge",
        "squad_em": "bench.metrics.qa:SquadEM",
        "squad_f1": "bench.metrics.qa:SquadF1",
        "squad2_em": "bench.metrics.qa:Squad2EM",
        "squad2_f1": "bench.metrics.qa:Squad2F1",
        "cmrc_em": "bench.metrics.qa:CmrcEM",
        "cmrc_f1": "bench.metrics.qa:CmrcF1",
        "hit_rate": "bench.metrics.ranking:HitRate",
        "recall": "bench.metrics.ranking:Recall",
        "precision": "bench.metrics.ranking:Precision",
        "ndcg": "bench.metrics.ranking:NDCG",
        "mrr": "bench.metrics.ranking:MRR",
        "map": "bench.metrics.ranking:MAP",
        "coverage": "bench.metrics.ranking:Coverage",
        "popularity": "bench.metrics.ranking:Popularity",
        "spearman": "bench.metrics.wordvec:Spearman",
        "pearson": "bench.metrics.wordvec:Pearson",
        "pair_coverage": "bench.metrics.wordvec:PairCoverage",
        "analogy_3cosadd": "bench.metrics.wordvec:Analogy3CosAdd",
        "analogy_3cosmul": "bench.metrics.wordvec:Analogy3CosMul",
        "analogy_coverage": "bench.metrics.wordvec:AnalogyCoverage",
    },
    "adapter": {
        "baseline:majority": "bench.adapters.baselines:MajorityBaseline",
        "baseline:tfidf-logreg": "bench.adapters.baselines:TfidfLogReg",
        "baseline:textcnn": "bench.adapters.textcnn:TextCNNBaseline",
        "baseline:copy": "bench.adapters.generation:CopyBaseline",
        "baseline:ibm1": "bench.adapters.ibm1:IBM1Baseline",
        "baseline:lead-k": "bench.adapters.generation:LeadK",
        "baseline:textrank": "bench.adapters.generation:TextRank",
        "baseline:sliding-window": "bench.adapters.qa:SlidingWindow",
        "baseline:first-sentence": "bench.adapters.qa:FirstSentence",
        "baseline:random": "bench.adapters.recommendation:RandomRanker",
        "baseline:most-popular": "bench.adapters.recommendation:MostPopular",
        "baseline:item-knn": "bench.adapters.recommendation:ItemKNN",
        "baseline:bpr-mf": "bench.adapters.recommendation:BPRMF",
        "predictions": "bench.adapters.predictions:PredictionsAdapter",
        "openai": "bench.adapters.openai:OpenAIAdapter",
        "hf": "bench.adapters.hf:HFAdapter",
        "vectors": "bench.adapters.vectors:VectorsAdapter",
        "baseline:word2vec": "bench.adapters.word2vec:Word2VecBaseline",
        "baseline:wordvec-logreg": "bench.adapters.neural:WordVecLogReg",
        "baseline:bilstm": "bench.adapters.neural:BiLSTMBaseline",
        "baseline:transformer-small": "bench.adapters.neural:TransformerSmall",
        "finetune": "bench.adapters.finetune:FineTuneAdapter",
    },
}


_NEED_PARAMS: Final[frozenset[tuple[Kind, str]]] = frozenset(
    {("step", "remove_stopwords"), ("step", "truncate"), ("metric", "judge")}
)
"""The built-ins that cannot be built without parameters (a required or exactly-one-of
parameter). Every other built-in step and metric builds with none, so a task file that names
one without parameters is checked against the name table alone, never imported
(tests/unit/test_registry.py keeps this set equal to what the classes refuse)."""


class Registry:
    """Maps ``(kind, name)`` to lazily imported objects.

    Example:
        >>> from bench.registry import registry
        >>> registry.get("metric", "accuracy").__name__
        'Accuracy'
    """

    def __init__(self, builtins: dict[Kind, dict[str, str]] | None = None) -> None:
        self._targets: dict[Kind, dict[str, str | Any]] = {
            kind: dict((builtins or {}).get(kind, {})) for kind in KINDS
        }
        self._builtins: dict[Kind, dict[str, str]] = {
            kind: dict((builtins or {}).get(kind, {})) for kind in KINDS
        }
        self._loaded: dict[tuple[Kind, str], Any] = {}
        self._task_folders: dict[str, PluginTaskFolder] = {}
        self._problems: list[PluginProblem] = []
        self._plugins_scanned = False
        self._warned = False

    def register(self, kind: Kind, name: str, target: str | Any) -> None:
        """Register ``target`` (an object or a ``"module:attr"`` string) as ``kind`` ``name``."""
        self._check_kind(kind)
        self._targets[kind][name] = target
        self._loaded.pop((kind, name), None)

    def names(self, kind: Kind) -> list[str]:
        """All registered names of ``kind``, plugins included, sorted.

        An unusable plugin entry point is reported with a :class:`PluginWarning` (once).
        """
        self._check_kind(kind)
        self._scan_plugins()
        self._warn_problems()
        return sorted(self._targets[kind])

    def task_folders(self) -> list[PluginTaskFolder]:
        """The ``tasks.NAME`` entry points of installed plugins, sorted by name.

        An unusable plugin entry point is reported with a :class:`PluginWarning` (once).
        """
        self._scan_plugins()
        self._warn_problems()
        return [self._task_folders[n] for n in sorted(self._task_folders)]

    def plugin_problems(self) -> list[PluginProblem]:
        """The installed entry points bench cannot use (not named ``KIND.NAME``)."""
        self._scan_plugins()
        return list(self._problems)

    def _warn_problems(self) -> None:
        if self._problems and not self._warned:
            self._warned = True
            for problem in self._problems:
                warnings.warn(f"{problem.message}; fix: {problem.fix}", PluginWarning, stacklevel=3)

    def __contains__(self, key: tuple[Kind, str]) -> bool:
        kind, name = key
        self._scan_plugins()
        return name in self._targets.get(kind, {})

    def check_name(self, kind: Kind, name: str) -> None:
        """Raise what :meth:`get` raises for an unknown ``name``, importing nothing.

        Raises:
            UnknownName: ``name`` is not registered (with a did-you-mean), or it is the name of
                an installed entry point bench cannot use (:class:`PluginProblem`).
        """
        self._check_kind(kind)
        self._scan_plugins()
        if name in self._targets[kind]:
            return
        for problem in self._problems:
            if name in (problem.name, problem.entry_point):
                raise problem.error()
        raise UnknownName(
            f"unknown {kind} '{name}'{did_you_mean(name, self._targets[kind])}",
            fix=f"use one of: {', '.join(sorted(self._targets[kind]))}",
        )

    def builds_without_params(self, kind: Kind, name: str) -> bool:
        """Whether ``name`` is a built-in, still registered as shipped, whose class builds
        with no parameters: then naming it without parameters needs no check beyond its name,
        and its module is not imported until it is used (see :data:`_NEED_PARAMS`)."""
        builtin = self._builtins.get(kind, {}).get(name)
        return (
            builtin is not None
            and self._targets[kind].get(name) == builtin
            and (kind, name) not in _NEED_PARAMS
        )

    def get(self, kind: Kind, name: str) -> Any:
        """Resolve ``name``; an unknown name raises ``UnknownName`` with a did-you-mean."""
        key = (kind, name)
        if key in self._loaded:
            return self._loaded[key]
        self.check_name(kind, name)
        target = self._targets[kind][name]
        try:
            obj = _import(target) if isinstance(target, str) else target
        except ImportError as exc:
            missing = (exc.name or "").split(".")[0]
            fix = (
                "reinstall bench (pip install -e . in a checkout)"
                if missing == "bench"
                else f"install the package that provides it (pip install {missing or '...'})"
            )
            raise MissingDependency(
                f"{kind} '{name}' ({target}) cannot be imported: {exc}", fix=fix
            ) from exc
        self._loaded[key] = obj
        return obj

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise UnknownName(
                f"unknown registry kind '{kind}'{did_you_mean(kind, KINDS)}",
                fix=f"use one of: {', '.join(KINDS)}",
            )

    def _scan_plugins(self) -> None:
        """Register every ``bench.plugins`` entry point; remember the malformed ones.

        Marked done only after the scan, so an error while reading the installed metadata is
        raised again on the next use instead of leaving the registry without plugins.
        """
        if self._plugins_scanned:
            return
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            kind, _, name = ep.name.partition(".")
            dist = ep.dist.name if ep.dist else None
            if kind == TASKS_KIND and name:
                self._task_folders.setdefault(
                    name,
                    PluginTaskFolder(
                        name=name,
                        target=ep.value,
                        distribution=dist,
                        version=ep.dist.version if ep.dist else None,
                    ),
                )
            elif kind not in KINDS or not name:
                problem = PluginProblem(ep.name, ep.value, dist)
                if problem not in self._problems:
                    self._problems.append(problem)
            else:
                # Built-in names win: a plugin cannot silently change a built-in's meaning.
                self._targets[kind].setdefault(name, ep.value)
        self._plugins_scanned = True


def distribution_of(module_name: str) -> tuple[str, str] | None:
    """``(distribution name, version)`` of the installed package that provides ``module_name``.

    ``None`` when no installed distribution declares the module's top-level package (a module
    on ``PYTHONPATH`` without metadata, for instance).
    """
    top = module_name.partition(".")[0]
    names = metadata.packages_distributions().get(top) or []
    for dist_name in names:
        try:
            return dist_name, metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            continue
    return None


def import_object(
    target: str, *, error: type[BenchError] = UnknownName, what: str = "object"
) -> Any:
    """Import ``"package.module:attr[.attr...]"`` with errors that say what is wrong.

    Args:
        target: The module path and, after ``:``, the attribute path.
        error: The ``BenchError`` subclass to raise.
        what: What the target is, for messages (``"plugin factory"``).

    Raises:
        BenchError: ``error`` when the target is malformed, the module is not installed (with a
            did-you-mean over importable sibling modules), importing it fails on a missing
            dependency, or the attribute is missing (with a did-you-mean over the module's
            names).
    """
    module_name, sep, attr = (part.strip() for part in target.partition(":"))
    if not sep or not module_name or not attr:
        raise error(
            f"{what} '{target}' is not MODULE:ATTRIBUTE",
            fix="write e.g. my_package.adapters:make_adapter",
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and module_name != missing and not module_name.startswith(missing + "."):
            raise error(
                f"{what} '{target}': importing '{module_name}' failed: {exc}",
                fix=f"install the package that provides '{missing.partition('.')[0]}'",
            ) from exc
        parent, _, leaf = missing.rpartition(".")
        raise error(
            f"{what} '{target}': no module named '{missing}'"
            f"{did_you_mean(leaf, _sibling_modules(parent))}",
            fix="install the plugin package (pip install ...) or put it on PYTHONPATH, "
            "and check the spelling of the module path",
        ) from exc
    except ImportError as exc:
        raise error(
            f"{what} '{target}': importing '{module_name}' failed: {exc}",
            fix="reinstall the plugin package and the packages it needs",
        ) from exc
    obj: Any = module
    done = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise error(
                f"{what} '{target}': '{done}' has no attribute '{part}'{did_you_mean(part, names)}",
                fix=f"use one of: {', '.join(sorted(names)) or '(none)'}",
            )
        obj = getattr(obj, part)
        done = f"{done}:{part}" if done == module_name else f"{done}.{part}"
    return obj


def _sibling_modules(parent: str) -> list[str]:
    """Importable module names next to a missing one (top-level ones when ``parent`` is
    empty), for did-you-mean."""
    import pkgutil

    if not parent:
        return [m.name for m in pkgutil.iter_modules()]
    try:
        package = importlib.import_module(parent)
    except ImportError:
        return []
    return [m.name for m in pkgutil.iter_modules(getattr(package, "__path__", []))]


def _import(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


registry = Registry(_BUILTINS)
"""The process-wide registry of built-in and plugin entries."""
