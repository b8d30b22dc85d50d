"""utils.vision.cnn (the tiny CNN) and utils.core.checkpoint (safetensors save/load with a round-trip check)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.core.checkpoint import load_checkpoint, round_trip_check, save_checkpoint
from utils.core.training import count_parameters
from utils.vision.cnn import TinyCNN, conv_block, describe_layers

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_conv_block_halves_the_image_and_matches_plain_torch_ops():
    torch.manual_seed(0)
    block = conv_block(1, 4).eval()
    x = torch.rand(2, 1, 8, 8)
    out = block(x)
    assert out.shape == (2, 4, 4, 4)
    conv, bn = block[0], block[1]
    expected = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(x, conv.weight, padding=1), bn.running_mean,
                                                 bn.running_var, bn.weight, bn.bias, eps=bn.eps)), 2)
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("size, channels", [(8, (4, 8, 16)), (32, (4, 8)), (7, (2,))])
def test_tiny_cnn_gives_one_score_per_class_for_any_image_size(size, channels):
    model = TinyCNN(num_classes=3, channels=channels)
    assert model(torch.rand(5, 1, size, size)).shape == (5, 3)


def test_parameter_count_follows_the_architecture():
    model = TinyCNN(num_classes=4, channels=(16, 32, 64))
    per_block = [9 * a * b + 2 * b for a, b in [(1, 16), (16, 32), (32, 64)]]  # conv (no bias) + batch norm
    assert count_parameters(model) == sum(per_block) + 64 * 4 + 4 == 23_668
    frozen = TinyCNN(num_classes=4, channels=(4,))
    frozen.classifier.weight.requires_grad_(False)
    assert count_parameters(frozen) == count_parameters(frozen, trainable_only=False) - 16


def test_channels_last_layout_does_not_change_the_numbers():
    torch.manual_seed(0)
    model = TinyCNN(num_classes=4, channels=(4, 8)).eval()
    x = torch.rand(3, 1, 16, 16)
    plain = TinyCNN(num_classes=4, channels=(4, 8)).to(memory_format=torch.contiguous_format).eval()
    plain.load_state_dict(model.state_dict())
    assert torch.allclose(model(x), plain(x), atol=1e-5)


def test_config_rebuilds_the_same_architecture():
    model = TinyCNN(num_classes=5, in_channels=3, channels=(4, 8), pool="avg", dropout=0.2)
    again = TinyCNN.from_config(model.config)
    assert again.config == model.config and count_parameters(again) == count_parameters(model)
    assert again(torch.rand(1, 3, 8, 8)).shape == (1, 5)


def test_describe_layers_traces_shapes():
    rows = describe_layers(TinyCNN(num_classes=4, channels=(16, 32, 64)), (1, 32, 32))
    assert [shape for _, shape, _ in rows] == [(16, 16, 16), (32, 8, 8), (64, 4, 4), (64,), (4,)]
    assert sum(n for *_, n in rows) == 23_668
    with pytest.raises(TypeError, match="TinyCNN"):
        describe_layers(nn.Linear(2, 2), (2,))


@pytest.mark.parametrize("kwargs, match", [
    ({"num_classes": 1}, "num_classes"),
    ({"num_classes": 3, "channels": ()}, "channels"),
    ({"num_classes": 3, "channels": (4, 0)}, "channels"),
    ({"num_classes": 3, "pool": "median"}, "pool"),
])
def test_bad_architecture_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TinyCNN(**kwargs)


def test_bad_input_gets_an_actionable_error():
    model = TinyCNN(num_classes=3, channels=(4,))
    with pytest.raises(ValueError, match=r"reshape\(1, 1, H, W\)"):
        model(torch.rand(8, 8))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="float"):
        model(torch.randint(0, 255, (2, 1, 8, 8)))


# --- checkpoints -----------------------------------------------------------------------------------------

def test_save_and_load_give_back_every_tensor_and_the_config(tmp_path):
    torch.manual_seed(0)
    model = TinyCNN(num_classes=3, channels=(4, 8))
    path = save_checkpoint(model, tmp_path / "sub" / "m.safetensors")
    state, config = load_checkpoint(path)
    assert config == model.config
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_round_trip_check_with_a_builder_and_without(tmp_path):
    torch.manual_seed(0)
    model = TinyCNN(num_classes=3, channels=(4, 8))
    x = torch.rand(4, 1, 8, 8)
    result = round_trip_check(model, tmp_path / "a.safetensors", x, build=TinyCNN.from_config)
    assert result["bytes"] > 4 * count_parameters(model)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    assert round_trip_check(plain, tmp_path / "b.safetensors", x)["bytes"] > 0
    assert load_checkpoint(tmp_path / "b.safetensors")[1] == {}


def test_round_trip_check_catches_a_model_that_does_not_match(tmp_path):
    model = TinyCNN(num_classes=3, channels=(4, 8))
    with pytest.raises(RuntimeError, match="size mismatch|Missing|Unexpected"):
        round_trip_check(model, tmp_path / "c.safetensors", torch.rand(1, 1, 8, 8),
                         build=lambda config: TinyCNN(num_classes=3, channels=(4, 16)))


def test_checkpoint_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match=".safetensors"):
        save_checkpoint(TinyCNN(num_classes=2, channels=(2,)), tmp_path / "m.pt")
    with pytest.raises(TypeError, match="nn.Module"):
        save_checkpoint({"w": torch.zeros(1)}, tmp_path / "m.safetensors")
    with pytest.raises(FileNotFoundError, match="save_checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")
