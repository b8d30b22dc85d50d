"""Augmentation: new training images made from the ones you have, by changes that must not change the label.

Every transform is a function ``(x, generator) -> x`` on a batch ``x`` of shape ``(B, C, H, W)``
with values in [0, 1]. The random numbers come from ``generator`` (a CPU ``torch.Generator``),
so a seeded training run is repeatable on CPU, CUDA or MPS alike; only the maths runs on
``x.device``. ``compose`` chains transforms, and ``train_classifier(..., augment=...)`` applies
one to every training batch (never to validation or test data).

Pick transforms that copy the nuisance of the real data: a part can lie anywhere and at any
angle, and the light changes, so shifting, turning and relighting a training image gives a new,
equally valid image of the same class. Flipping a digit "2" does not give a "2" — choose with care.
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(generator: torch.Generator, n: int, low: float, high: float, device) -> torch.Tensor:
    return (low + (high - low) * torch.rand(n, generator=generator)).to(device)  # drawn on CPU, used on device


def _check_batch(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise ValueError("Augmentations expect a float batch of shape (B, C, H, W), got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}.")


def random_affine(max_degrees: float = 15.0, max_shift: float = 0.1, scale: tuple[float, float] = (1.0, 1.0),
                  padding: str = "border") -> Transform:
    """Turn by up to ±``max_degrees``, shift by up to ``max_shift`` of the image size, zoom within ``scale``.

    ``padding="border"`` repeats the edge pixels into the uncovered corners (right for a part on its
    background); ``"zeros"`` fills them black (right for digits, whose background is 0).
    """
    if max_degrees < 0 or not 0 <= max_shift < 1 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"Need max_degrees >= 0, 0 <= max_shift < 1 and 0 < scale[0] <= scale[1]; "
                         f"got {max_degrees}, {max_shift}, {scale}.")
    if padding not in ("border", "zeros"):
        raise ValueError(f"padding must be 'border' or 'zeros', got {padding!r}.")

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch(x)
        b = len(x)
        angle = _uniform(generator, b, -max_degrees, max_degrees, x.device) * math.pi / 180
        zoom = _uniform(generator, b, scale[0], scale[1], x.device)
        # affine_grid works in coordinates from -1 to 1, so a shift of 0.1 image widths is 0.2 there
        shift = _uniform(generator, 2 * b, -2 * max_shift, 2 * max_shift, x.device).view(b, 2)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                             torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (B, 2, 3)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)  # (B, H, W, 2)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)

    return transform


def random_shift(max_pixels: int = 2, padding: str = "border") -> Transform:
    """Move each image by a whole number of pixels, up to ``max_pixels`` each way; no blurring, unlike a turn."""
    if not isinstance(max_pixels, int) or max_pixels < 0:
        raise ValueError(f"max_pixels must be a non-negative integer, got {max_pixels!r}.")
    if padding not in ("border", "zeros"):
        raise ValueError(f"padding must be 'border' or 'zeros', got {padding!r}.")

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch(x)
        b, _, h, w = x.shape
        pixels = torch.randint(-max_pixels, max_pixels + 1, (b, 2), generator=generator).to(x.device, x.dtype)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)  # (B, 2, 3): identity plus a translation
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, 0, 2], theta[:, 1, 2] = 2 * pixels[:, 0] / w, 2 * pixels[:, 1] / h  # grid units: 2 per image
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
        return F.grid_sample(x, grid, mode="nearest", padding_mode=padding, align_corners=False)

    return transform


def random_rotate90() -> Transform:
    """Turn each image by 0, 90, 180 or 270 degrees: exact, no interpolation (right for a round part seen from above)."""

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch(x)
        if x.shape[2] != x.shape[3]:
            raise ValueError(f"Quarter turns need square images, got {x.shape[2]}x{x.shape[3]}; use random_affine.")
        turns = torch.randint(0, 4, (len(x),), generator=generator)
        out = x.clone()
        for k in range(1, 4):
            chosen = (turns == k).nonzero().flatten().to(x.device)
            if len(chosen):
                out[chosen] = torch.rot90(x[chosen], k, dims=(2, 3))
        return out

    return transform


def random_brightness(max_change: float = 0.2) -> Transform:
    """Multiply each image by a gain in 1 ± ``max_change``: a brighter or darker lamp."""
    if not 0 <= max_change < 1:
        raise ValueError(f"max_change must be in [0, 1), got {max_change}.")

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch(x)
        gain = _uniform(generator, len(x), 1 - max_change, 1 + max_change, x.device).view(-1, 1, 1, 1)
        return (x * gain).clamp(0, 1)

    return transform


def random_noise(sigma: float = 0.03) -> Transform:
    """Add Gaussian sensor noise with standard deviation ``sigma``."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}.")

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch(x)
        noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
        return (x + sigma * noise).clamp(0, 1)

    return transform


def random_flip(horizontal: bool = True, vertical: bool = True) -> Transform:
    """Mirror each image left–right and/or top–bottom with probability 1/2 (fine for a round part, not for digits)."""

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch(x)
        for axis, wanted in ((3, horizontal), (2, vertical)):
            if wanted:
                flip = (torch.rand(len(x), generator=generator) < 0.5).to(x.device).view(-1, 1, 1, 1)
                x = torch.where(flip, x.flip(axis), x)
        return x

    return transform


def compose(*transforms: Transform) -> Transform:
    """Apply ``transforms`` one after another."""
    if not all(callable(t) for t in transforms):
        raise TypeError("compose takes transforms: functions (x, generator) -> x.")

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for t in transforms:
            x = t(x, generator)
        return x

    return transform


def digits_augmentation() -> Transform:
    """Small turns and one-pixel shifts: a digit written slightly askew is still the same digit."""
    return random_affine(max_degrees=10, max_shift=0.1, scale=(0.9, 1.1), padding="zeros")


def parts_augmentation() -> Transform:
    """Quarter turns, mirror images, a few pixels of shift and a different lamp: the line's real nuisance.

    All exact (no interpolation): a free-angle turn would blur a one-pixel scratch into the metal.
    """
    return compose(random_rotate90(), random_flip(), random_shift(2), random_brightness(0.15))
