"""Notebook 03's LoRA fine-tuning, data-parallel over several processes or GPUs, from one command.

    python -m utils.finetune.distributed                                    # one process: notebook 03's run
    torchrun --standalone --nproc-per-node 2 -m utils.finetune.distributed --batch-size 2
    accelerate launch --num_processes 2 -m utils.finetune.distributed --batch-size 2   # add --cpu without GPUs

Accelerate's ``Accelerator`` reads what torchrun and ``accelerate launch`` put in the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and starts ``torch.distributed``: NCCL between
GPUs, gloo between CPU processes. Without ``WORLD_SIZE`` it is one ordinary process, and then the run is
``lora.train_lora``'s, step for step. ``--batch-size`` is per process: the global batch is N x that.

Why N processes with batch b train the same adapter as one process with batch N·b:

- **Same samples, same order.** Every process draws the same sequence of *global* batches of N·b examples
  (``lora._batches``, seeded by ``--seed``) and trains on its own contiguous slice of b of each.
- **Token-weighted loss.** The loss is a mean over answer tokens, and the shards hold different numbers of
  tokens: the mean of the N per-process means would weigh a token of a short shard more than one of a long
  shard, and would not be the global batch's mean. So each process all-reduces its token count first and
  back-propagates ``(sum of its token losses / global token count) x N``; DDP then *averages* the N
  gradients, which gives exactly the gradient of ``sum of all token losses / global token count``, as in one
  process. The logged loss is the all-reduced sum over the all-reduced count (in float64).
- **Identical updates.** After the all-reduce every process holds the same gradient, so clipping, AdamW and
  the warm-up/cosine schedule (``lora.warmup_cosine_schedule``, stepped once per optimizer step) keep the
  parameters identical everywhere. What differs from one process is floating-point summation order only
  (each shard is padded to its own width, the all-reduce adds in its own order).
- **Dropout.** LoRA dropout draws random masks; process r seeds them with ``seed + r``, so the masks are
  independent across processes but are not the ones a single process would draw: with dropout the runs agree
  in distribution, not number for number. The equivalence test trains with ``--dropout 0``.
- **Validation** is sharded over the processes and reduced the same token-weighted way; process 0's value is
  broadcast so every process takes the same early-stopping decision and restores the same best adapter.

Process 0 then saves the adapter into ``--out`` (``lora.save_adapter``: PEFT's ``save_pretrained``,
safetensors), reloads it onto a fresh base model with ``lora.load_adapter`` and checks it reproduces the
trained model's logits, and writes ``training.json`` beside it: the settings and the loss trajectories.
Load it in notebook 03 with ``lora.load_adapter(load_llm(LLM_ID, DEVICE)[0], <out>)``.
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import torch

from utils.core.training import progress_bar
from utils.finetune import lora

HISTORY_FILE = "training.json"
# Notebook 03's parameters cell (plain values there, as every notebook's parameters cell must be, so they cannot
# be imported from here): tests/test_finetune_distributed.py checks that these stay equal to it.
NOTEBOOK_DEFAULTS = {"SEED": 0, "LORA_RANK": 8, "LORA_ALPHA": 16, "LEARNING_RATE": 3e-3, "BATCH_SIZE": 4,
                     "TRAIN_STEPS": 100, "EVAL_EVERY": 25, "PATIENCE": 2}


def default_out() -> Path:
    from utils.core.paths import build_dir

    return build_dir() / "adapters" / "feedback-lora-ddp"


def _val_sums(model, shard: list[dict], pad_token_id: int, batch_size: int) -> tuple[float, int]:
    """(sum of token losses, token count) of one process's share of the validation set."""
    count = sum(label != lora.IGNORE_INDEX for example in shard for label in example["labels"])
    if not shard:
        return 0.0, 0
    return lora.language_model_loss(model, shard, pad_token_id, batch_size) * count, count


def train_data_parallel(model, tokenizer, train_pairs, val_pairs, accelerator, *,
                        steps: int = NOTEBOOK_DEFAULTS["TRAIN_STEPS"],
                        batch_size: int = NOTEBOOK_DEFAULTS["BATCH_SIZE"],
                        lr: float = NOTEBOOK_DEFAULTS["LEARNING_RATE"], warmup_steps: int = 3,
                        eval_every: int = NOTEBOOK_DEFAULTS["EVAL_EVERY"],
                        patience: int | None = NOTEBOOK_DEFAULTS["PATIENCE"], max_length: int = 128,
                        seed: int = NOTEBOOK_DEFAULTS["SEED"], weight_decay: float = 0.0, val_batch_size: int = 16,
                        progress: bool = True) -> lora.TrainHistory:
    """``lora.train_lora`` on every process of ``accelerator``; ``batch_size`` is per process.

    Every process must call it with the same arguments. The losses in the returned history are the global
    batch's (token-weighted over all processes), the same on every process; so is the trained ``model``.
    See the module docstring for why N processes x ``batch_size`` equal one process x N·``batch_size``.
    """
    if steps <= 0 or batch_size <= 0 or eval_every <= 0:
        raise ValueError(f"steps, batch_size and eval_every must be positive; got {steps}, {batch_size}, {eval_every}.")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be a positive number of evaluations or None, got {patience}.")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("Nothing to train: no parameter requires grad. Wrap the model with add_lora first.")
    world, rank = accelerator.num_processes, accelerator.process_index
    train = lora.build_examples(tokenizer, train_pairs, max_length)
    val = lora.build_examples(tokenizer, val_pairs, max_length)
    global_batch = world * batch_size
    if global_batch > len(train):
        raise ValueError(f"The global batch ({world} processes x {batch_size}) is larger than the {len(train)} "
                         "training examples: lower --batch-size.")
    pad = tokenizer.pad_token_id
    torch.manual_seed(seed + rank)  # LoRA dropout: independent masks on every process (rank 0 = train_lora's)
    rng = random.Random(seed)  # batch order: the same global batches on every process
    model.to(accelerator.device)
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    # Not passed to prepare(): Accelerate would step a prepared scheduler once per process per step.
    schedule = lora.warmup_cosine_schedule(optimizer, steps, warmup_steps)
    wrapped, optimizer = accelerator.prepare(model, optimizer)  # DDP when world > 1
    # Sorted by length then dealt out in turn: shards of similar lengths, hence similar validation times.
    val_shard = sorted(val, key=lambda example: len(example["input_ids"]))[rank::world]
    # Collectives run on the backend's device (NCCL: the GPU); one process needs none, float64 stays on the CPU.
    reduce_device = accelerator.device if world > 1 else torch.device("cpu")
    history, started, bad_evals, best_state = lora.TrainHistory(), time.perf_counter(), 0, None

    def global_sums(total: float, count: int) -> torch.Tensor:
        return accelerator.reduce(torch.tensor([total, count], dtype=torch.float64, device=reduce_device), "sum")

    def validate(step: int) -> bool:
        """Record the global validation loss; return True when training should stop (on every process)."""
        nonlocal bad_evals, best_state
        total, count = global_sums(*_val_sums(model, val_shard, pad, val_batch_size))
        if world > 1:  # all-reduce results agree everywhere in practice; broadcasting makes the decision certain
            from accelerate.utils import broadcast

            total = broadcast(total.reshape(1).clone(), from_process=0)[0]
        loss = float(total / count)
        history.val_loss.append((step, loss))
        if loss < history.best_val_loss:
            history.best_val_loss, history.best_step, bad_evals = loss, step, 0
            best_state = lora._trainable_state(model)
            return False
        bad_evals += 1
        return patience is not None and bad_evals >= patience

    validate(0)
    wrapped.train()
    batches = lora._batches([len(example["input_ids"]) for example in train], global_batch, rng)
    bar = progress_bar(steps, progress and accelerator.is_main_process,
                       f"training on {world} process{'es' if world > 1 else ''}", unit="step", mininterval=5)
    for step in range(1, steps + 1):
        tick = time.perf_counter()
        rows = next(batches)[rank * batch_size:(rank + 1) * batch_size]
        mean, count = lora.causal_lm_loss(wrapped, lora.collate([train[i] for i in rows], pad))
        # float64: mean * count / count gives back the float32 mean exactly, so one process logs train_lora's value
        total, global_count = global_sums(mean.detach().double().item() * count, count)
        accelerator.backward(mean * (count * world / float(global_count)))  # one process: x 1.0, exactly
        accelerator.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        loss = float(total / global_count)
        history.step_seconds.append(time.perf_counter() - tick)
        history.train_loss.append((step, loss))
        if bar is not None:
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}", val=f"{history.val_loss[-1][1]:.3f}", refresh=False)
        if (step % eval_every == 0 or step == steps) and validate(step):
            history.stopped_early = step < steps
            break
    return lora.finish_training(model, history, best_state, bar, started)  # the best state, on every process alike


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def load_trained(model, folder) -> lora.TrainHistory:
    """Put the adapter weights ``main`` saved in ``folder`` into ``model`` and return the training history saved
    beside them: what a learner in a workshop room loads instead of training (``make room-adapters``).

    ``model`` is a LoRA model from ``lora.add_lora`` with the same rank, alpha and target modules; only the
    adapter's weights change, so the notebook goes on exactly as if it had trained them itself.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(folder)
    needed = [folder / name for name in ("adapter_config.json", "adapter_model.safetensors", HISTORY_FILE)]
    missing = [path.name for path in needed if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: make it with `make room-adapters` "
                                "(python -m utils.finetune.distributed --out FOLDER).")
    saved, mine = json.loads(needed[0].read_text()), model.peft_config["default"]
    if (saved["r"], saved["lora_alpha"], sorted(saved["target_modules"])) != (
            mine.r, mine.lora_alpha, sorted(mine.target_modules)):
        raise ValueError(f"The adapter in {folder} was trained with r={saved['r']}, alpha={saved['lora_alpha']}, "
                         f"modules {sorted(saved['target_modules'])}; this model has r={mine.r}, "
                         f"alpha={mine.lora_alpha}, modules {sorted(mine.target_modules)}. Use the same settings.")
    result = set_peft_model_state_dict(model, load_file(needed[1]))
    if result.unexpected_keys:
        raise ValueError(f"The adapter in {folder} has weights this model lacks: {result.unexpected_keys[:3]}")
    record = json.loads(needed[2].read_text())
    model.eval()
    return lora.TrainHistory(train_loss=[tuple(p) for p in record["train_loss"]],
                             val_loss=[tuple(p) for p in record["val_loss"]], step_seconds=record["step_seconds"],
                             best_step=record["best_step"], best_val_loss=record["best_val_loss"],
                             stopped_early=record["stopped_early"], seconds=record["seconds"])


def parse_args(argv=None) -> argparse.Namespace:
    d = NOTEBOOK_DEFAULTS
    parser = argparse.ArgumentParser(
        prog="python -m utils.finetune.distributed",
        description="Notebook 03's LoRA fine-tuning of the triage task, on one process or data-parallel under "
                    "torchrun / accelerate launch. Defaults are notebook 03's parameters.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=None, help="model id or folder (None: CROSSROADS_LLM, else embedded)")
    parser.add_argument("--device", default=None, choices=("cuda", "cpu", "mps"),
                        help="None: CROSSROADS_DEVICE, else CUDA if available, else CPU")
    parser.add_argument("--steps", type=int, default=d["TRAIN_STEPS"], help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=d["BATCH_SIZE"],
                        help="per process; the global batch is the number of processes times this")
    parser.add_argument("--lr", type=float, default=d["LEARNING_RATE"], help="peak learning rate (AdamW)")
    parser.add_argument("--warmup-steps", type=int, default=3, help="linear warm-up, then cosine decay to 10 %%")
    parser.add_argument("--eval-every", type=int, default=d["EVAL_EVERY"], help="validation every N steps")
    parser.add_argument("--patience", type=int, default=d["PATIENCE"],
                        help="evaluations without improvement before stopping (0: never stop)")
    parser.add_argument("--rank", type=int, default=d["LORA_RANK"], help="LoRA rank r")
    parser.add_argument("--alpha", type=int, default=d["LORA_ALPHA"], help="LoRA scale is alpha / r")
    parser.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout (lora.lora_config's)")
    parser.add_argument("--seed", type=int, default=d["SEED"], help="adapter init, batch order, dropout")
    parser.add_argument("--max-length", type=int, default=128, help="longest example in tokens")
    parser.add_argument("--train-examples", type=int, default=None, help="the first N training messages (None: all)")
    parser.add_argument("--val-examples", type=int, default=None, help="the first N validation messages (None: all)")
    parser.add_argument("--out", type=Path, default=None,
                        help="adapter folder (None: build/adapters/feedback-lora-ddp)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def make_accelerator(device: str | None = None):
    """An ``Accelerator`` for ``device`` (``utils.core.runtime.pick_device``): gloo on CPU, NCCL on CUDA."""
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    from utils.core.runtime import pick_device

    device = pick_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and device == "mps":
        raise ValueError("Several processes need CUDA GPUs or the CPU; Apple MPS has no distributed backend. "
                         "Set CROSSROADS_DEVICE=cpu (or --device cpu), or run one process.")
    handlers = [InitProcessGroupKwargs(backend="nccl" if device == "cuda" else "gloo")] if world > 1 else None
    return Accelerator(cpu=device == "cpu", kwargs_handlers=handlers)


def main(argv=None) -> dict:
    from utils.core.models import load_llm
    from utils.core.runtime import seed_everything, set_offline
    from utils.finetune import triage

    args = parse_args(argv)
    set_offline()
    accelerator = make_accelerator(args.device)
    seed_everything(args.seed)
    out = Path(args.out) if args.out else default_out()
    say = accelerator.print  # process 0 only
    say(f"{accelerator.num_processes} process(es), {accelerator.distributed_type} "
        f"(backend {accelerator.state.backend or 'none'}) on {accelerator.device}; per-process batch "
        f"{args.batch_size}, global batch {accelerator.num_processes * args.batch_size}")
    base, tokenizer = load_llm(args.model, "cpu")
    train = triage.load_feedback("train")[:args.train_examples]
    val = triage.load_feedback("val")[:args.val_examples]
    model = lora.add_lora(base, lora.lora_config(r=args.rank, alpha=args.alpha, dropout=args.dropout), seed=args.seed)
    val_pairs = triage.training_pairs(tokenizer, val)
    history = train_data_parallel(
        model, tokenizer, triage.training_pairs(tokenizer, train), val_pairs, accelerator, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, eval_every=args.eval_every,
        patience=args.patience or None, max_length=args.max_length, seed=args.seed,
        progress=not args.no_progress)
    record = {}
    if accelerator.is_main_process:
        megabytes = lora.save_adapter(model, out)
        # The notebook's check: the saved adapter on a fresh copy of the base model gives the trained logits.
        fresh = load_llm(args.model, "cpu")[0].to(accelerator.device)
        reloaded = lora.load_adapter(fresh, out)
        reload_diff = lora.max_logit_difference(model, reloaded, tokenizer, [p for p, _ in val_pairs[:4]])
        record = {"world_size": accelerator.num_processes, "backend": accelerator.state.backend,
                  "device": str(accelerator.device), "per_process_batch_size": args.batch_size,
                  "global_batch_size": accelerator.num_processes * args.batch_size,
                  "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                  "train_examples": len(train), "val_examples": len(val),
                  "train_loss": history.train_loss, "val_loss": history.val_loss, "best_step": history.best_step,
                  "best_val_loss": history.best_val_loss, "stopped_early": history.stopped_early,
                  "seconds": history.seconds, "step_seconds": history.step_seconds,
                  "adapter_megabytes": megabytes, "reload_max_logit_difference": reload_diff}
        (out / HISTORY_FILE).write_text(json.dumps(record, indent=1))
        say(f"{history.steps} steps in {history.seconds:.0f} s; best validation loss {history.best_val_loss:.3f} "
            f"at step {history.best_step}; adapter ({megabytes:.1f} MB) in {out}, losses in {out / HISTORY_FILE}; "
            f"reloaded adapter's max |logit difference| {reload_diff:.1e}")
    accelerator.wait_for_everyone()
    accelerator.end_training()  # destroys the process group
    return record


if __name__ == "__main__":
    main(sys.argv[1:])
