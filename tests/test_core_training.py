"""utils.core.training: the generic loop (validation, early stopping, best-epoch restore) and the data experiments."""

import pytest
import torch
from torch import nn

from utils.core.training import (
    TrainingHistory,
    accuracy_vs_label_noise,
    accuracy_vs_training_size,
    count_parameters,
    evaluate_loss,
    flip_labels,
    subsample,
    train_classifier,
    training_step,
)
from utils.vision.cnn import TinyCNN

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def bright_or_dark(n=64, seed=0):
    """A task any model solves: class 1 images are brighter than class 0 images. (N, 1, 4, 4)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = (0.2 + 0.6 * y.view(-1, 1, 1, 1) + 0.1 * torch.rand(n, 1, 4, 4, generator=g)).clamp(0, 1)
    return X, y


def tiny_model(num_classes=2):
    torch.manual_seed(0)
    return TinyCNN(num_classes=num_classes, channels=(4,))


class BagOfTokens(nn.Module):
    """A text-like classifier: token ids (B, T) and a padding mask (B, T) -> logits (B, 2)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, ids, mask):
        summed = (self.embed(ids) * mask.unsqueeze(-1)).sum(1)  # (B, 8)
        return self.out(summed / mask.sum(1, keepdim=True))


def test_count_parameters_counts_all_or_only_the_trainable_weights():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))  # (3*2 + 2) + (2*1 + 1) = 11
    assert count_parameters(model) == count_parameters(model, trainable_only=False) == 11
    model[0].requires_grad_(False)  # a frozen layer, as in fine-tuning
    assert count_parameters(model) == 3 and count_parameters(model, trainable_only=False) == 11


def test_training_learns_an_easy_task_and_reports_a_full_history():
    model = tiny_model()
    history = train_classifier(model, bright_or_dark(), bright_or_dark(32, seed=1), epochs=8, lr=0.05,
                               batch_size=16, patience=None, progress=False)
    assert isinstance(history, TrainingHistory)
    assert history.epochs_run == 8 and len(history.val_accuracy) == len(history.train_loss) == 8
    assert history.val_accuracy[-1] == 1.0 and history.train_loss[-1] < history.train_loss[0]
    assert 1 <= history.best_epoch <= 8 and history.seconds > 0 and not history.stopped_early
    record = history.as_dict()
    assert record["epochs_run"] == 8 and record["best_epoch"] == history.best_epoch
    assert not model.training, "the trained model is handed back in eval mode"


def test_the_same_seed_gives_the_same_run():
    runs = [train_classifier(tiny_model(), bright_or_dark(), bright_or_dark(32, 1), epochs=3, progress=False,
                             seed=5).val_loss for _ in range(2)]
    assert runs[0] == runs[1]


def test_early_stopping_stops_and_restores_the_best_epoch():
    X, y = bright_or_dark()
    val = (X, 1 - y)  # validation labels disagree with training: val loss gets worse as training succeeds
    model = tiny_model()
    history = train_classifier(model, (X, y), val, epochs=30, lr=0.05, batch_size=16, patience=2, progress=False)
    assert history.stopped_early and history.epochs_run == history.best_epoch + 2
    restored_loss, _ = evaluate_loss(model, val)
    assert restored_loss == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-5), \
        "the model must hold the weights of its best validation epoch"


def test_the_loop_is_generic_over_tensor_inputs_and_the_step_can_be_swapped():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 10, (40, 6), generator=g)
    y = (ids[:, 0] > 5).long()
    mask = torch.ones(40, 6)
    calls = []

    def counting_step(model, inputs, yb, optimizer, loss_fn):
        calls.append(len(yb))
        return training_step(model, inputs, yb, optimizer, loss_fn)

    data = torch.utils.data.TensorDataset(ids, mask, y)
    history = train_classifier(BagOfTokens(), data, ((ids, mask), y), epochs=2, batch_size=16,
                               step=counting_step, progress=False)
    assert calls == [16, 16, 8] * 2 and history.epochs_run == 2


def test_augmentation_is_applied_to_training_batches_only():
    seen = []

    def spy(x, generator):
        seen.append(x.shape[0])
        return x

    train_classifier(tiny_model(), bright_or_dark(32), bright_or_dark(20, 1), epochs=1, batch_size=16,
                     augment=spy, progress=False)
    assert seen == [16, 16]


def test_progress_bar_runs(capsys):
    train_classifier(tiny_model(), bright_or_dark(16), bright_or_dark(8, 1), epochs=1, progress=True,
                     description="tiny")
    assert "tiny" in capsys.readouterr().err


def test_a_diverged_run_gets_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(16, 2)

        def forward(self, x):
            return self.linear(x.flatten(1)) * float("nan")

    with pytest.raises(RuntimeError, match="diverged"):
        train_classifier(Broken(), bright_or_dark(8), bright_or_dark(8), epochs=1, progress=False)


@pytest.mark.parametrize("train, error, match", [
    ([1, 2, 3], TypeError, "pair"),
    ((torch.rand(0, 1, 4, 4), torch.zeros(0, dtype=torch.long)), ValueError, "empty"),
    ((torch.rand(4, 1, 4, 4), torch.zeros(3, dtype=torch.long)), ValueError, "must match"),
    ((torch.rand(4, 1, 4, 4), torch.zeros(4)), TypeError, "y.long"),
    ((torch.rand(4, 1, 4, 4), torch.zeros(4, 1, dtype=torch.long)), ValueError, "1-D"),
    ((torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 1])), ValueError, r"0\.\.1 \(the model has 2 outputs\)"),
    ((torch.rand(4, 1, 4, 4), torch.tensor([0, -1, 1, 1])), ValueError, r"0\.\.1"),
    ((torch.rand(4, 1, 4, 4).numpy(), torch.tensor([0, 1, 1, 1])), TypeError, "as_tensor"),
])
def test_bad_data_gets_an_actionable_error(train, error, match):
    with pytest.raises(error, match=match):
        train_classifier(tiny_model(), train, bright_or_dark(4), epochs=1, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"patience": 0}, "patience"), ({"lr": 0}, "lr"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_classifier(tiny_model(), bright_or_dark(4), bright_or_dark(4), progress=False, **kwargs)


def test_a_model_that_does_not_return_logits_is_refused():
    with pytest.raises(ValueError, match="logits"):
        train_classifier(nn.Flatten(0), bright_or_dark(4), bright_or_dark(4), progress=False)


# --- experiments -------------------------------------------------------------------------------------------

def test_subsample_is_stratified_and_keeps_every_class():
    X, y = torch.rand(100, 3), torch.tensor([0] * 90 + [1] * 10)
    X_small, y_small = subsample(X, y, 0.1, seed=0)
    assert torch.bincount(y_small).tolist() == [9, 1] and len(X_small) == 10
    assert subsample(X, y, 1.0)[0] is X
    (a, b), y2 = subsample((X, X * 2), y, 0.5)
    assert torch.equal(a * 2, b) and len(y2) == 50
    with pytest.raises(ValueError, match="fraction"):
        subsample(X, y, 0)


def test_flip_labels_changes_exactly_the_share_asked_for():
    y = torch.arange(100) % 4
    noisy = flip_labels(y, 0.3, num_classes=4, seed=0)
    assert int((noisy != y).sum()) == 30, "every chosen label moves to a *different* class"
    assert noisy.min() >= 0 and noisy.max() <= 3 and torch.equal(y, torch.arange(100) % 4), "input untouched"
    assert torch.equal(noisy, flip_labels(y, 0.3, num_classes=4, seed=0))
    assert torch.equal(flip_labels(y, 0.0, 4), y)
    with pytest.raises(ValueError, match="share"):
        flip_labels(y, 1.5, 4)
    with pytest.raises(ValueError, match="two classes"):
        flip_labels(y, 0.1, 1)


def test_experiment_curves_have_one_point_per_setting():
    data, val, test = bright_or_dark(40), bright_or_dark(20, 1), bright_or_dark(20, 2)
    sizes = accuracy_vs_training_size(tiny_model, data, val, test, [0.25, 1.0], epochs=2, lr=0.05, batch_size=8)
    noise = accuracy_vs_label_noise(tiny_model, data, val, test, [0.0, 0.5], num_classes=2, epochs=2, lr=0.05)
    assert len(sizes) == 2 and len(noise) == 2
    assert all(0 <= a <= 1 for a in sizes + noise)
    with pytest.raises(ValueError, match="fractions"):
        accuracy_vs_training_size(tiny_model, data, val, test, [])
    with pytest.raises(ValueError, match="shares"):
        accuracy_vs_label_noise(tiny_model, data, val, test, [], num_classes=2)


def test_a_bar_that_stopped_early_ends_full_and_green():
    """In JupyterLab a tqdm bar closed short of its total turns red, as if the run had failed."""
    from tqdm.notebook import tqdm as notebook_tqdm

    from utils.core.training import end_progress

    bar = notebook_tqdm(total=10, desc="training")
    bar.update(3)
    end_progress(bar)
    widget = bar.container.children[1]
    assert widget.bar_style == "success" and widget.max == widget.value == 3
    end_progress(None)                                    # progress off: nothing to close
