"""Train any PyTorch classifier on in-memory tensors: validation every epoch, early stopping, best weights back.

    history = train_classifier(model, (X_train, y_train), (X_val, y_val), epochs=30, patience=5)
    history.best_epoch, history.val_accuracy[-1], history.seconds

Nothing here is specific to images: ``X`` may be images ``(N, C, H, W)``, token ids ``(N, T)``,
or a tuple of tensors that is unpacked into ``model(*inputs)``; ``y`` holds class ids ``(N,)``.
The data sets of this course are small, so they sit on the device as whole tensors and we
slice mini-batches ourselves — no DataLoader, no worker processes, identical on CPU, CUDA, MPS.

Early stopping watches the *validation* loss: once it has not improved for ``patience`` epochs
the model has started to learn its training set by heart (overfitting), so we stop and put back
the weights of the best epoch.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from utils.core.runtime import pick_device


@dataclass
class TrainingHistory:
    """Per-epoch curves plus where the best validation loss was; ``as_dict()`` gives plain JSON."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based: the epoch whose weights the model holds after training
    seconds: float = 0.0
    stopped_early: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    @property
    def best_val_accuracy(self) -> float:
        return self.val_accuracy[self.best_epoch - 1] if self.best_epoch else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "epochs_run": self.epochs_run}


# --- model helpers ---------------------------------------------------------------------------------------

def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """How many weights ``model`` has; ``trainable_only`` counts only those with ``requires_grad`` (not frozen)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --- inputs ------------------------------------------------------------------------------------------

def _unpack(data, name: str):
    """``(X, y)`` or a ``TensorDataset`` → (inputs as a tuple of tensors, labels)."""
    if isinstance(data, torch.utils.data.TensorDataset):
        data = (data.tensors[:-1], data.tensors[-1])
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y) of tensors or a TensorDataset, got {type(data).__name__}.")
    X, y = data
    inputs = tuple(X) if isinstance(X, (tuple, list)) else (X,)
    if not inputs or not all(isinstance(t, torch.Tensor) for t in (*inputs, y)):
        raise TypeError(f"{name}: X and y must be torch tensors; convert NumPy arrays with torch.as_tensor(...).")
    if y.dim() != 1:
        raise ValueError(f"{name}: y must be a 1-D tensor of class ids, got shape {tuple(y.shape)}.")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"{name}: y must hold integer class ids, got {y.dtype}; use y.long().")
    if len(y) == 0:
        raise ValueError(f"{name} is empty: it needs at least one example.")
    for t in inputs:
        if len(t) != len(y):
            raise ValueError(f"{name}: X has {len(t)} examples but y has {len(y)} labels; they must match.")
    return inputs, y.long()


def _check_labels(model: nn.Module, inputs, y: torch.Tensor, name: str) -> None:
    """Labels must be valid output indices of the model; we ask the model how many classes it has."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(*(t[:2] for t in inputs))  # (2, K)
    model.train(was_training)
    if logits.dim() != 2:
        raise ValueError(f"The model must return logits of shape (B, num_classes), got {tuple(logits.shape)}.")
    k = logits.shape[1]
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"{name}: labels must be in 0..{k - 1} (the model has {k} outputs), "
                         f"found {int(y.min())}..{int(y.max())}.")


def _batches(n: int, batch_size: int, order: torch.Tensor | None = None):
    order = torch.arange(n) if order is None else order
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


# --- one step, one pass ----------------------------------------------------------------------------------

def training_step(model: nn.Module, inputs: tuple, y: torch.Tensor, optimizer: torch.optim.Optimizer,
                  loss_fn: Callable) -> tuple[float, int]:
    """One gradient step on one mini-batch; returns (mean loss, number of correct predictions)."""
    optimizer.zero_grad(set_to_none=True)  # gradients add up in PyTorch, so clear last step's first
    logits = model(*inputs)  # (B, K)
    loss = loss_fn(logits, y)  # a scalar: mean cross-entropy over the batch
    loss.backward()  # d loss / d every weight
    optimizer.step()  # move each weight a little downhill
    return loss.item(), int((logits.argmax(dim=1) == y).sum())


@torch.no_grad()
def evaluate_loss(model: nn.Module, data, batch_size: int = 512, device: str | None = None,
                  loss_fn: Callable | None = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data`` in eval mode (no dropout, fixed batch-norm statistics)."""
    inputs, y = _unpack(data, "data")
    device = pick_device(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for idx in _batches(len(y), batch_size):
        xb = tuple(t[idx].to(device) for t in inputs)
        yb = y[idx].to(device)
        logits = model(*xb)  # (b, K)
        total_loss += float(loss_fn(logits, yb)) * len(idx)
        correct += int((logits.argmax(dim=1) == yb).sum())
    model.train(was_training)
    return total_loss / len(y), correct / len(y)


# --- the loop ----------------------------------------------------------------------------------------------

def train_classifier(model: nn.Module, train_data, val_data, *, epochs: int = 20, lr: float = 3e-3,
                     batch_size: int = 64, weight_decay: float = 1e-4, patience: int | None = 5,
                     augment: Callable | None = None, step: Callable = training_step,
                     label_smoothing: float = 0.0, device: str | None = None, seed: int = 0,
                     progress: bool = True, description: str = "training") -> TrainingHistory:
    """Train ``model`` in place with AdamW and a cosine learning-rate schedule; return its ``TrainingHistory``.

    - ``train_data``/``val_data``: ``(X, y)`` pairs (``X`` a tensor or tuple of tensors) or ``TensorDataset``s.
    - ``patience``: stop after this many epochs without a better validation loss (``None``: never stop early).
      Either way the model ends with the weights of its best validation epoch.
    - ``augment``: a function ``(X_batch, generator) -> X_batch`` applied to training batches only.
    - ``step``: the function that does one gradient step (see ``training_step``); the lab swaps in its own.
    - ``seed``: fixes the shuffling, augmentation and dropout, so the same call gives the same model.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be a positive integer or None, got {patience!r}.")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    train_inputs, y_train = _unpack(train_data, "train_data")
    val_inputs, y_val = _unpack(val_data, "val_data")
    device = pick_device(device)
    model.to(device)
    # the data is small: move it to the device once instead of once per batch
    train_inputs, y_train = tuple(t.to(device) for t in train_inputs), y_train.to(device)
    val_inputs, y_val = tuple(t.to(device) for t in val_inputs), y_val.to(device)
    _check_labels(model, train_inputs, y_train, "train_data")
    _check_labels(model, val_inputs, y_val, "val_data")

    torch.manual_seed(seed)  # dropout draws from the global generator
    generator = torch.Generator().manual_seed(seed)  # shuffling and augmentation draw from this one
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(y_train) // batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    history = TrainingHistory()
    best_loss, best_state, waited = float("inf"), None, 0
    started = time.perf_counter()
    epochs_bar = progress_bar(epochs, progress, description)
    for _ in range(epochs):
        model.train()
        total_loss, correct = 0.0, 0
        order = torch.randperm(len(y_train), generator=generator).to(device)  # a new shuffle every epoch
        for idx in _batches(len(y_train), batch_size, order):
            xb = tuple(t[idx] for t in train_inputs)
            if augment is not None:
                xb = (augment(xb[0], generator), *xb[1:])
            loss, n_correct = step(model, xb, y_train[idx], optimizer, loss_fn)
            scheduler.step()
            total_loss += loss * len(idx)
            correct += n_correct
        val_loss, val_accuracy = evaluate_loss(model, (val_inputs, y_val), device=device, loss_fn=loss_fn)
        history.train_loss.append(total_loss / len(y_train))
        history.train_accuracy.append(correct / len(y_train))
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        if epochs_bar is not None:
            epochs_bar.update()
            epochs_bar.set_postfix(train_loss=f"{history.train_loss[-1]:.3f}", val_loss=f"{val_loss:.3f}",
                                   val_acc=f"{val_accuracy:.3f}")
        if val_loss < best_loss:
            best_loss, waited, history.best_epoch = val_loss, 0, history.epochs_run
            # a copy on the CPU: the live weights keep changing in place
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            waited += 1
            if patience is not None and waited >= patience:
                history.stopped_early = True
                break
    end_progress(epochs_bar)
    if best_state is None:
        raise RuntimeError("The validation loss was never a finite number: training diverged. "
                           "Try a smaller lr (e.g. lr / 10) and check the inputs for NaN values.")
    model.load_state_dict(best_state)  # back to the best validation epoch
    model.eval()
    history.seconds = time.perf_counter() - started
    return history


def progress_bar(total: int, enabled: bool, description: str, unit: str = "epoch", **options):
    """A bar updated by hand (``None`` when disabled). Not an iterating bar: ``break``-ing out of one marks it
    failed (red in JupyterLab), and early stopping is no failure."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit=unit, leave=True, **options)


def end_progress(bar) -> None:
    """Close ``bar`` as a finished run: one that stopped early ends full (green), not red as if it had failed."""
    if bar is None:
        return
    if bar.total and bar.n < bar.total:
        bar.total = bar.n
        container = getattr(bar, "container", None)     # tqdm.notebook's widget: (label, bar, text)
        if container is not None:
            container.children[1].max = max(bar.n, 1)
    bar.close()



# --- experiments: how much data, how clean ------------------------------------------------------------

def subsample(X, y: torch.Tensor, fraction: float, seed: int = 0):
    """A stratified random ``fraction`` of (X, y), keeping at least one example per class; ``X`` may be a tuple."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    if fraction == 1:
        return X, y
    rng = np.random.default_rng(seed)
    labels = y.cpu().numpy()
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        keep.append(rng.choice(members, size=max(1, round(len(members) * fraction)), replace=False))
    keep = torch.as_tensor(np.sort(np.concatenate(keep)))
    X = tuple(t[keep] for t in X) if isinstance(X, (tuple, list)) else X[keep]
    return X, y[keep]


def flip_labels(y: torch.Tensor, share: float, num_classes: int, seed: int = 0) -> torch.Tensor:
    """A copy of ``y`` where a ``share`` of the labels is replaced by a different, random class (label noise)."""
    if not 0 <= share <= 1:
        raise ValueError(f"share must be in [0, 1], got {share}.")
    if num_classes < 2:
        raise ValueError("Flipping labels needs at least two classes.")
    rng = np.random.default_rng(seed)
    noisy = y.clone()
    chosen = torch.as_tensor(rng.choice(len(y), size=round(len(y) * share), replace=False), dtype=torch.long)
    # adding 1..K-1 modulo K always lands on a *different* class
    shift = torch.as_tensor(rng.integers(1, num_classes, size=len(chosen)), dtype=y.dtype)
    noisy[chosen] = (y[chosen] + shift) % num_classes
    return noisy


def _fresh_run(build_model: Callable[[], nn.Module], train_data, val_data, test_data, seed: int,
               **train_kwargs) -> float:
    torch.manual_seed(seed)  # the same initial weights for every point of a curve
    model = build_model()
    train_classifier(model, train_data, val_data, seed=seed, progress=False, **train_kwargs)
    return evaluate_loss(model, test_data, device=train_kwargs.get("device"))[1]


def accuracy_vs_training_size(build_model: Callable[[], nn.Module], train_data, val_data, test_data,
                              fractions, *, epochs: int = 20, max_epoch_factor: int = 4, seed: int = 0,
                              **train_kwargs) -> list[float]:
    """Test accuracy of a fresh ``build_model()`` trained on each stratified ``fraction`` of the training data.

    A smaller set gets more epochs (``epochs / fraction``, at most ``max_epoch_factor`` times as many),
    so that every run takes a similar number of gradient steps: otherwise we would measure "too few
    steps" instead of "too little data". The validation and test sets stay the same throughout.
    """
    if not fractions:
        raise ValueError("fractions must list at least one share of the training data, e.g. [0.1, 1.0].")
    inputs, y = _unpack(train_data, "train_data")
    accuracies = []
    for fraction in fractions:
        X_small, y_small = subsample(inputs if len(inputs) > 1 else inputs[0], y, fraction, seed)
        n_epochs = min(max_epoch_factor * epochs, max(epochs, round(epochs / fraction)))
        accuracies.append(_fresh_run(build_model, (X_small, y_small), val_data, test_data, seed,
                                     epochs=n_epochs, **train_kwargs))
    return accuracies


def accuracy_vs_label_noise(build_model: Callable[[], nn.Module], train_data, val_data, test_data, shares,
                            num_classes: int, *, seed: int = 0, **train_kwargs) -> list[float]:
    """Test accuracy when a ``share`` of the training *and* validation labels is wrong.

    Both are noisy because in practice they come from the same labelling effort; the test labels
    stay clean, like a small set an expert has checked twice.
    """
    if not shares:
        raise ValueError("shares must list at least one share of flipped labels, e.g. [0.0, 0.1, 0.3].")
    (train_inputs, y_train), (val_inputs, y_val) = _unpack(train_data, "train_data"), _unpack(val_data, "val_data")
    accuracies = []
    for share in shares:
        noisy_train = (train_inputs, flip_labels(y_train, share, num_classes, seed))
        noisy_val = (val_inputs, flip_labels(y_val, share, num_classes, seed + 1))
        accuracies.append(_fresh_run(build_model, noisy_train, noisy_val, test_data, seed, **train_kwargs))
    return accuracies
