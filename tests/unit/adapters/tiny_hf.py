"""Builders of tiny Hugging Face models for the ``hf:`` adapter's tests.

Every model is built here from a config with seeded random weights and a byte-level BPE
tokenizer trained with the ``tokenizers`` library on a few sentences, then saved with
``save_pretrained`` to a folder the test loads by path — the code path of a hub id, which is
unreachable here. Byte-level BPE can encode any text (Chinese included), so every smoke task
runs through these models.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    M2M100Config,
    M2M100ForConditionalGeneration,
    NllbTokenizer,
    PreTrainedTokenizerFast,
)

from bench.data import BUILTIN_ROOT

__all__ = [
    "CHAT_TEMPLATE",
    "LANG_TOKENS",
    "SENTENCES",
    "build_tokenizer",
    "causal_model",
    "classifier_model",
    "corpus",
    "instruct_model",
    "nllb_tokenizer",
    "qa_model",
    "seq2seq_model",
]

SENTENCES = [
    "The food was wonderful and the staff were friendly.",
    "Terrible service, the room was dirty and cold.",
    "I loved this book, a great story with a happy ending.",
    "The phone broke after two days; a waste of money.",
    "Answer the question with a short span copied from the passage.",
    "Classify the sentiment of the review as one of: negative, positive.",
    "Translate the following Chinese text into English.",
    "Summarize the following document in one to three sentences.",
    "A user interacted with these items, oldest first: The Bright Bridge, The Silent Winter.",
    "Rank these candidate item ids from most to least likely next: i001, i002, i003.",
    "The river flows through the old city and the bridge was built in 1850.",
    "这家餐厅的菜很好吃，服务也很热情。",
    "房间又脏又冷，服务太差了。",
    "根据文章回答问题，答案直接摘抄文章中的片段。",
]

# NLLB-style language codes, added as special tokens to the seq2seq tokenizer.
LANG_TOKENS = ["eng_Latn", "zho_Hans"]

# A minimal chat template (the shape of Llama/ChatML templates): a marker before each turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]


@cache
def corpus() -> tuple[str, ...]:
    """:data:`SENTENCES` and the smoke recommendation task's item titles (short prompts)."""
    items = BUILTIN_ROOT / "smoke" / "recommendation-synthetic" / "items.csv"
    with items.open(encoding="utf-8") as fh:
        titles = [row["title"] for row in csv.DictReader(fh)]
    return (*SENTENCES, " ".join(titles))


def build_tokenizer(
    kind: str, *, extra_special: Sequence[str] = (), vocab_size: int = 1000
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on :data:`SENTENCES`.

    ``kind`` picks the post-processor: ``causal`` prepends ``<s>``; ``seq2seq`` appends
    ``</s>``; ``encoder`` wraps one text as ``<s> A </s>`` and a pair as ``<s> A </s> B </s>``
    (with token type ids), BERT's layout with these token names.
    """
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*_SPECIAL, *extra_special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    if kind == "causal":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", bos)]
        )
    elif kind == "seq2seq":
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", eos)]
        )
    elif kind == "encoder":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> $B:1 </s>:1",
            special_tokens=[("<s>", bos), ("</s>", eos)],
        )
    else:
        raise ValueError(kind)
    names = ["input_ids", "attention_mask"]
    if kind == "encoder":
        names.insert(1, "token_type_ids")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_input_names=names,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        cls_token="<s>",
        sep_token="</s>",
        additional_special_tokens=list(extra_special) or None,
    )


def _save(model: Any, tokenizer: PreTrainedTokenizerFast, path: Path) -> Path:
    model.eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def causal_model(
    path: Path,
    *,
    arch: str = "llama",
    chat_template: str | None = None,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    max_positions: int = 2048,
    init: float = 0.5,
) -> Path:
    """A tiny decoder-only LM (``llama`` or ``gpt2``) saved at ``path``; no pad token is set."""
    import torch

    tokenizer = build_tokenizer("causal")
    tokenizer.pad_token = None  # like most causal checkpoints: the adapter must set one
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    torch.manual_seed(seed)
    common = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if arch == "llama":
        config = LlamaConfig(
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=max_positions,
            initializer_range=init,
            **common,
        )
        model: Any = LlamaForCausalLM(config)
    elif arch == "gpt2":
        config = GPT2Config(
            n_embd=hidden,
            n_layer=layers,
            n_head=2,
            n_positions=max_positions,
            initializer_range=init,
            **common,
        )
        model = GPT2LMHeadModel(config)
    else:
        raise ValueError(arch)
    return _save(model, tokenizer, path)


def instruct_model(root: Path, *, name: str = "tiny-llama-Instruct", **kw: Any) -> Path:
    """A tiny Llama saved as ``root/name`` with :data:`CHAT_TEMPLATE`: its folder name marks
    an instruct model, so the ``hf:`` adapter applies the template without ``chat=true``
    (the same call with another ``name`` gives the same weights under a base model's name)."""
    return causal_model(root / name, chat_template=CHAT_TEMPLATE, **kw)


def nllb_tokenizer() -> Any:
    """An NLLB tokenizer (Metaspace BPE trained here, with :data:`LANG_TOKENS`)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split()) for m in model["merges"]]
    return NllbTokenizer(
        vocab=model["vocab"],
        merges=merges,
        src_lang=LANG_TOKENS[0],
        tgt_lang=LANG_TOKENS[1],
        additional_special_tokens=LANG_TOKENS,
    )


def seq2seq_model(
    path: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2, init: float = 0.5
) -> Path:
    """A tiny NLLB-style model: M2M100 architecture, NLLB tokenizer with language tokens."""
    import torch

    tokenizer = nllb_tokenizer()
    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=hidden,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * hidden,
        decoder_ffn_dim=2 * hidden,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        init_std=init,
    )
    saved = _save(M2M100ForConditionalGeneration(config), tokenizer, path)
    assert type(AutoTokenizer.from_pretrained(saved)).__name__ == "NllbTokenizer"
    return saved


def _bert_config(tokenizer: PreTrainedTokenizerFast, hidden: int, layers: int, **kw: Any) -> Any:
    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        **kw,
    )


def classifier_model(
    path: Path,
    *,
    id2label: dict[int, str] | None = None,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
) -> Path:
    """A tiny BERT sequence classifier; ``id2label`` defaults to ``NEGATIVE``/``POSITIVE``."""
    import torch

    tokenizer = build_tokenizer("encoder")
    labels = id2label or {0: "NEGATIVE", 1: "POSITIVE"}
    torch.manual_seed(seed)
    config = _bert_config(
        tokenizer,
        hidden,
        layers,
        num_labels=len(labels),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    return _save(BertForSequenceClassification(config), tokenizer, path)


def qa_model(path: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """A tiny BERT extractive-QA model (start and end logits per token)."""
    import torch

    tokenizer = build_tokenizer("encoder")
    torch.manual_seed(seed)
    return _save(BertForQuestionAnswering(_bert_config(tokenizer, hidden, layers)), tokenizer, path)
