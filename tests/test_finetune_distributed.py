"""Data-parallel LoRA (utils.finetune.distributed): 2 processes x batch 2 train what 1 process x batch 4 trains.

The in-process tests use the tiny random Llama of test_finetune_lora (seconds). The equivalence test launches the
real command twice on the embedded SmolLM2 (torchrun with 2 gloo processes, then 1 plain process), about
95 s on 2 cores, so it is marked ``distributed``.
"""

import ast
import copy
import json
import os
import signal
import subprocess
import sys

import nbformat
import pytest
import torch
from test_finetune_lora import PAIRS, tiny_llama, tiny_tokenizer

from utils.core.paths import NOTEBOOKS_DIR, REPO_ROOT
from utils.finetune import distributed, lora

# Per-step tolerance on the logged training loss (4.05 at step 1, ~0.5 at step 10). The runs differ only in fp32
# summation order: each shard is padded to its own width, and DDP's all-reduce adds the two half-batch gradients
# where one process sums all four rows in one backward pass. Measured on the reference machine: at most 1.9e-6
# over the 10 steps (8e-8 at step 1). The bound leaves 50x room for other CPUs and BLAS kernels, and Adam's
# normalised steps that can grow such noise, yet it catches the mistakes this test is about: the mean of the two
# per-process means instead of the token-weighted mean is 4.6e-3 off at step 1 already (36 vs 35 answer tokens),
# and a wrong shard or sample order trains on other batches (their losses differ by ~0.4).
LOSS_TOLERANCE = 1e-4
# Logits of the two reloaded adapters: measured 2.6e-4 apart (logits of size ~10-30; the adapter moves them by ~24).
LOGIT_TOLERANCE = 1e-2
STEPS, TRAIN_EXAMPLES, VAL_EXAMPLES = 10, 40, 8


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def _accelerator():
    from accelerate import Accelerator

    return Accelerator(cpu=True)


def test_defaults_are_notebook_03s_parameters():
    nb = nbformat.read(NOTEBOOKS_DIR / "03_lora_finetuning.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body}
    assert {name: values[name] for name in distributed.NOTEBOOK_DEFAULTS} == distributed.NOTEBOOK_DEFAULTS
    args = distributed.parse_args([])
    d = distributed.NOTEBOOK_DEFAULTS
    assert (args.seed, args.rank, args.alpha, args.lr, args.batch_size, args.steps, args.eval_every, args.patience) == (
        d["SEED"], d["LORA_RANK"], d["LORA_ALPHA"], d["LEARNING_RATE"], d["BATCH_SIZE"], d["TRAIN_STEPS"],
        d["EVAL_EVERY"], d["PATIENCE"])


def test_one_process_is_exactly_train_lora(tokenizer):
    """Without WORLD_SIZE the data-parallel loop is train_lora itself: same batches, schedule, loss, best restore."""
    runs = []
    for train in (lora.train_lora, None):
        model = lora.add_lora(tiny_llama(len(tokenizer)), lora.lora_config(r=4), seed=1)  # dropout 0.05: seeded alike
        kwargs = {"steps": 9, "batch_size": 2, "lr": 5e-2, "eval_every": 3, "patience": None, "seed": 1,
                  "progress": False}
        if train is None:
            history = distributed.train_data_parallel(model, tokenizer, PAIRS, PAIRS[:2], _accelerator(), **kwargs)
        else:
            history = train(model, tokenizer, PAIRS, PAIRS[:2], **kwargs)
        runs.append((history, {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}))
    (ours, our_weights), (theirs, their_weights) = runs[1], runs[0]
    assert ours.train_loss == theirs.train_loss
    assert [s for s, _ in ours.val_loss] == [s for s, _ in theirs.val_loss] == [0, 3, 6, 9]
    assert [v for _, v in ours.val_loss] == pytest.approx([v for _, v in theirs.val_loss], rel=1e-12)
    assert ours.best_step == theirs.best_step
    assert all(torch.equal(our_weights[n], their_weights[n]) for n in their_weights)


def test_data_parallel_training_rejects_bad_settings(tokenizer):
    model = lora.add_lora(tiny_llama(len(tokenizer)), lora.lora_config(r=4))
    with pytest.raises(ValueError, match="global batch"):
        distributed.train_data_parallel(model, tokenizer, PAIRS, PAIRS, _accelerator(), batch_size=5, progress=False)
    with pytest.raises(ValueError, match="positive"):
        distributed.train_data_parallel(model, tokenizer, PAIRS, PAIRS, _accelerator(), steps=0, progress=False)


# --- the real command, 2 processes vs 1 ------------------------------------------------------------------------

def _run(command: list[str], timeout: float = 300) -> str:
    """Run ``command`` in its own process group; on timeout or failure every process it started is killed."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CROSSROADS_DEVICE="cpu", TQDM_DISABLE="1",
               PYTHONWARNINGS="ignore")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(command)} ran past {timeout} s:\n{output[-3000:]}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output[-3000:]
    return output


@pytest.mark.distributed
def test_two_processes_train_what_one_process_trains_with_the_global_batch(tmp_path):
    common = ["--steps", str(STEPS), "--eval-every", str(STEPS), "--patience", "0", "--dropout", "0",
              "--train-examples", str(TRAIN_EXAMPLES), "--val-examples", str(VAL_EXAMPLES), "--no-progress"]
    module = ["-m", "utils.finetune.distributed"]
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *module,
          "--batch-size", "2", "--out", str(tmp_path / "ddp"), *common])
    _run([sys.executable, *module, "--batch-size", "4", "--out", str(tmp_path / "single"), *common])
    ddp, single = (json.loads((tmp_path / name / distributed.HISTORY_FILE).read_text()) for name in ("ddp", "single"))

    assert (ddp["world_size"], ddp["backend"], ddp["global_batch_size"]) == (2, "gloo", 4)
    assert (single["world_size"], single["global_batch_size"]) == (1, 4)
    assert [s for s, _ in ddp["train_loss"]] == [s for s, _ in single["train_loss"]] == list(range(1, STEPS + 1))
    gaps = [abs(a - b) for (_, a), (_, b) in zip(ddp["train_loss"], single["train_loss"])]
    assert max(gaps) <= LOSS_TOLERANCE, f"per-step |loss difference| {gaps}"
    assert single["train_loss"][-1][1] < single["train_loss"][0][1] - 0.5, "the run should learn something"
    assert [s for s, _ in ddp["val_loss"]] == [0, STEPS]
    assert all(abs(a - b) <= LOSS_TOLERANCE for (_, a), (_, b) in zip(ddp["val_loss"], single["val_loss"]))
    # Each run's process 0 reloaded its saved adapter onto a fresh base model and compared logits.
    assert ddp["reload_max_logit_difference"] < 1e-4 and single["reload_max_logit_difference"] < 1e-4

    from utils.core.models import load_llm

    base, tokenizer = load_llm(device="cpu")
    untouched = copy.deepcopy(base)
    texts = ["<|im_start|>user\nMy Breeze vacuum dies after ten minutes.<|im_end|>\n<|im_start|>assistant\n"]
    from_ddp = lora.load_adapter(base, tmp_path / "ddp")
    from_single = lora.load_adapter(copy.deepcopy(untouched), tmp_path / "single")
    assert lora.max_logit_difference(from_ddp, from_single, tokenizer, texts) < LOGIT_TOLERANCE
    assert lora.max_logit_difference(from_ddp, untouched, tokenizer, texts) > 1.0, "the adapter should change logits"

    # A workshop room trains once (make room-adapters); notebook 03 then loads that adapter instead of training.
    from utils.core.paths import build_dir
    from utils.course.runner import execute

    executed = build_dir() / "test-executed" / "room" / "03_lora_finetuning.ipynb"
    execute(NOTEBOOKS_DIR / "03_lora_finetuning.ipynb", executed, smoke=True,
            parameters={"TRAINED_ADAPTER": str(tmp_path / "single")})
    printed = "".join(out.get("text", "") for cell in nbformat.read(executed, as_version=4).cells
                      for out in cell.get("outputs", []))
    assert f"loaded the adapter trained in {tmp_path / 'single'}" in printed


def test_load_trained_puts_the_saved_weights_and_losses_into_a_fresh_lora_model(tokenizer, tmp_path):
    trained = lora.add_lora(tiny_llama(len(tokenizer)), lora.lora_config(r=4), seed=1)
    history = lora.train_lora(trained, tokenizer, PAIRS, PAIRS[:2], steps=4, batch_size=2, lr=5e-2, eval_every=2,
                              patience=None, seed=1, progress=False)
    lora.save_adapter(trained, tmp_path)
    (tmp_path / distributed.HISTORY_FILE).write_text(json.dumps(
        {"train_loss": history.train_loss, "val_loss": history.val_loss, "step_seconds": history.step_seconds,
         "best_step": history.best_step, "best_val_loss": history.best_val_loss,
         "stopped_early": history.stopped_early, "seconds": history.seconds}))
    fresh = lora.add_lora(tiny_llama(len(tokenizer)), lora.lora_config(r=4), seed=2)   # other initial weights
    loaded = distributed.load_trained(fresh, tmp_path)
    assert loaded.train_loss == history.train_loss and loaded.best_step == history.best_step
    mine = {n: p for n, p in fresh.named_parameters() if "lora_" in n}
    theirs = {n: p for n, p in trained.named_parameters() if "lora_" in n}
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[n], theirs[n]) for n in mine)

    other = lora.add_lora(tiny_llama(len(tokenizer)), lora.lora_config(r=2), seed=1)
    with pytest.raises(ValueError, match="trained with r=4"):
        distributed.load_trained(other, tmp_path)
    with pytest.raises(FileNotFoundError, match="make room-adapters"):
        distributed.load_trained(fresh, tmp_path / "nowhere")
