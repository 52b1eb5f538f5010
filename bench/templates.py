"""Commented task-file templates for ``bench new-task``."""

from __future__ import annotations

from bench.errors import UnknownName, did_you_mean

__all__ = ["task_template"]

_SENTIMENT = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
# A task file is data: every step, metric and family is a registered name, never code.
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: sentiment
languages: [en]              # the first language drives tokenisers (en, zh, ...)
description: >-
  One paragraph: what is classified, where the data comes from, and its licence.
labels: [negative, positive] # the label set, in a fixed order
source:
  kind: local                # builtin | local | hub | url
  location: data/{name}      # local: a folder relative to this file (or absolute)
  format: jsonl              # json | jsonl | csv | tsv | parquet | text | text-files
  files:                     # split name -> file (globs allowed)
    train: train.jsonl
    test: test.jsonl
  splits:                    # role -> split expression; slices like all[:80%] are allowed
    train: train
    test: test
  fields:                    # the family's field -> the column that holds it
    text: text
    label: label
  # label_map: {{0: negative, 1: positive}}   # raw label values -> labels
  # shuffle_seed: 13                         # seeded shuffle before slicing
preprocess:                  # ordered steps with params (see `bench doctor` for resources)
  - unicode_nfkc
  - collapse_whitespace
prompt:                      # for generic (LLM) adapters
  template: "Is the sentiment of this review {{labels}}?\\n\\n{{text}}\\n\\nAnswer:"
  verbalizers: {{negative: negative, positive: positive}}
metrics:
  - accuracy
  - macro_f1
  - per_class
  - mcc
  - confusion_matrix
  - ece: {{bins: 15}}
primary_metric: accuracy
"""

_TRANSLATION = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: translation
languages: [zh, en]          # [source, target]; the target picks the BLEU tokenizer (zh -> zh)
description: >-
  One paragraph: the test set, its domain, where it comes from and its licence.
source:
  kind: local                # builtin | local | hub | url | sacrebleu
  location: data/{name}      # relative to this file (or absolute)
  format: jsonl              # ...; aligned-text for one-segment-per-line files
  files:
    train: train.jsonl       # a parallel train split is optional (trainable baselines use it)
    test: test.jsonl
  splits: {{train: train, test: test}}
  fields:
    source: zh
    references: en           # or a list of columns: [ref_a, ref_b]
preprocess: []
prompt:
  template: "Translate from {{source_language}} to {{target_language}}:\\n\\n{{source}}"
metrics:
  - bleu                     # sacrebleu corpus BLEU; tokenizer follows the target language
  - chrf: {{word_order: 0}}  # word_order: 2 for chrF++
  - ter
primary_metric: bleu
"""

_SUMMARIZATION = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: summarization
languages: [en]              # en: rouge-score tokenizer + Porter stemmer; zh: jieba
description: >-
  One paragraph: the documents, the reference summaries, the source and its licence.
source:
  kind: local
  location: data/{name}
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
  fields:
    document: document
    references: summary      # or a list of columns for several references
preprocess: [collapse_whitespace]
prompt:
  template: "Summarize the following document in a few sentences.\\n\\n{{document}}"
metrics:
  - rouge1
  - rouge2
  - rougeL
  - rougeLsum
primary_metric: rougeL
"""

_QA = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: qa
languages: [en]              # en: SQuAD scoring; zh: CMRC2018 scoring (cmrc_em / cmrc_f1)
description: >-
  One paragraph: the passages, the questions, where they come from and their licence.
source:
  kind: local
  location: data/{name}
  format: squad              # SQuAD-format JSON; or jsonl with the fields below
  files: {{dev: dev.json}}
  splits: {{test: dev}}
  fields:                    # with format squad the columns already have these names
    question: question
    context: context
    answers: answers         # a list of gold answers; empty = unanswerable (SQuAD 2.0)
preprocess: []
prompt:
  template: "Answer with a span of the passage.\\n\\n{{context}}\\n\\nQ: {{question}}\\nA:"
metrics:
  - squad_em                 # squad2_em / squad2_f1 for SQuAD 2.0-style data
  - squad_f1
primary_metric: squad_f1
"""

_RECOMMENDATION = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: recommendation
languages: [en]              # the language of the item titles
description: >-
  One paragraph: the interaction log, the items, where they come from and their licence.
source:
  kind: local
  location: data/{name}
  format: csv
  files: {{all: interactions.csv, items: items.csv}}
  splits: {{test: all}}      # the whole log; the protocol below makes train and test
  fields: {{user: user_id, item: item_id, timestamp: timestamp, rating: rating}}
options:
  protocol: leave-last-out   # or temporal (with test_fraction: 0.2)
  candidates: full           # or sampled (with negatives: 100, seed: 0), frozen and hashed
  # min_rating: 4            # drop interactions rated below this
  items:
    file: items
    format: csv
    fields: {{item: item_id, title: title}}
preprocess: []
metrics:
  - hit_rate: {{k: [10]}}
  - ndcg: {{k: [10]}}
  - mrr
primary_metric: ndcg@10
"""

_TEMPLATES = {
    "sentiment": _SENTIMENT,
    "translation": _TRANSLATION,
    "summarization": _SUMMARIZATION,
    "qa": _QA,
    "recommendation": _RECOMMENDATION,
}


def task_template(name: str, family: str) -> str:
    """A commented YAML template for a new task of ``family`` that validates as it is.

    Raises:
        UnknownName: No template for ``family``.
    """
    if family not in _TEMPLATES:
        raise UnknownName(
            f"no task template for family '{family}'{did_you_mean(family, _TEMPLATES)}",
            fix=f"use one of: {', '.join(sorted(_TEMPLATES))}",
        )
    return _TEMPLATES[family].format(name=name)
