"""Image data for the custom-CNN lesson: scikit-learn's 8×8 digits and Northwind's part-inspection images.

Two datasets, both returned as ``ImageSplits`` of float tensors ``(N, 1, H, W)`` in [0, 1] and
int64 labels ``(N,)``:

- ``load_digits_splits`` — the real, public 8×8 digits bundled with scikit-learn (1,797 images),
  split train/val/test with a fixed seed and stratified, so every split has every digit in the
  same proportion.
- ``load_parts_splits`` — Northwind's own 32×32 grayscale photos of a machined flange, made by a
  seeded generator (``make_parts``). Four classes: good, scratch, dent, crack. The nuisance is
  what makes it a real vision task: the part moves, turns and changes size; the lighting changes
  level and direction; there is sensor noise, dust and machining marks. A defect covers only a
  few pixels somewhere on the part, so no single pixel statistic separates the classes.

The same seed gives the same bytes; the first call caches the arrays in ``cache_dir()/parts``.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from utils.core.paths import cache_dir

PART_CLASSES = ("good", "scratch", "dent", "crack")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
PART_SIZE = 32
GENERATOR_VERSION = 1  # bump when the drawing changes, so old caches are not reused


@dataclass
class ImageSplits:
    """Train/validation/test tensors plus the class names; ``X`` is ``(N, 1, H, W)`` float32, ``y`` is ``(N,)`` int64."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X_train, self.y_train

    @property
    def val(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X_val, self.y_val

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X_test, self.y_test

    def describe(self) -> str:
        sizes = ", ".join(f"{name} {len(y)}" for name, y in
                          (("train", self.y_train), ("val", self.y_val), ("test", self.y_test)))
        return f"{len(self.class_names)} classes, images {tuple(self.X_train.shape[1:])}; {sizes}"


# --- validation -------------------------------------------------------------------------------

def validate_image_dataset(X, y, num_classes: int, name: str = "dataset") -> None:
    """Raise a clear error unless ``X`` is float ``(N, C, H, W)`` in a sane range and ``y`` holds N labels in range."""
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{name}: X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}; "
                        "convert with torch.as_tensor(...).")
    if X.dim() != 4:
        raise ValueError(f"{name}: images must have shape (N, C, H, W), got {tuple(X.shape)}; "
                         "add the channel axis with X.unsqueeze(1).")
    if len(X) == 0:
        raise ValueError(f"{name} is empty: it needs at least one image.")
    if not X.is_floating_point():
        raise TypeError(f"{name}: images must be floating point in [0, 1], got {X.dtype}; use X.float() / 255.")
    if not torch.isfinite(X).all():
        raise ValueError(f"{name}: images contain NaN or infinity.")
    if X.min() < -1e-6 or X.max() > 1 + 1e-6:
        raise ValueError(f"{name}: pixel values must be in [0, 1], got [{X.min():.3g}, {X.max():.3g}].")
    validate_labels(y, len(X), num_classes, name)


def validate_labels(y, n: int, num_classes: int, name: str = "dataset") -> None:
    if y.dim() != 1 or len(y) != n:
        raise ValueError(f"{name}: expected {n} labels of shape ({n},), got shape {tuple(y.shape)}.")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"{name}: labels must be integer class ids, got {y.dtype}; use y.long().")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name}: labels must be in 0..{num_classes - 1}, found {int(y.min())}..{int(y.max())}.")


# --- splitting ---------------------------------------------------------------------------------

def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted index arrays (train, val, test) with each class in the same proportion in every split.

    Two seeded, stratified ``sklearn.model_selection.train_test_split`` calls: the test set first,
    then the validation set from what is left. The fractions are shares of *all* examples.
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction and test_fraction must be in (0, 1) with a sum below 1, "
                         f"got {val_fraction} and {test_fraction}.")
    classes, counts = np.unique(labels, return_counts=True)
    n_test, n_val = round(len(labels) * test_fraction), round(len(labels) * val_fraction)
    if counts.min() < 3:
        raise ValueError(f"Class {classes[counts.argmin()]} has only {counts.min()} examples: "
                         "too few to split three ways.")
    if min(n_test, n_val, len(labels) - n_test - n_val) < len(classes):
        raise ValueError(f"{len(labels)} examples are too few to split three ways at these fractions: every split "
                         f"needs at least one example of each of the {len(classes)} classes.")
    everything = np.arange(len(labels))
    rest, test = train_test_split(everything, test_size=n_test, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def _to_splits(images: np.ndarray, labels: np.ndarray, class_names, val_fraction, test_fraction, seed):
    X = torch.from_numpy(images).unsqueeze(1)  # (N, 1, H, W)
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    validate_image_dataset(X, y, len(class_names), "the loaded images")
    train, val, test = stratified_split(labels, val_fraction, test_fraction, seed)
    return ImageSplits(X[train], y[train], X[val], y[val], X[test], y[test], tuple(class_names))


# --- digits ----------------------------------------------------------------------------------------

def load_digits_splits(val_fraction: float = 0.15, test_fraction: float = 0.2, seed: int = 0) -> ImageSplits:
    """scikit-learn's bundled 8×8 digits (no download), scaled to [0, 1] and split with a fixed seed."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8), originally 0..16
    return _to_splits(images, digits.target, DIGIT_CLASSES, val_fraction, test_fraction, seed)


# --- Northwind parts ----------------------------------------------------------------------------

def _segment_distance(xx, yy, x0, y0, x1, y1):
    """Distance of every pixel centre to the segment (x0, y0)–(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
    return np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))


def _draw_part(label: int, rng: np.random.Generator, size: int = PART_SIZE) -> np.ndarray:
    """One photo of a flange (a disc with a bore and four bolt holes), with the defect of class ``label``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    half = size / 2
    cx, cy = half + rng.uniform(-3, 3, size=2)  # the part is never exactly centred
    radius = rng.uniform(0.31, 0.41) * size  # nor always the same distance from the camera
    bore = radius * rng.uniform(0.3, 0.42)
    turn = rng.uniform(0, 2 * np.pi)  # and it can lie at any angle
    r = np.hypot(xx - cx, yy - cy)

    def soft(edge):  # anti-aliased inside-mask: 1 inside, 0 outside, a one-pixel ramp
        return np.clip(0.5 - edge, 0, 1)

    hole = radius * 0.09 + 0.6
    holes = [(cx + np.cos(turn + k * np.pi / 2) * (radius + bore) / 2,
              cy + np.sin(turn + k * np.pi / 2) * (radius + bore) / 2) for k in range(4)]
    body = soft(r - radius) * (1 - soft(r - bore))
    for hx, hy in holes:
        body *= 1 - soft(np.hypot(xx - hx, yy - hy) - hole)

    background = rng.uniform(0.1, 0.3)
    metal = rng.uniform(0.5, 0.7)
    marks = 0.03 * np.sin(r * rng.uniform(2.0, 3.0) + rng.uniform(0, 2 * np.pi))  # lathe rings on every part
    surface = np.full((size, size), metal, np.float32) + marks

    # where a defect may sit: on the metal ring, away from the edges and not inside a bolt hole
    # (a defect nobody could see would be a label no model can learn)
    def spot_on_ring():
        while True:
            rr, aa = rng.uniform(bore + 2.0, radius - 2.0), rng.uniform(0, 2 * np.pi)
            x, y = cx + rr * np.cos(aa), cy + rr * np.sin(aa)
            if min(np.hypot(x - hx, y - hy) for hx, hy in holes) > hole + 2.0:
                return x, y

    name = PART_CLASSES[label]
    if name == "scratch":  # a straight, thin, shiny line
        x0, y0 = spot_on_ring()
        a, length = rng.uniform(0, np.pi), rng.uniform(7, 11)
        d = _segment_distance(xx, yy, x0 - length / 2 * np.cos(a), y0 - length / 2 * np.sin(a),
                              x0 + length / 2 * np.cos(a), y0 + length / 2 * np.sin(a))
        surface += rng.uniform(0.3, 0.4) * np.clip(1.2 - d, 0, 1)
    elif name == "dent":  # a round dip: shadow on one side, highlight on the other
        x0, y0 = spot_on_ring()
        rad = rng.uniform(2.2, 3.0)
        a = rng.uniform(0, 2 * np.pi)
        ox, oy = np.cos(a) * rad * 0.5, np.sin(a) * rad * 0.5
        surface -= 0.45 * np.exp(-((xx - x0 - ox) ** 2 + (yy - y0 - oy) ** 2) / (2 * (rad * 0.5) ** 2))
        surface += 0.35 * np.exp(-((xx - x0 + ox) ** 2 + (yy - y0 + oy) ** 2) / (2 * (rad * 0.4) ** 2))
    elif name == "crack":  # a dark, jagged line that starts at the rim and runs inward
        a = rng.uniform(0, 2 * np.pi)
        x0, y0 = cx + (radius - 0.5) * np.cos(a), cy + (radius - 0.5) * np.sin(a)
        heading = a + np.pi + rng.uniform(-0.4, 0.4)
        d = np.full((size, size), np.inf, np.float32)
        for _ in range(rng.integers(4, 6)):
            step = rng.uniform(1.8, 2.6)
            heading += rng.uniform(-0.9, 0.9)
            x1, y1 = x0 + step * np.cos(heading), y0 + step * np.sin(heading)
            d = np.minimum(d, _segment_distance(xx, yy, x0, y0, x1, y1))
            x0, y0 = x1, y1
        surface -= rng.uniform(0.4, 0.5) * np.clip(1.1 - d, 0, 1)

    image = background + body * (surface - background)

    # dust specks land on any part, defective or not: one dark or bright pixel is not a defect
    for _ in range(rng.poisson(1.0)):
        px, py = rng.integers(0, size, size=2)
        image[py, px] += rng.choice([-1, 1]) * rng.uniform(0.15, 0.3)

    # lighting: overall gain and a gradient from a random direction, then sensor noise
    light = rng.uniform(0, 2 * np.pi)
    gradient = ((xx - half) * np.cos(light) + (yy - half) * np.sin(light)) / size
    image = image * rng.uniform(0.7, 1.3) * (1 + rng.uniform(0, 0.5) * gradient)
    image += rng.normal(0, rng.uniform(0.02, 0.04), size=(size, size))
    return np.clip(image, 0, 1)


def make_parts(n_per_class: int, seed: int = 0, size: int = PART_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n_per_class`` images of each class: uint8 images ``(N, size, size)`` and uint8 labels ``(N,)``.

    Classes are interleaved (0, 1, 2, 3, 0, 1, …) so any prefix is balanced. Every image gets its
    own child random stream, so the same seed gives the same bytes on every machine.
    """
    if not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}.")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels to draw a part, got {size}.")
    k = len(PART_CLASSES)
    labels = np.tile(np.arange(k, dtype=np.uint8), n_per_class)  # (N,)
    streams = np.random.SeedSequence([seed, GENERATOR_VERSION]).spawn(len(labels))
    images = np.empty((len(labels), size, size), np.uint8)  # uint8: 1 KB per image, like a camera would store it
    for i, (label, stream) in enumerate(zip(labels, streams)):
        images[i] = np.round(_draw_part(int(label), np.random.default_rng(stream), size) * 255)
    return images, labels


def parts_cache_path(n_per_class: int, seed: int, size: int = PART_SIZE) -> Path:
    return cache_dir() / "parts" / f"parts_v{GENERATOR_VERSION}_n{n_per_class}_s{seed}_{size}px"


def load_parts(n_per_class: int = 800, seed: int = 0, size: int = PART_SIZE,
               cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``make_parts``, cached as two ``.npy`` files (byte-identical for the same arguments)."""
    folder = parts_cache_path(n_per_class, seed, size)
    images_path, labels_path = folder / "images.npy", folder / "labels.npy"
    if cache and images_path.exists() and labels_path.exists():
        images, labels = np.load(images_path), np.load(labels_path)
        if images.shape == (n_per_class * len(PART_CLASSES), size, size) and labels.shape == (len(images),):
            return images, labels
    images, labels = make_parts(n_per_class, seed, size)
    if cache:
        folder.mkdir(parents=True, exist_ok=True)
        # write to a temporary name first, so an interrupted run never leaves half a file behind
        for path, array in ((images_path, images), (labels_path, labels)):
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, array)
            tmp.replace(path)
    return images, labels


def load_parts_splits(n_per_class: int = 800, val_fraction: float = 0.15, test_fraction: float = 0.25,
                      seed: int = 0, cache: bool = True) -> ImageSplits:
    """Northwind part images as float tensors in [0, 1], split stratified with a fixed seed."""
    images, labels = load_parts(n_per_class, seed, cache=cache)
    return _to_splits(images.astype(np.float32) / 255.0, labels, PART_CLASSES, val_fraction, test_fraction, seed)


def fingerprint(*arrays: np.ndarray) -> str:
    """A short SHA-256 of the arrays' bytes: equal fingerprints mean byte-identical data."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


# --- looking at the data ----------------------------------------------------------------------------

PIXEL_STATISTICS = ("mean", "std", "min", "max")


def pixel_statistics(X: torch.Tensor) -> np.ndarray:
    """Per-image brightness mean, spread, darkest and brightest pixel: ``(N, C, H, W) -> (N, 4)``.

    If one of these separated the classes, a threshold would do and no CNN would be needed.
    """
    flat = X.flatten(1)  # (N, C*H*W)
    return torch.stack([flat.mean(1), flat.std(1), flat.min(1).values, flat.max(1).values], 1).cpu().numpy()


def plot_images(X: torch.Tensor, titles=None, ncols: int = 8, title: str = "", colors=None):
    """Images ``(N, 1, H, W)`` in a grid, each with an optional title (and title colour)."""
    import matplotlib.pyplot as plt

    n = len(X)
    if n == 0:
        raise ValueError("Nothing to plot: X is empty.")
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.2, nrows * 1.35), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(X[i, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[i], fontsize=7, color=colors[i] if colors is not None else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_grid(X: torch.Tensor, y: torch.Tensor, class_names, per_class: int = 8, title: str = ""):
    """The first ``per_class`` images of every class, one class per row (row-major, labelled by class)."""
    chosen = [i for label in range(len(class_names)) for i in torch.nonzero(y == label).flatten()[:per_class].tolist()]
    labels = [class_names[int(y[i])] for i in chosen]
    return plot_images(X[chosen], labels, ncols=per_class, title=title)
