"""Save and load model weights as safetensors, with the model's config alongside, and prove the round trip.

safetensors stores plain tensors and a small text header — no pickled Python code runs when a
file is loaded, so a checkpoint from someone else cannot execute anything on your machine.

    save_checkpoint(model, "parts_cnn.safetensors", config=model.config)
    state, config = load_checkpoint("parts_cnn.safetensors")
    restored = TinyCNN.from_config(config); restored.load_state_dict(state)
"""

import copy
import json
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

CONFIG_KEY = "config"


def save_checkpoint(model: nn.Module, path, config: dict | None = None) -> Path:
    """Write the model's ``state_dict`` (and ``config`` as JSON in the header) to ``path``; return the path."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"save_checkpoint expects a torch.nn.Module, got {type(model).__name__}.")
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"Use a '.safetensors' file name, got {path.name!r}.")
    # safetensors wants contiguous CPU tensors that do not share memory
    state = {name: t.detach().to("cpu").contiguous().clone() for name, t in model.state_dict().items()}
    metadata = {CONFIG_KEY: json.dumps(config if config is not None else getattr(model, "config", {}))}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)
    return path


def load_checkpoint(path, device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """The ``state_dict`` and the config saved by ``save_checkpoint``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at {path}; save one first with save_checkpoint(model, path).")
    with safe_open(str(path), framework="pt", device=device) as f:
        state = {name: f.get_tensor(name) for name in f.keys()}
        metadata = f.metadata() or {}
    return state, json.loads(metadata.get(CONFIG_KEY, "{}"))


@torch.no_grad()
def round_trip_check(model: nn.Module, path, example: torch.Tensor, build: Callable[[dict], nn.Module] | None = None,
                     device: str | None = None) -> dict:
    """Save ``model``, load it into a fresh model, and require identical outputs on ``example``.

    ``build(config)`` makes the fresh model (e.g. ``TinyCNN.from_config``); without it we copy
    ``model`` and wipe its weights first, so a load that silently did nothing would still be caught.
    Returns the file ``path`` and its size in bytes; raises ``AssertionError`` if anything differs.
    """
    device = device or next(model.parameters()).device.type
    model.eval()
    path = save_checkpoint(model, path)
    state, config = load_checkpoint(path)
    if build is not None:
        fresh = build(config)
    else:
        fresh = copy.deepcopy(model)
        for t in fresh.state_dict().values():
            t.zero_()
    fresh.load_state_dict(state)  # strict: a missing or unexpected weight is an error
    fresh.to(device).eval()
    before, after = model(example.to(device)), fresh(example.to(device))
    if not torch.equal(before, after):
        raise AssertionError(f"Outputs differ after the round trip (max difference "
                             f"{(before - after).abs().max().item():.3g}); the checkpoint at {path} is not faithful.")
    return {"path": str(path), "bytes": path.stat().st_size}
