"""``baseline:tfidf-logreg`` beyond two labels: liblinear (the default) fits one binary model
per label, as its docstring says; the other solvers fit a multinomial model."""

from __future__ import annotations

import numpy as np
import pytest

from bench.adapters.baselines import TfidfLogReg
from bench.families.sentiment import SentimentRequest

LABELS = ("negative", "neutral", "positive")
WORDS = {
    "negative": ["awful", "broken", "terrible", "worst", "refund", "rude"],
    "neutral": ["arrived", "tuesday", "package", "ordinary", "average", "standard"],
    "positive": ["great", "lovely", "perfect", "excellent", "delighted", "superb"],
}


def _examples(seed: int, n: int) -> list[tuple[SentimentRequest, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = LABELS[i % 3]
        words = [str(w) for w in rng.choice(WORDS[label], size=3, replace=False)]
        text = " ".join([*words, "the", "item"])
        out.append(
            (SentimentRequest(id=f"{seed}-{i}", language="en", text=text, labels=LABELS), label)
        )
    return out


@pytest.mark.parametrize("solver", ["liblinear", "lbfgs"])
def test_three_labels_fit_and_predict(solver: str) -> None:
    model = TfidfLogReg(solver=solver, folds=3)
    model.fit(_examples(0, 30))
    test = _examples(1, 12)
    answers = model.predict([r for r, _ in test])
    assert [a.label for a in answers] == [y for _, y in test]
    for a in answers:
        assert set(a.probabilities) == set(LABELS)
        assert sum(a.probabilities.values()) == pytest.approx(1.0)
    if solver == "liblinear":
        from sklearn.multiclass import OneVsRestClassifier

        assert isinstance(model._model.named_steps["clf"], OneVsRestClassifier)
