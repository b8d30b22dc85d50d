"""The data experiments of notebook 02, keeping every run's per-item test outcomes so figures get intervals.

``utils.core.training.accuracy_vs_training_size`` and ``accuracy_vs_label_noise`` return one float per run;
here each run returns an ``ExperimentRun`` with the 0/1 outcome of every test item, how many optimizer
steps it took and its validation accuracy. Outcomes on the *same* test items make paired comparisons
possible (``utils.core.stats.paired_difference``): with and without augmentation, clean and noisy labels.

    runs = scarcity_runs(build, digits.train, digits.val, digits.test, [0.1, 1.0], steps=760)
    runs[0].accuracy          # Estimate: value, n, Wilson interval
    runs[0].steps             # optimizer steps actually taken

No run is selected on the test items: each run keeps the weights of its best *validation* epoch and is
scored on the test set once.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from utils.core.stats import Estimate, proportion
from utils.core.training import end_progress, flip_labels, progress_bar, subsample, train_classifier, training_step
from utils.vision.evaluation import correct_outcomes, predict


@dataclass
class ExperimentRun:
    """One fresh model of an experiment: its setting, its training and its per-item test outcomes."""

    setting: float  # the fraction of training data, or the share of flipped labels
    n_train: int
    epochs: int  # epochs run
    steps: int  # optimizer steps taken (counted, not computed)
    best_epoch: int  # chosen on the validation loss
    val_accuracy: float  # at the best epoch, against the validation labels the run was given
    correct: np.ndarray  # (N_test,) booleans

    @property
    def accuracy(self) -> Estimate:
        return proportion(self.correct)


def _advance(bar, status: str) -> None:
    if bar is not None:
        bar.set_postfix_str(status)
        bar.update()


def _run(build_model: Callable[[], nn.Module], train_data, val_data, test_data, setting: float, seed: int,
         **train_kwargs) -> ExperimentRun:
    steps = 0

    def counting_step(*args):
        nonlocal steps
        steps += 1
        return training_step(*args)

    torch.manual_seed(seed)  # the same initial weights for every point of a curve
    model = build_model()
    history = train_classifier(model, train_data, val_data, seed=seed, progress=False, step=counting_step,
                               **train_kwargs)
    X_test, y_test = test_data
    predictions = predict(model, X_test, device=train_kwargs.get("device")).argmax(dim=1)  # (N_test,)
    return ExperimentRun(setting, len(train_data[1]), history.epochs_run, steps, history.best_epoch,
                         history.best_val_accuracy, correct_outcomes(y_test, predictions))


def scarcity_runs(build_model: Callable[[], nn.Module], train_data, val_data, test_data, fractions, *,
                  steps: int, batch_size: int = 64, seed: int = 0, progress: bool = True,
                  **train_kwargs) -> list[ExperimentRun]:
    """A fresh ``build_model()`` trained on each stratified ``fraction`` of the training data, every run with
    ``steps`` optimizer steps (rounded up to whole epochs), so the curve measures data, not training length.

    The learning-rate schedule spans the run, whatever its length; validation and test sets stay the same.
    """
    if not fractions:
        raise ValueError("fractions must list at least one share of the training data, e.g. [0.1, 1.0].")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    X, y = train_data
    runs, bar = [], progress_bar(len(fractions), progress, "training runs", unit="run")
    for fraction in fractions:
        X_small, y_small = subsample(X, y, fraction, seed)
        epochs = math.ceil(steps / math.ceil(len(y_small) / batch_size))
        runs.append(_run(build_model, (X_small, y_small), val_data, test_data, fraction, seed,
                         epochs=epochs, batch_size=batch_size, **train_kwargs))
        _advance(bar, f"{fraction:.0%} of the data: test accuracy {runs[-1].accuracy.value:.3f}")
    end_progress(bar)
    return runs


def label_noise_runs(build_model: Callable[[], nn.Module], train_data, val_data, test_data, shares,
                     num_classes: int, *, seed: int = 0, progress: bool = True,
                     **train_kwargs) -> list[ExperimentRun]:
    """A fresh model for each ``share`` of flipped training *and* validation labels, scored on clean test labels.

    The flips are those of ``accuracy_vs_label_noise`` (``flip_labels`` with ``seed`` and ``seed + 1``), so the
    accuracies match it; ``val_accuracy`` is what a team would see: measured against the noisy labels.
    """
    if not shares:
        raise ValueError("shares must list at least one share of flipped labels, e.g. [0.0, 0.1, 0.3].")
    (X_train, y_train), (X_val, y_val) = train_data, val_data
    runs, bar = [], progress_bar(len(shares), progress, "training runs", unit="run")
    for share in shares:
        noisy_train = (X_train, flip_labels(y_train, share, num_classes, seed))
        noisy_val = (X_val, flip_labels(y_val, share, num_classes, seed + 1))
        runs.append(_run(build_model, noisy_train, noisy_val, test_data, share, seed, **train_kwargs))
        _advance(bar, f"{share:.0%} flipped: test accuracy {runs[-1].accuracy.value:.3f}")
    end_progress(bar)
    return runs
