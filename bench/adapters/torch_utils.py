"""Torch helpers shared by the trainable baselines (imported only by code that uses torch)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["EpochRecord", "torch_settings", "train_with_early_stopping"]


@contextmanager
def torch_settings(torch: Any, threads: int, seed: int | None) -> Iterator[None]:
    """Set threads, deterministic kernels and (when given) a seed; restore all three after.

    The global RNG is forked, so seeding here leaves the caller's random stream untouched.
    """
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    warn_only_before = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic_before, warn_only=warn_only_before)
        torch.set_num_threads(threads_before)


#: One trained epoch as :func:`train_with_early_stopping` records it.
EpochRecord = dict[str, float | int | None]


def train_with_early_stopping(
    torch: Any,
    model: Any,
    optimiser: Any,
    epoch_batches: Callable[[], Iterable[tuple[tuple[Any, ...], Any]]],
    n_train: int,
    validate: Callable[[], tuple[float, float]] | None,
    *,
    max_epochs: int,
    patience: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[EpochRecord], int]:
    """Train a classifier by cross-entropy, keeping the weights of its best held-out epoch.

    Each epoch runs one optimiser step per batch of ``epoch_batches()`` (``(inputs, targets)``:
    the model is called as ``model(*inputs)``), then, when there is a held-out slice, calls
    ``validate()`` for its ``(macro_f1, loss)``. The epoch with the best macro-F1 (ties: lower
    loss) is kept; training stops after ``patience`` epochs without improvement. Without a
    held-out slice every epoch runs and the last one is kept.

    Args:
        torch: The torch module.
        model: The network (left in eval mode with the kept weights).
        optimiser: Its optimiser.
        epoch_batches: Called once per epoch, in order (so a seeded shuffle inside it is
            drawn at the same point of the random stream every time).
        n_train: Number of training examples (the mean loss's denominator).
        validate: ``None`` when nothing is held out.
        max_epochs: Most epochs trained.
        patience: Epochs without improvement before stopping.
        progress: Called as ``progress("epoch E/MAX", seen, n_train)`` after each optimiser
            step (``seen``: training examples of epoch ``E`` done so far).

    Returns:
        ``(history, best_epoch)``: one record per trained epoch (``epoch``, ``train_loss``,
        ``val_macro_f1``, ``val_loss``; the last two ``None`` without a held-out slice) and the
        epoch whose weights were kept.
    """
    import torch.nn.functional as F

    history: list[EpochRecord] = []
    best_key: tuple[float, float] | None = None
    best_state: dict[str, Any] | None = None
    best_epoch = 0
    stale = 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        total = 0.0
        seen = 0
        phase = f"epoch {epoch}/{max_epochs}"
        if progress is not None:
            progress(phase, 0, n_train)
        for inputs, targets in epoch_batches():
            optimiser.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(*inputs), targets)
            loss.backward()
            optimiser.step()
            total += float(loss.item()) * len(targets)
            seen += len(targets)
            if progress is not None:
                progress(phase, seen, n_train)
        record: EpochRecord = {
            "epoch": epoch,
            "train_loss": total / n_train,
            "val_macro_f1": None,
            "val_loss": None,
        }
        history.append(record)
        if validate is None:
            best_epoch = epoch
            continue
        val_f1, val_loss = validate()
        record["val_macro_f1"] = val_f1
        record["val_loss"] = val_loss
        key = (val_f1, -val_loss)
        if best_key is None or key > best_key:
            best_key, best_epoch, stale = key, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history, best_epoch
