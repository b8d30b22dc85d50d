"""utils.vision.data: digits splits, the seeded Northwind parts generator and its cache, dataset validation."""

import numpy as np
import pytest
import torch
from sklearn.tree import DecisionTreeClassifier

from utils.vision.data import (
    PART_CLASSES,
    PIXEL_STATISTICS,
    fingerprint,
    load_digits_splits,
    load_parts,
    load_parts_splits,
    make_parts,
    parts_cache_path,
    pixel_statistics,
    plot_image_grid,
    plot_images,
    stratified_split,
    validate_image_dataset,
    validate_labels,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSROADS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- the parts generator ---------------------------------------------------------------------------

def test_make_parts_shapes_types_and_balance():
    images, labels = make_parts(5, seed=0)
    assert images.shape == (20, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.uint8 and np.bincount(labels).tolist() == [5, 5, 5, 5]
    assert labels[:4].tolist() == [0, 1, 2, 3], "classes are interleaved so any prefix is balanced"
    assert 20 < images.mean() < 200, "a part on a background, neither black nor white"


def test_same_seed_same_bytes_and_other_seed_other_bytes():
    a, b, c = make_parts(3, seed=7), make_parts(3, seed=7), make_parts(3, seed=8)
    assert fingerprint(*a) == fingerprint(*b)
    assert fingerprint(*a) != fingerprint(*c)


def test_a_prefix_of_a_bigger_set_is_the_smaller_set():
    # every image has its own random stream, so asking for more images does not change the first ones
    small, big = make_parts(2, seed=1), make_parts(4, seed=1)
    assert np.array_equal(small[0], big[0][:8])


def test_defects_change_the_picture_but_no_single_statistic_finds_them():
    images, labels = make_parts(60, seed=3)
    X = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
    stats = pixel_statistics(X)
    assert stats.shape == (240, len(PIXEL_STATISTICS))
    train, test = slice(0, 160), slice(160, 240)
    for i, name in enumerate(PIXEL_STATISTICS):
        tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(stats[train, [i]], labels[train])
        accuracy = (tree.predict(stats[test, [i]]) == labels[test]).mean()
        assert accuracy < 0.55, f"the {name} brightness alone should not separate the classes, got {accuracy:.2f}"


def test_make_parts_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_per_class"):
        make_parts(0)
    with pytest.raises(ValueError, match="n_per_class"):
        make_parts(2.5)
    with pytest.raises(ValueError, match="size"):
        make_parts(1, size=8)


def test_load_parts_writes_a_byte_identical_cache(cache):
    images, labels = load_parts(3, seed=2)
    folder = parts_cache_path(3, 2)
    assert folder.is_relative_to(cache)
    first = (folder / "images.npy").read_bytes()
    again_images, again_labels = load_parts(3, seed=2)  # from the cache this time
    assert np.array_equal(images, again_images) and np.array_equal(labels, again_labels)
    (folder / "images.npy").unlink()
    load_parts(3, seed=2)  # regenerated
    assert (folder / "images.npy").read_bytes() == first, "the same seed must give the same bytes on disk"


def test_load_parts_without_cache_writes_nothing(cache):
    load_parts(1, seed=0, cache=False)
    assert not cache.exists()


def test_load_parts_splits_are_float_stratified_and_disjoint(cache):
    parts = load_parts_splits(20, seed=0)
    assert parts.class_names == PART_CLASSES
    assert parts.X_train.dtype == torch.float32 and parts.X_train.shape[1:] == (1, 32, 32)
    assert 0 <= parts.X_train.min() and parts.X_train.max() <= 1
    assert len(parts.y_train) + len(parts.y_val) + len(parts.y_test) == 80
    assert torch.bincount(parts.y_test).tolist() == [5, 5, 5, 5]
    assert "4 classes" in parts.describe()
    train_rows = {tuple(x.flatten().tolist()) for x in parts.X_train}
    assert not any(tuple(x.flatten().tolist()) in train_rows for x in parts.X_test), "no test image in training"


def test_load_parts_splits_split_afresh_so_the_cache_holds_only_the_unsplit_images(cache):
    first = load_parts_splits(20, seed=0)  # generates and caches the images
    cached = load_parts_splits(20, seed=0)  # reads them back, then splits them again
    fresh = load_parts_splits(20, seed=0, cache=False)
    for split in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert torch.equal(getattr(first, split), getattr(cached, split))
        assert torch.equal(getattr(first, split), getattr(fresh, split))
    assert sorted(p.name for p in parts_cache_path(20, 0).iterdir()) == ["images.npy", "labels.npy"]


# --- digits and splitting -------------------------------------------------------------------------------

def test_digits_splits_cover_every_image_once_and_are_stratified():
    digits = load_digits_splits(seed=0)
    assert digits.X_train.shape[1:] == (1, 8, 8) and digits.X_train.max() <= 1
    assert len(digits.y_train) + len(digits.y_val) + len(digits.y_test) == 1797
    counts = torch.bincount(digits.y_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38
    again = load_digits_splits(seed=0)
    assert torch.equal(digits.X_test, again.X_test), "the same seed gives the same split"
    assert digits.train[0] is digits.X_train and digits.test[1] is digits.y_test


def test_stratified_split_keeps_proportions_and_rejects_bad_fractions():
    labels = np.repeat([0, 1], [80, 20])
    train, val, test = stratified_split(labels, 0.25, 0.25, seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    assert [np.bincount(labels[s]).tolist() for s in (train, val, test)] == [[40, 10], [20, 5], [20, 5]]
    assert all(np.array_equal(s, np.sort(s)) for s in (train, val, test)), "indices come back sorted"
    again, other = stratified_split(labels, 0.25, 0.25, seed=0), stratified_split(labels, 0.25, 0.25, seed=1)
    assert np.array_equal(again[2], test) and not np.array_equal(other[2], test), "seeded"
    with pytest.raises(ValueError, match="sum below 1"):
        stratified_split(labels, 0.5, 0.5)
    with pytest.raises(ValueError, match="too few"):
        stratified_split(np.array([0, 0, 1, 1, 1, 1]), 0.2, 0.2)


# --- validation ----------------------------------------------------------------------------------------

def test_validate_image_dataset_accepts_good_data():
    validate_image_dataset(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 1]), num_classes=3)


@pytest.mark.parametrize("X, y, error, match", [
    (np.zeros((2, 1, 8, 8)), torch.tensor([0, 1]), TypeError, "torch tensors"),
    (torch.rand(2, 8, 8), torch.tensor([0, 1]), ValueError, "unsqueeze"),
    (torch.rand(0, 1, 8, 8), torch.tensor([], dtype=torch.long), ValueError, "empty"),
    (torch.randint(0, 255, (2, 1, 8, 8)), torch.tensor([0, 1]), TypeError, "floating point"),
    (torch.full((2, 1, 8, 8), float("nan")), torch.tensor([0, 1]), ValueError, "NaN"),
    (torch.rand(2, 1, 8, 8) * 255, torch.tensor([0, 1]), ValueError, r"\[0, 1\]"),
    (torch.rand(2, 1, 8, 8), torch.tensor([0, 1, 1]), ValueError, "2 labels"),
    (torch.rand(2, 1, 8, 8), torch.tensor([0.0, 1.0]), TypeError, "integer"),
    (torch.rand(2, 1, 8, 8), torch.tensor([0, 3]), ValueError, r"0\.\.2"),
    (torch.rand(2, 1, 8, 8), torch.tensor([-1, 0]), ValueError, r"0\.\.2"),
])
def test_validate_image_dataset_explains_bad_input(X, y, error, match):
    with pytest.raises(error, match=match):
        validate_image_dataset(X, y, num_classes=3)


def test_validate_labels_allows_empty_when_n_is_zero():
    validate_labels(torch.tensor([], dtype=torch.long), 0, 3)


# --- plots -----------------------------------------------------------------------------------------------

def test_plots_return_figures_and_refuse_empty_input():
    import matplotlib.pyplot as plt

    X, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 0, 1, 0, 1])
    fig = plot_image_grid(X, y, ("a", "b"), per_class=3, title="t")
    assert len(fig.axes) == 6
    fig2 = plot_images(X[:3], ["x", "y", "z"], ncols=2, colors=["red", "black", "black"])
    assert len(fig2.axes) == 4
    plt.close("all")
    with pytest.raises(ValueError, match="empty"):
        plot_images(X[:0])
