"""utils.vision.experiments and the interval helpers of utils.vision.evaluation: outcomes, steps, wording."""

import pytest
import torch
from torch import nn

from utils.core.stats import proportion
from utils.core.training import accuracy_vs_label_noise
from utils.vision.evaluation import (
    accuracy_estimate,
    baseline_predict,
    correct_outcomes,
    fit_logistic_baseline,
    grouped_recall,
    grouped_recall_estimate,
    per_class_estimates,
)
from utils.vision.experiments import label_noise_runs, scarcity_runs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs(n: int, seed: int):
    """Two well-separated classes of 4-number inputs: any model learns them in a few steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, 4, generator=g) * 0.3 + y[:, None].float() * 2 - 1
    return X, y


def _build():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_interval_helpers_match_the_hand_count():
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 0, 2, 2, 3]
    assert correct_outcomes(y_true, y_pred).tolist() == [1, 1, 1, 0, 1, 1, 0, 1, 1, 0]
    assert accuracy_estimate(y_true, y_pred) == proportion([1, 1, 1, 0, 1, 1, 0, 1, 1, 0])
    recall = grouped_recall_estimate(y_true, y_pred, [1, 2, 3])
    assert recall.value == grouped_recall(y_true, y_pred, [1, 2, 3]) and recall.n == 6
    per_class = per_class_estimates(y_true, y_pred, ["good", "scratch", "dent", "crack"])
    assert per_class["good"]["recall"].n == 4 and per_class["good"]["precision"].n == 4  # 4 called good
    assert per_class["dent"]["precision"].value == 1.0 and per_class["dent"]["recall"].value == pytest.approx(2 / 3)
    assert per_class["crack"]["recall"] is None  # no crack in y_true: no recall to estimate
    assert per_class["crack"]["precision"].value == 0.0 and per_class["crack"]["precision"].n == 1
    with pytest.raises(ValueError, match="match in length"):
        correct_outcomes([0, 1], [0])


def test_baseline_scores_validation_first_and_predicts_test_later():
    X, y = _blobs(80, 0)
    baseline = fit_logistic_baseline(X[:40], y[:40], X[40:60], y[40:60])
    assert baseline["accuracy"] == 1.0
    assert (baseline_predict(baseline, X[60:]) == y[60:].numpy()).all()


def test_scarcity_runs_give_every_fraction_the_same_number_of_steps():
    train, val, test = _blobs(128, 0), _blobs(32, 1), _blobs(40, 2)
    runs = scarcity_runs(_build, train, val, test, [0.25, 1.0], steps=12, batch_size=16, patience=None)
    assert [r.n_train for r in runs] == [32, 128]
    assert [r.steps for r in runs] == [12, 16]  # 2 batches x 6 epochs; 8 batches x 2 epochs (whole epochs)
    assert [r.epochs for r in runs] == [6, 2]
    for run in runs:
        assert run.correct.shape == (40,) and run.accuracy.n == 40 and 1 <= run.best_epoch <= run.epochs
    with pytest.raises(ValueError, match="steps"):
        scarcity_runs(_build, train, val, test, [1.0], steps=0)


def test_label_noise_runs_match_the_core_experiment():
    train, val, test = _blobs(96, 0), _blobs(32, 1), _blobs(40, 2)
    settings = dict(epochs=3, patience=None, batch_size=16)
    runs = label_noise_runs(_build, train, val, test, [0.0, 0.3], num_classes=2, **settings)
    reference = accuracy_vs_label_noise(_build, train, val, test, [0.0, 0.3], num_classes=2, **settings)
    assert [r.accuracy.value for r in runs] == pytest.approx(reference)
    assert all(r.steps == 3 * 6 for r in runs)
