"""utils.vision.evaluation: metrics on a hand-checked example, predictions, latency, size, baseline, plots."""

import pytest
import torch
from torch import nn

from utils.core.training import TrainingHistory, count_parameters
from utils.vision.cnn import TinyCNN
from utils.vision.evaluation import (
    classification_report,
    evaluate_classifier,
    fit_logistic_baseline,
    grouped_recall,
    measure_latency,
    model_size,
    plot_confusion_matrix,
    plot_learning_curves,
    predict,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_report_on_a_hand_checked_example():
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]  # class 3 never occurs...
    y_pred = [0, 0, 0, 1, 1, 1, 0, 2, 2, 3]  # ...but is predicted once
    report = classification_report(torch.as_tensor(y_true), y_pred, ["good", "scratch", "dent", "crack"])
    assert report["confusion_matrix"] == [[3, 1, 0, 0],  # rows: true class, columns: predicted class
                                          [1, 2, 0, 0],
                                          [0, 0, 2, 1],
                                          [0, 0, 0, 0]]
    assert report["per_class"] == {
        "good": {"precision": 0.75, "recall": 0.75, "support": 4},  # 3 of the 4 called good; 3 of the 4 good found
        "scratch": {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3), "support": 3},
        "dent": {"precision": 1.0, "recall": pytest.approx(2 / 3), "support": 3},
        "crack": {"precision": 0.0, "recall": 0.0, "support": 0},
    }
    assert report["accuracy"] == 0.7
    # the mean over the classes that occur: a class with no examples has no recall to average
    assert report["macro_recall"] == pytest.approx((0.75 + 2 / 3 + 2 / 3) / 3)
    assert all(type(v) is float for row in report["per_class"].values() for v in list(row.values())[:2])
    assert all(type(n) is int for row in report["confusion_matrix"] for n in row), "plain JSON, not NumPy"


def test_a_class_never_predicted_gets_zero_precision_not_a_crash():
    report = classification_report([0, 1, 2], [0, 0, 0], ["a", "b", "c"])
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "support": 1}


def test_grouped_recall_counts_any_defect_as_found():
    y_true = [0, 1, 2, 3, 1, 0]
    y_pred = [0, 2, 2, 0, 1, 1]  # the crack (3) was called good: the one miss among four defects
    assert grouped_recall(y_true, y_pred, positive_classes=[1, 2, 3]) == 0.75
    with pytest.raises(ValueError, match="undefined"):
        grouped_recall([0, 0], [0, 1], positive_classes=[1])


@pytest.mark.parametrize("y_true, y_pred, error, match", [
    ([0, 1], [0], ValueError, "must match"),
    ([], [], ValueError, "empty"),
    ([0, 5], [0, 1], ValueError, r"0\.\.2"),
    ([0.0, 1.0], [0, 1], TypeError, "integer"),
    ([[0, 1]], [[0, 1]], ValueError, "1-D"),
])
def test_bad_labels_get_an_actionable_error(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        classification_report(y_true, y_pred, ["a", "b", "c"])


def test_predict_batches_give_the_same_logits_as_one_big_batch():
    torch.manual_seed(0)
    model = TinyCNN(num_classes=3, channels=(4,))
    X = torch.rand(10, 1, 8, 8)
    assert predict(model, X, batch_size=3).shape == (10, 3)
    assert torch.allclose(predict(model, X, batch_size=3), predict(model, X, batch_size=100), atol=1e-5)
    report = evaluate_classifier(model, X, torch.zeros(10, dtype=torch.long), ["a", "b", "c"])
    assert report["predictions"].shape == (10,) and 0 <= report["accuracy"] <= 1
    with pytest.raises(ValueError, match="empty"):
        predict(model, X[:0])
    with pytest.raises(TypeError, match="tensor"):
        predict(model, X.numpy())


def test_latency_is_positive_per_item_for_every_batch_size():
    model = TinyCNN(num_classes=3, channels=(4,))
    latency = measure_latency(model, torch.rand(1, 8, 8), batch_sizes=(1, 4), repeats=2, warmup=1)
    assert set(latency) == {1, 4} and all(ms > 0 for ms in latency.values())
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(model, torch.rand(1, 8, 8), repeats=0)
    with pytest.raises(TypeError, match="without the batch axis"):
        measure_latency(model, [1, 2, 3])


def test_model_size_counts_weights_and_buffers():
    model = TinyCNN(num_classes=4, channels=(16, 32, 64))
    size = model_size(model)
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    assert size["parameters"] == count_parameters(model) == 23_668
    assert size["megabytes"] == pytest.approx((23_668 * 4 + buffers) / 2**20)
    assert model_size(nn.Linear(3, 2))["parameters"] == 8


def test_logistic_baseline_solves_a_linear_task():
    X = torch.rand(60, 1, 2, 2)
    y = (X[:, 0, 0, 0] > 0.5).long()
    result = fit_logistic_baseline(X[:40], y[:40], X[40:], y[40:], C=100.0)
    assert result["accuracy"] >= 0.9 and result["seconds"] >= 0
    with pytest.raises(ValueError, match="at least one"):
        fit_logistic_baseline(X[:0], y[:0], X, y)


def test_plots_return_figures():
    import matplotlib.pyplot as plt

    fig = plot_confusion_matrix([[5, 1], [0, 4]], ["good", "bad"])
    assert len(fig.axes) == 2  # the matrix and its colour bar
    history = TrainingHistory([1.0, 0.5], [1.1, 0.6], [0.5, 0.8], [0.4, 0.7], best_epoch=2)
    fig = plot_learning_curves({"run": history})
    assert len(fig.axes) == 2 and history.best_val_accuracy == 0.7
    plt.close("all")
