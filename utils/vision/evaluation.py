"""Judge a classifier the way the business will: accuracy, per-class precision and recall, the confusion matrix,
latency per item, model size — and a classical baseline to beat first.

Nothing here is specific to images: ``predict`` takes any input tensor(s) the model accepts,
and the metrics take label arrays. The metrics themselves are scikit-learn's (``sklearn.metrics``);
this module checks the labels and returns the results as plain JSON.

- precision of class c: of the items we *called* c, the share that really are c;
- recall of class c: of the items that really *are* c, the share we found.
A defect detector that misses cracks has poor crack recall, however high its accuracy.

Each of these is a proportion of a small set, so the ``*_estimate`` functions return it as an
``utils.core.stats.Estimate``: the value with its ``n`` and a 95 % Wilson interval.
"""

import time

import numpy as np
import torch
from torch import nn

from utils.core.runtime import pick_device, synchronize
from utils.core.stats import Estimate, proportion
from utils.core.training import count_parameters


def _labels(values, name: str) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of class ids, got shape {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class ids, got {array.dtype}.")
    return array.astype(np.int64)


@torch.no_grad()
def predict(model: nn.Module, X, batch_size: int = 512, device: str | None = None) -> torch.Tensor:
    """Logits ``(N, K)`` on the CPU, computed in eval mode batch by batch; ``X`` is a tensor or tuple of tensors."""
    inputs = tuple(X) if isinstance(X, (tuple, list)) else (X,)
    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise TypeError("X must be a tensor (or a tuple of tensors); convert with torch.as_tensor(...).")
    if len(inputs[0]) == 0:
        raise ValueError("Nothing to predict: X is empty.")
    device = pick_device(device)
    model.to(device).eval()
    outputs = [model(*(t[i:i + batch_size].to(device) for t in inputs)).cpu()  # (b, K)
               for i in range(0, len(inputs[0]), batch_size)]
    return torch.cat(outputs)  # (N, K)


def _checked_pair(y_true, y_pred, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays as int64, with an actionable error unless they match in length and lie in 0..K-1."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}; they must match.")
    if len(y_true) == 0:
        raise ValueError("Cannot evaluate zero examples: y_true is empty.")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.min() < 0 or y.max() >= num_classes:
            raise ValueError(f"{name} must be in 0..{num_classes - 1}, found {y.min()}..{y.max()}.")
    return y_true, y_pred


def classification_report(y_true, y_pred, class_names) -> dict:
    """Accuracy, macro recall, per-class precision/recall/support and the confusion matrix, as plain JSON.

    The confusion matrix is ``(K, K)`` counts: row = true class, column = predicted class.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    class_names = list(class_names)
    y_true, y_pred = _checked_pair(y_true, y_pred, len(class_names))
    labels = np.arange(len(class_names))  # every class gets a row, even one absent from both arrays
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    # a class never predicted has no precision to speak of; we call it 0 rather than divide by zero
    precision, recall, _, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                    zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_recall": float(recall[support > 0].mean()),  # over the classes present in y_true
        "per_class": {name: {"precision": float(p), "recall": float(r), "support": int(s)}
                      for name, p, r, s in zip(class_names, precision, recall, support)},
        "confusion_matrix": matrix.tolist(),
    }


def _grouped_hits(y_true, y_pred, positive_classes) -> np.ndarray:
    """For each item of the positive classes: was it predicted as *some* positive class?"""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    positive = np.asarray(list(positive_classes))
    is_positive = np.isin(y_true, positive)
    if not is_positive.any():
        raise ValueError(f"No examples of classes {positive.tolist()} in y_true: recall is undefined.")
    return np.isin(y_pred[is_positive], positive)


def grouped_recall(y_true, y_pred, positive_classes) -> float:
    """Recall of a group of classes taken together, e.g. "any defect flagged as *some* defect"."""
    return float(_grouped_hits(y_true, y_pred, positive_classes).mean())


def correct_outcomes(y_true, y_pred) -> np.ndarray:
    """``(N,)`` booleans, one per item: was it classified right? The input of intervals and paired comparisons."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and match in length, got {len(y_true)} and "
                         f"{len(y_pred)}.")
    return y_true == y_pred


def accuracy_estimate(y_true, y_pred) -> Estimate:
    """Accuracy with its n and 95 % Wilson interval."""
    return proportion(correct_outcomes(y_true, y_pred))


def grouped_recall_estimate(y_true, y_pred, positive_classes) -> Estimate:
    """``grouped_recall`` with its interval; n is the number of items of the positive classes."""
    return proportion(_grouped_hits(y_true, y_pred, positive_classes))


def per_class_estimates(y_true, y_pred, class_names) -> dict[str, dict[str, Estimate | None]]:
    """``{class: {"recall": Estimate, "precision": Estimate}}`` with Wilson intervals.

    Recall's n is the items that truly are the class; precision's n is the items *predicted* as it.
    A class with no items (or never predicted) has ``None`` there: no proportion to estimate.
    """
    class_names = list(class_names)
    y_true, y_pred = _checked_pair(y_true, y_pred, len(class_names))
    result = {}
    for c, name in enumerate(class_names):
        is_true, is_called = y_true == c, y_pred == c
        result[name] = {"recall": proportion(is_called[is_true]) if is_true.any() else None,
                        "precision": proportion(is_true[is_called]) if is_called.any() else None}
    return result


def evaluate_classifier(model: nn.Module, X, y, class_names, device: str | None = None) -> dict:
    """``classification_report`` of ``model`` on (X, y), plus the predictions ``(N,)`` under ``"predictions"``."""
    predictions = predict(model, X, device=device).argmax(dim=1)  # (N,)
    report = classification_report(y, predictions, class_names)
    report["predictions"] = predictions
    return report


def fit_logistic_baseline(X_train, y_train, X_test, y_test, max_iter: int = 300, C: float = 1.0) -> dict:
    """Logistic regression on the raw, flattened inputs: the classical baseline any deep model must beat.

    Returns the ``accuracy`` on ``(X_test, y_test)``, the fitted ``model`` and ``scaler`` and the ``seconds``
    it took to train. Pass the *validation* split as the second pair while developing, and score the test
    split once at the end with ``baseline_predict``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def flat(X):
        return (X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)).reshape(len(X), -1)

    if len(X_train) == 0 or len(X_test) == 0:
        raise ValueError("The baseline needs at least one training and one test example.")
    X_train, X_test = flat(X_train), flat(X_test)
    y_train, y_test = _labels(y_train, "y_train"), _labels(y_test, "y_test")
    started = time.perf_counter()
    scaler = StandardScaler().fit(X_train)
    classifier = LogisticRegression(max_iter=max_iter, C=C).fit(scaler.transform(X_train), y_train)
    seconds = time.perf_counter() - started
    accuracy = float((classifier.predict(scaler.transform(X_test)) == y_test).mean())
    return {"accuracy": accuracy, "model": classifier, "scaler": scaler, "seconds": seconds}


def baseline_predict(baseline: dict, X) -> np.ndarray:
    """Class ids ``(N,)`` from a fitted ``fit_logistic_baseline`` result, e.g. for the one final test scoring."""
    flat = (X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)).reshape(len(X), -1)
    return baseline["model"].predict(baseline["scaler"].transform(flat))


@torch.inference_mode()
def measure_latency(model: nn.Module, example: torch.Tensor, batch_sizes=(1, 256), repeats: int = 20,
                    warmup: int = 3, device: str | None = None) -> dict[int, float]:
    """Median milliseconds *per item* for each batch size; ``example`` is one input without the batch axis.

    Batch 1 is what a camera on the line sees (one part at a time); a big batch is the best case
    for throughput. The median ignores the odd slow run caused by other programs.
    """
    if not isinstance(example, torch.Tensor):
        raise TypeError("example must be one input tensor without the batch axis, e.g. X_test[0].")
    if repeats < 1 or warmup < 0 or not batch_sizes or min(batch_sizes) < 1:
        raise ValueError("Need repeats >= 1, warmup >= 0 and positive batch sizes.")
    device = pick_device(device)
    model.to(device).eval()
    result = {}
    for batch_size in batch_sizes:
        batch = example.unsqueeze(0).expand(batch_size, *example.shape).contiguous().to(device)  # (B, ...)
        timings = []
        for i in range(warmup + repeats):
            synchronize(device)
            started = time.perf_counter()
            model(batch)
            synchronize(device)  # GPUs run asynchronously: wait for the work before stopping the clock
            if i >= warmup:
                timings.append(time.perf_counter() - started)
        result[int(batch_size)] = float(np.median(timings) * 1000 / batch_size)
    return result


def model_size(model: nn.Module) -> dict:
    """Parameter count and the size of the weights (parameters + buffers) in MiB."""
    parameters = count_parameters(model, trainable_only=False)
    nbytes = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    return {"parameters": int(parameters), "megabytes": nbytes / 2**20}


# --- plots ---------------------------------------------------------------------------------------------

def plot_confusion_matrix(matrix, class_names, title: str = "Confusion matrix (rows: true, columns: predicted)"):
    """Draw a ``(K, K)`` confusion matrix (e.g. ``report["confusion_matrix"]``) with scikit-learn's display."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = np.asarray(matrix)
    size = 1.0 + 0.45 * len(class_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    display = ConfusionMatrixDisplay(matrix, display_labels=list(class_names))
    display.plot(ax=ax, cmap="Blues", xticks_rotation=45, text_kw={"fontsize": 8})
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_learning_curves(histories: dict):
    """Loss and accuracy per epoch for one or more ``TrainingHistory`` objects (``{"label": history}``)."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    for label, h in histories.items():
        epochs = range(1, len(h.train_loss) + 1)
        line, = ax_loss.plot(epochs, h.train_loss, "--", label=f"{label} train")
        ax_loss.plot(epochs, h.val_loss, color=line.get_color(), label=f"{label} validation")
        ax_loss.axvline(h.best_epoch, color=line.get_color(), alpha=0.3)
        ax_acc.plot(epochs, h.train_accuracy, "--", color=line.get_color())
        ax_acc.plot(epochs, h.val_accuracy, color=line.get_color())
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss (vertical line: best epoch)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy (dashed: train, solid: validation)")
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    return fig
