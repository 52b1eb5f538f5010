"""``hf:PATH,task=embed``: a transformers encoder's static word vectors, as a vector model.

A model spec::

    hf:./bert-base-uncased,task=embed            # input embeddings (the default mode)
    hf:./bert-base-uncased,task=embed,layer=6    # layer 6's states of the word alone

turns the encoder into one vector per word, so BERT-style and LLM vocabularies are scored on
the word-similarity and word-analogy families exactly as classic vectors are
(:class:`~bench.adapters.vectors.VectorModel`). The vector of a word ``w``:

* mode ``input`` (no ``layer=``): the mean of the input-embedding rows
  (``model.get_input_embeddings().weight``) of ``w``'s sub-tokens, ``w`` tokenised alone
  *without* special tokens (``tokenizer(w, add_special_tokens=False)``);
* mode ``layer`` (``layer=N``): ``w`` encoded alone *with* the model's special tokens
  (``tokenizer(w)``: ``[CLS] w [SEP]`` for BERT) in one forward pass of ``AutoModel`` (its
  encoder, for an encoder-decoder model), and the mean of ``hidden_states[N]`` over the
  positions of ``w``'s own sub-tokens (the special tokens' positions left out).
  ``hidden_states[0]`` is the embedding layer's output, ``hidden_states[L]`` the last of the
  ``L`` layers' (negative ``N`` counts from the end, as in Python).

A word with no sub-token, or one of whose sub-tokens is the unknown token, has no vector (it is
out of the vocabulary). Everything runs in float32.

**Vocabulary.** Vectors for only the words the requests name would make every analogy search
trivial (the answer must be a vector in the set), so the vector set is the tokenizer's
*whole-word vocabulary*: each vocabulary entry that is not a special token, that decodes
(``convert_tokens_to_string``, stripped) to a string with a letter or digit and no space,
and whose decoded string tokenises back to exactly that one entry. This keeps BERT's ``paris``
and drops its ``##ing`` pieces, ``[CLS]`` and punctuation; for a byte-level BPE vocabulary it
keeps the entry a bare word tokenises to. Entries are in token-id order (the order
``restrict_vocab`` cuts), each word once. A request word outside that vocabulary (a word of
several sub-tokens) still gets its vector: :meth:`HFEmbedAdapter.predict` answers each request
with the whole-word vocabulary plus *that request's own* missing words appended after it, so an
answer never depends on which other requests share its batch (a cache must be able to serve it
alone). The search vocabulary of an analogy is therefore the whole-word vocabulary plus the
question's words, which gensim's rule excludes from the answers.

The fingerprint covers the weights folder's content (SHA-256 of its files,
:func:`bench.metrics.model_based.folder_sha256`), the mode and the layer, transformers' version
and this code's version. Only a local folder or a model already in the Hugging Face cache is
used (``local_files_only``): nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from bench.adapters.base import Adapter, Resources
from bench.adapters.vectors import VectorModel
from bench.errors import MissingDependency, ModelSpecError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from bench.families.base import Failure, Request, Response

__all__ = ["HFEmbedAdapter"]

# The words a request of each family asks a vector for.
_REQUEST_WORDS = ("word1", "word2", "a", "b", "c")


class HFEmbedAdapter(VectorModel):
    """Static word vectors of a transformers encoder; see the module docstring.

    Built by ``hf:PATH,task=embed[,layer=N]`` (``HFAdapter`` hands ``task=embed`` specs here).

    Example:
        >>> import tempfile, pathlib
        >>> from tests.fixtures.tiny_models import tiny_bert
        >>> folder = tiny_bert(pathlib.Path(tempfile.mkdtemp()) / "bert")
        >>> kv = HFEmbedAdapter(str(folder), task="embed").keyed_vectors()
        >>> kv.vector_size, "city" in kv.key_to_index, "##s" in kv.key_to_index
        (32, True, False)
    """

    name = "hf"
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """The mode and where it runs.

        Attributes:
            task: ``embed``.
            layer: ``None``: input embeddings; ``N``: the mean of ``hidden_states[N]``.
            batch_size: Words per forward pass in layer mode (not in the fingerprint).
            device: ``cpu``, ``cuda``, ``cuda:1`` ... (default: CUDA when visible; not in
                the fingerprint).
            threads: torch's intra-op threads while the vectors are computed (default:
                torch's own; not in the fingerprint).
        """

        task: Literal["embed"]
        layer: int | None = None
        batch_size: int = Field(default=256, ge=1)
        device: str | None = None
        threads: int | None = Field(default=None, ge=1)

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        if not target:
            raise ModelSpecError(
                "model 'hf' needs a local folder or a hub id in the local cache",
                fix="write hf:PATH,task=embed[,layer=N]",
            )
        self.model_id = target
        self._folder: Path | None = None
        self._sha256: str | None = None
        self._loaded: tuple[Any, Any] | None = None
        self._word_vectors: dict[str, Any] = {}
        self._piece_ids: dict[str, list[int]] = {}  # a word's sub-tokens, no special tokens
        self._serving: KeyedVectors | None = None

    # ------------------------------------------------------------------ identity

    @property
    def mode(self) -> str:
        """``input`` or ``layer``."""
        return "input" if self.params.layer is None else "layer"

    def folder(self) -> Path:
        """The weights folder: the target itself, or its snapshot in the Hugging Face cache.

        Raises:
            ModelSpecError: Neither (bench never downloads a model here).
        """
        if self._folder is None:
            from bench.metrics.model_based import local_model

            try:
                found = local_model(self.model_id, metric=f"hf:{self.model_id},task=embed")
            except MissingDependency as exc:
                raise ModelSpecError(
                    f"hf:{self.model_id},task=embed: neither a local folder nor in the Hugging "
                    "Face cache on this machine",
                    fix=f"download it first (`hf download {self.model_id}`) or give a folder "
                    "written by save_pretrained",
                ) from exc
            self._folder = found.path
        return self._folder

    def identity(self) -> dict[str, Any]:
        """:meth:`VectorModel.identity` with the mode's parameters (not the path, the batch
        size, the device or the threads: the weights' content is in :meth:`vectors_identity`)."""
        ident = super().identity()
        ident["params"] = self.params.model_dump(
            mode="json", exclude={"batch_size", "device", "threads"}
        )
        return ident

    def vectors_identity(self) -> dict[str, Any]:
        """The weights folder's SHA-256, the mode, the layer and transformers' version."""
        import transformers

        if self._sha256 is None:
            from bench.metrics.model_based import folder_sha256

            self._sha256 = folder_sha256(self.folder())
        return {
            "weights_sha256": self._sha256,
            "mode": self.mode,
            "layer": self.params.layer,
            "transformers": transformers.__version__,
        }

    def resources(self) -> Resources:
        """One CPU (the vectors are built once; a GPU only speeds up layer mode)."""
        return Resources(num_cpus=1.0)

    # ------------------------------------------------------------------ loading

    def _model(self) -> tuple[Any, Any]:
        """``(tokenizer, model)``, loaded once from :meth:`folder` (never downloading)."""
        if self._loaded is None:
            import torch
            import transformers

            transformers.utils.logging.disable_progress_bar()
            folder = self.folder()
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(
                    folder, local_files_only=True
                )
                model = transformers.AutoModel.from_pretrained(
                    folder, local_files_only=True, dtype=torch.float32
                )
            except (OSError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise ModelSpecError(
                    f"hf:{self.model_id},task=embed cannot be loaded: {first[:300]}",
                    fix="give a folder written by save_pretrained (model and tokenizer)",
                ) from exc
            if getattr(model.config, "is_encoder_decoder", False):
                model = model.get_encoder()
            device = self.params.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.to(device).eval()
            if self.params.layer is not None:
                count = int(model.config.num_hidden_layers) + 1
                if not -count <= self.params.layer < count:
                    raise ModelSpecError(
                        f"hf:{self.model_id},task=embed: layer={self.params.layer} is out of "
                        f"range (hidden_states has {count} entries: 0 = embeddings, "
                        f"{count - 1} = last layer)",
                        fix=f"use layer=0..{count - 1} (or -{count}..-1 from the end)",
                    )
            self._loaded = (tokenizer, model)
        return self._loaded

    def whole_words(self) -> list[str]:
        """The tokenizer's whole-word vocabulary, in token-id order (see the module
        docstring)."""
        tokenizer, _ = self._model()
        special = set(tokenizer.all_special_ids)
        candidates: list[tuple[str, int]] = []
        for token, index in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
            if index in special:
                continue
            word = tokenizer.convert_tokens_to_string([token]).strip()
            if word and not any(c.isspace() for c in word) and any(c.isalnum() for c in word):
                candidates.append((word, index))
        if not candidates:
            return []
        ids = tokenizer([w for w, _ in candidates], add_special_tokens=False)["input_ids"]
        words: dict[str, None] = {}
        for (word, index), row in zip(candidates, ids, strict=True):
            if list(row) == [index] and word not in words:
                words[word] = None
                self._piece_ids[word] = [index]
        return list(words)

    def word_vectors(self, words: Sequence[str]) -> dict[str, Any]:
        """The vector of each word (a float32 NumPy array), or ``None`` for a word with no
        sub-token or an unknown one; computed once per word."""
        todo = [w for w in dict.fromkeys(words) if w not in self._word_vectors]
        if todo:
            import torch

            from bench.adapters.torch_utils import torch_settings

            threads = self.params.threads or torch.get_num_threads()
            with torch_settings(torch, threads, None), torch.inference_mode():
                if self.params.layer is None:
                    self._word_vectors.update(self._input_vectors(todo))
                else:
                    self._word_vectors.update(self._layer_vectors(todo))
        return {w: self._word_vectors[w] for w in words}

    def _input_vectors(self, words: list[str]) -> dict[str, Any]:
        tokenizer, model = self._model()
        table = model.get_input_embeddings().weight.detach().float().cpu()
        unk = tokenizer.unk_token_id
        out: dict[str, Any] = {}
        new = [w for w in words if w not in self._piece_ids]
        if new:
            ids = tokenizer(new, add_special_tokens=False)["input_ids"]
            self._piece_ids.update({w: list(row) for w, row in zip(new, ids, strict=True)})
        for word in words:
            row = self._piece_ids[word]
            if not row or (unk is not None and unk in row):
                out[word] = None
            else:
                out[word] = table[row].mean(dim=0).numpy()
        return out

    def _layer_vectors(self, words: list[str]) -> dict[str, Any]:
        import torch

        tokenizer, model = self._model()
        unk = tokenizer.unk_token_id
        encoded = tokenizer(words, return_special_tokens_mask=True)
        # Words of equal length in tokens go through together: no padding, so a word's
        # states are those of its forward pass alone.
        by_length: dict[int, list[int]] = {}
        out: dict[str, Any] = {}
        for i, word in enumerate(words):
            own = [
                t
                for t, s in zip(
                    encoded["input_ids"][i], encoded["special_tokens_mask"][i], strict=True
                )
                if not s
            ]
            if not own or (unk is not None and unk in own):
                out[word] = None
            else:
                by_length.setdefault(len(encoded["input_ids"][i]), []).append(i)
        device = next(model.parameters()).device
        layer = self.params.layer
        for _, members in sorted(by_length.items()):
            for start in range(0, len(members), self.params.batch_size):
                chunk = members[start : start + self.params.batch_size]
                ids = torch.tensor([encoded["input_ids"][i] for i in chunk], device=device)
                keep = torch.tensor(
                    [[not s for s in encoded["special_tokens_mask"][i]] for i in chunk],
                    device=device,
                )
                states = model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
                weights = keep.to(states.dtype).unsqueeze(-1)
                means = (states.float() * weights).sum(dim=1) / weights.sum(dim=1)
                for i, vector in zip(chunk, means.cpu(), strict=True):
                    out[words[i]] = vector.numpy()
        return out

    def load_vectors(self) -> KeyedVectors:
        """The whole-word vocabulary's vectors, in token-id order."""
        import numpy as np
        from gensim.models import KeyedVectors

        words = self.whole_words()
        vectors = self.word_vectors(words)
        kept = [w for w in words if vectors[w] is not None]
        _, model = self._model()
        dim = int(model.get_input_embeddings().weight.shape[1])
        if self.params.layer is not None and kept:
            dim = int(vectors[kept[0]].shape[0])
        kv = KeyedVectors(dim)
        if kept:
            kv.add_vectors(kept, np.stack([vectors[w] for w in kept]).astype(np.float32))
        return kv

    def keyed_vectors(self) -> KeyedVectors:
        """The whole-word vocabulary's vectors, or, while :meth:`predict` answers a group of
        requests, that vocabulary plus the group's own missing words."""
        if self._serving is not None:
            return self._serving
        return super().keyed_vectors()

    def with_words(self, words: Sequence[str]) -> KeyedVectors:
        """The whole-word vocabulary's vectors with ``words`` not in it appended after it (in
        the given order; words without a vector are left out)."""
        import numpy as np
        from gensim.models import KeyedVectors

        base = super().keyed_vectors()
        extra = [w for w in dict.fromkeys(words) if w not in base.key_to_index]
        found = {w: v for w, v in self.word_vectors(extra).items() if v is not None}
        if not found:
            return base
        kv = KeyedVectors(base.vector_size)
        kv.add_vectors(
            [*base.index_to_key, *found],
            np.concatenate([base.vectors, np.stack(list(found.values()))]).astype(np.float32),
        )
        return kv

    def info(self) -> dict[str, Any]:
        """The base facts, the mode, the layer, the weights' SHA-256 and the model class."""
        _, model = self._model()
        identity = self.vectors_identity()
        return {
            **super().info(),
            "mode": self.mode,
            "layer": self.params.layer,
            "weights_sha256": identity["weights_sha256"],
            "model_class": type(model).__name__,
        }

    def predict(self, requests: Sequence[Request]) -> Sequence[Response | Failure]:
        """Answer through :class:`~bench.adapters.vectors.VectorModel`, each group of requests
        with the same missing words against the whole-word vocabulary plus those words only
        (so each answer depends on its own request alone)."""
        base = super().keyed_vectors()
        upper = {str(k).upper() for k in base.index_to_key}
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, request in enumerate(requests):
            folded = bool(getattr(request, "case_insensitive", False))
            missing: list[str] = []
            for field in _REQUEST_WORDS:
                word = getattr(request, field, None)
                if not isinstance(word, str) or word in base.key_to_index:
                    continue
                if folded and word.upper() in upper:
                    continue  # gensim's case folding finds the vocabulary's variant first
                missing.append(word)
            groups.setdefault(tuple(sorted(set(missing))), []).append(i)
        answers: list[Response | Failure | None] = [None] * len(requests)
        for missing_words, members in groups.items():
            self._serving = self.with_words(missing_words) if missing_words else None
            try:
                got = super().predict([requests[i] for i in members])
            finally:
                self._serving = None
            for i, answer in zip(members, got, strict=True):
                answers[i] = answer
        return [a for a in answers if a is not None]
