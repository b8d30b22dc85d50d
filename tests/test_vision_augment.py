"""utils.vision.augment: label-preserving transforms on (B, C, H, W) batches, seeded by a torch.Generator."""

import pytest
import torch

from utils.vision.augment import (
    compose,
    digits_augmentation,
    parts_augmentation,
    random_affine,
    random_brightness,
    random_flip,
    random_noise,
    random_rotate90,
    random_shift,
)

ALL = [random_affine(), random_affine(padding="zeros"), random_shift(2), random_rotate90(), random_flip(),
       random_brightness(0.2), random_noise(0.05), digits_augmentation(), parts_augmentation()]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("transform", ALL)
def test_transforms_keep_shape_and_range_and_repeat_with_the_same_seed(transform):
    x = torch.rand(6, 1, 16, 16)
    out = transform(x, gen(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, transform(x, gen(1))), "the same generator seed gives the same batch"


def test_transforms_actually_change_the_images():
    x = torch.rand(16, 1, 16, 16)
    for transform in ALL:
        assert not torch.equal(transform(x, gen(2)), x)


def test_quarter_turns_and_flips_are_exact():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(8, 1, 1, 1) / 16
    variants = [torch.rot90(x[0], k, dims=(1, 2)) for k in range(4)]
    variants += [v.flip(2) for v in variants]
    for image in compose(random_rotate90(), random_flip())(x, gen(3)):
        assert any(torch.equal(image, v) for v in variants), "every output is an exact turn/mirror of the input"


def test_integer_shift_moves_pixels_without_blending():
    x = torch.zeros(4, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    out = random_shift(2, padding="zeros")(x, gen(4))
    for image in out:
        assert image.sum() == 1.0 and set(image.unique().tolist()) == {0.0, 1.0}
        row, col = divmod(int(image.argmax()), 9)
        assert abs(row - 4) <= 2 and abs(col - 4) <= 2


def test_identity_affine_changes_nothing():
    x = torch.rand(3, 1, 8, 8)
    out = random_affine(max_degrees=0, max_shift=0, scale=(1, 1))(x, gen())
    assert torch.allclose(out, x, atol=1e-5)


def test_noise_and_brightness_have_the_requested_size():
    x = torch.full((64, 1, 16, 16), 0.5)
    noise = random_noise(0.05)(x, gen()) - x
    assert 0.04 < noise.std() < 0.06
    gains = random_brightness(0.2)(x, gen()).mean(dim=(1, 2, 3)) / 0.5
    assert 0.8 <= gains.min() and gains.max() <= 1.2 and gains.std() > 0.05


def test_compose_applies_in_order():
    def add(value):
        return lambda x, g: x + value

    def double(x, g):
        return x * 2

    assert compose(add(1), double)(torch.zeros(1, 1, 2, 2), gen()).unique().item() == 2
    with pytest.raises(TypeError, match="transforms"):
        compose(add(1), "not a function")


@pytest.mark.parametrize("factory, kwargs", [
    (random_affine, {"max_degrees": -1}), (random_affine, {"max_shift": 1.5}), (random_affine, {"scale": (2, 1)}),
    (random_affine, {"padding": "reflect"}), (random_shift, {"max_pixels": -1}), (random_shift, {"max_pixels": 1.5}),
    (random_shift, {"padding": "wrap"}), (random_brightness, {"max_change": 1.0}), (random_noise, {"sigma": -0.1}),
])
def test_bad_settings_are_refused(factory, kwargs):
    with pytest.raises(ValueError):
        factory(**kwargs)


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        random_noise()(torch.rand(8, 8), gen())
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        random_flip()(torch.zeros(2, 1, 4, 4, dtype=torch.long), gen())
    with pytest.raises(ValueError, match="square"):
        random_rotate90()(torch.rand(2, 1, 4, 6), gen())
