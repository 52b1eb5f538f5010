"""Classic baselines: ``majority`` and ``tfidf-logreg``.

Both are trained on the task's train split (``fit``) before they predict, and their fingerprint
(combined by the runner with the train split's fingerprint) covers everything that changes
their answers: code version, hyper-parameters and seed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.adapters.base import Baseline, Seed
from bench.errors import AdapterError
from bench.families.base import Request, Response
from bench.families.sentiment import SentimentRequest, SentimentResponse
from bench.preprocess.segmenter import jieba_words

__all__ = ["MajorityBaseline", "TfidfLogReg", "text_tokens"]

_EN_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def text_tokens(request: SentimentRequest) -> list[str]:
    """The words a lexical baseline sees.

    The task's own tokens when its preprocessing produced them; otherwise jieba words for
    Chinese (a text with CJK characters) and a lower-cased word/punctuation split for English.
    """
    if request.tokens is not None:
        return [t.lower() for t in request.tokens if t.strip()]
    if request.language.startswith("zh") or _CJK.search(request.text):
        return [t.lower() for t in jieba_words(request.text)]
    return [t.lower() for t in _EN_TOKEN.findall(request.text)]


def _sentiment(requests: Sequence[Request]) -> list[SentimentRequest]:
    out = []
    for r in requests:
        if not isinstance(r, SentimentRequest):
            raise AdapterError(f"expected sentiment requests, got {type(r).__name__}")
        out.append(r)
    return out


class MajorityBaseline(Baseline):
    """Predicts the most frequent label of the train split, with the train label distribution
    as its probabilities (ties go to the label listed first in the task).

    The floor every report needs: any model worth publishing beats it.
    """

    name = "baseline:majority"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)
    requires_training: ClassVar[bool] = True

    class Params(BaseModel):
        """``seed`` is accepted for symmetry with other baselines; the majority is deterministic."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._label: str | None = None
        self._probs: dict[str, float] | None = None

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Count the train labels."""
        if not examples:
            raise AdapterError("majority baseline: the train split is empty")
        labels = _sentiment([examples[0][0]])[0].labels
        counts = Counter(str(ref) for _, ref in examples)
        total = sum(counts.values())
        self._label = max(labels, key=lambda lab: (counts.get(lab, 0), -labels.index(lab)))
        self._probs = {lab: counts.get(lab, 0) / total for lab in labels}

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        if self._label is None:
            raise AdapterError("majority baseline: predict() called before fit()")
        return [
            SentimentResponse(label=self._label, probabilities=self._probs)
            for _ in _sentiment(requests)
        ]


class TfidfLogReg(Baseline):
    """TF-IDF features and logistic regression, C chosen by stratified k-fold cross-validation.

    Features are word n-grams over :func:`text_tokens` (jieba words for Chinese) plus,
    optionally, character n-grams, with sublinear TF; the classifier is liblinear's L2 logistic
    regression (one-vs-rest beyond two labels) by default. ``C`` is chosen from ``c_grid`` by
    ``folds`` stratified, shuffled (seeded) folds on macro-F1; the vectoriser is refitted inside
    every fold, so the choice never sees its validation fold.
    """

    name = "baseline:tfidf-logreg"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)
    requires_training: ClassVar[bool] = True
    version: ClassVar[int] = 1

    class Params(BaseModel):
        """Hyper-parameters of the TF-IDF + logistic regression baseline."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0
        folds: int = Field(default=5, ge=2, le=20)
        c_grid: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
        word_ngrams: int = Field(default=2, ge=1, le=3)
        char_ngrams: int = Field(default=0, ge=0, le=5, description="0 = no character n-grams")
        min_df: int = Field(default=1, ge=1)
        max_iter: int = Field(default=2000, ge=100)
        solver: Literal["liblinear", "lbfgs", "saga"] = "liblinear"

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._model: Any = None
        self.best_c: float | None = None

    def _features(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        p = self.params
        features: list[tuple[str, Any]] = [
            (
                "words",
                TfidfVectorizer(
                    analyzer=_NGrams(p.word_ngrams), sublinear_tf=True, min_df=p.min_df
                ),
            )
        ]
        if p.char_ngrams:
            features.append(
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer=_CharNGrams(p.char_ngrams), sublinear_tf=True, min_df=p.min_df
                    ),
                )
            )
        return FeatureUnion(features)

    def _classifier(self, c: float, n_labels: int = 2) -> Any:
        """Logistic regression; liblinear fits binary problems only, so beyond two labels
        it is one-vs-rest (one binary model per label, as liblinear itself did before
        scikit-learn 1.8 stopped doing it inside ``LogisticRegression``)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        p = self.params
        clf = LogisticRegression(C=c, max_iter=p.max_iter, solver=p.solver, random_state=p.seed)
        if p.solver == "liblinear" and n_labels > 2:
            return OneVsRestClassifier(clf)
        return clf

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Tokenise, pick C by cross-validation, refit on the whole train split.

        Each fold fits its own vectoriser on its training part only, once, and reuses the
        features for every C of the grid.
        """
        import numpy as np
        from sklearn.metrics import f1_score
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import Pipeline

        requests = _sentiment([r for r, _ in examples])
        labels = np.asarray([str(ref) for _, ref in examples])
        n_labels = len(set(labels))
        if n_labels < 2:
            raise AdapterError("tfidf-logreg: the train split has fewer than two labels")
        docs = np.asarray([_Doc(text_tokens(r), r.text) for r in requests], dtype=object)
        folds = min(self.params.folds, min(Counter(labels.tolist()).values()))
        if folds < 2:
            raise AdapterError(
                "tfidf-logreg: a label has fewer than 2 train examples; cannot cross-validate"
            )
        grid = list(self.params.c_grid)
        scores = np.zeros(len(grid))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.params.seed)
        for train_idx, val_idx in splitter.split(docs, labels):
            features = self._features()
            x_train = features.fit_transform(list(docs[train_idx]))
            x_val = features.transform(list(docs[val_idx]))
            for k, c in enumerate(grid):
                clf = self._classifier(c, n_labels).fit(x_train, labels[train_idx])
                scores[k] += f1_score(labels[val_idx], clf.predict(x_val), average="macro")
        # Ties go to the smaller C (the stronger regularisation).
        self.best_c = float(grid[int(np.argmax(scores))])
        self.cv_scores = {str(c): float(s / folds) for c, s in zip(grid, scores, strict=True)}
        self._model = Pipeline(
            [("features", self._features()), ("clf", self._classifier(self.best_c, n_labels))]
        ).fit(list(docs), labels)

    def info(self) -> dict[str, Any]:
        """The C chosen by cross-validation and the mean macro-F1 of each C."""
        return {"best_c": self.best_c, "cv_macro_f1": getattr(self, "cv_scores", None)}

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        if self._model is None:
            raise AdapterError("tfidf-logreg: predict() called before fit()")
        reqs = _sentiment(requests)
        docs = [_Doc(text_tokens(r), r.text) for r in reqs]
        probs = self._model.predict_proba(docs)
        classes = [str(c) for c in self._model.classes_]
        out: list[Response] = []
        for req, row in zip(reqs, probs, strict=True):
            p = {lab: 0.0 for lab in req.labels}
            for cls, value in zip(classes, row, strict=True):
                p[cls] = float(value)
            total = sum(p.values())
            p = {k: v / total for k, v in p.items()}
            best = max(req.labels, key=lambda lab: (p[lab], -req.labels.index(lab)))
            out.append(SentimentResponse(label=best, probabilities=p))
        return out


class _Doc:
    """A tokenised document; sklearn analyzers receive it whole."""

    __slots__ = ("text", "tokens")

    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text


class _NGrams:
    """Word 1..n-grams of a document's tokens (picklable, unlike a lambda)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, doc: _Doc) -> list[str]:
        toks = doc.tokens
        grams = list(toks)
        for k in range(2, self.n + 1):
            grams += [" ".join(toks[i : i + k]) for i in range(len(toks) - k + 1)]
        return grams


class _CharNGrams:
    """Character 1..n-grams of a document's lower-cased text, whitespace removed."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, doc: _Doc) -> list[str]:
        text = "".join(doc.text.lower().split())
        return [text[i : i + k] for k in range(1, self.n + 1) for i in range(len(text) - k + 1)]
