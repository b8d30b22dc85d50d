"""The swap the README promises ("Using a GPU or a bigger model"): with ``CROSSROADS_LLM`` / ``CROSSROADS_EMBEDDER``
pointing at local model folders, every notebook that loads a model runs to the end on those models.

The folders are built here, offline, from the embedded models or random weights:

- the LLM: a tiny random Llama (2 layers, hidden size 64) saved as safetensors next to the embedded SmolLM2
  tokenizer (its chat template included), so everything but the weights matches what the notebooks expect;
- the embedder: the embedded all-MiniLM-L6-v2 followed by a fixed random orthogonal projection to 256
  dimensions, saved with sentence-transformers' ``save()``. A projection keeps MiniLM's similarities roughly
  intact, so the embedder is usable, and its 256-d vectors show which embedder a notebook really used.

The notebook runs (marker ``models``) take about 2 minutes on 2 CPU cores; the resolution rules are quick.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

from utils.core import models
from utils.core.paths import NOTEBOOKS_DIR
from utils.course.runner import execute

EMBEDDED_LLM_PARAMETERS = "134.5 M parameters"
TINY_EMBEDDING_DIM = 256


def test_an_environment_variable_replaces_the_embedded_default(monkeypatch):
    """The notebooks pass their ``LLM_ID = "embedded"`` parameter; the variable must still swap the model."""
    monkeypatch.setenv(models.LLM_ENV, "/models/bigger")
    assert models.resolve_model_id("embedded", models.LLM_ENV) == "/models/bigger"
    assert models.resolve_model_id(None, models.LLM_ENV) == "/models/bigger"
    assert models.resolve_model_id("my/model", models.LLM_ENV) == "my/model", "a notebook's own choice wins"
    monkeypatch.delenv(models.LLM_ENV)
    assert models.resolve_model_id("embedded", models.LLM_ENV) == "embedded"


def build_tiny_llm(folder: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(models.embedded_llm_folder())  # whatever CROSSROADS_LLM says
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def build_projected_embedder(folder: Path) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    minilm = SentenceTransformer(str(models.verify_model("minilm")), device="cpu")
    transformer, pooling = minilm[0], minilm[1]
    width = pooling.get_embedding_dimension()
    projection = Dense(width, TINY_EMBEDDING_DIM, bias=False, activation_function=torch.nn.Identity())
    generator = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(width, TINY_EMBEDDING_DIM, generator=generator))  # orthonormal columns
    with torch.no_grad():
        projection.linear.weight.copy_(q.T)
    SentenceTransformer(modules=[transformer, pooling, projection, Normalize()], device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="session")
def model_folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("model-folders")
    return {"llm": build_tiny_llm(root / "tiny-llama"), "embedder": build_projected_embedder(root / "minilm-256")}


def loaded_models(notebook: Path) -> set[str]:
    """Which of ``load_llm`` / ``load_embedder`` a notebook calls: {"llm", "embedder"}, one of them, or neither."""
    source = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code")
    return set(re.findall(r"\bload_(llm|embedder)\(", source))


MODEL_NOTEBOOKS = [nb for nb in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")) if loaded_models(nb)]


def test_the_notebooks_that_load_a_model_are_found():
    assert {nb.name[:2] for nb in MODEL_NOTEBOOKS} >= {"00", "03", "04", "05"}


@pytest.mark.models
def test_the_folders_load_as_the_swapped_models(model_folders, monkeypatch):
    monkeypatch.setenv(models.LLM_ENV, str(model_folders["llm"]))
    monkeypatch.setenv(models.EMBEDDER_ENV, str(model_folders["embedder"]))
    llm, tokenizer = models.load_llm("embedded", device="cpu")
    assert llm.config.num_hidden_layers == 2 and tokenizer.chat_template and tokenizer.padding_side == "left"
    embedder = models.load_embedder("embedded", device="cpu")
    vectors = embedder.encode(["a fridge", "a refrigerator", "a tax form"], normalize_embeddings=True)
    assert vectors.shape == (3, TINY_EMBEDDING_DIM) and vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    from utils.rag.documents import embedding_tokenizer  # chunking counts the embedder's tokens

    assert embedding_tokenizer(str(model_folders["embedder"])).vocab_size == embedder.tokenizer.vocab_size


# Appended to each notebook: which models does the kernel hold at the end? Every LLM and embedder in its globals.
PROBE = """
import json as _json

import torch as _torch

_seen = {"llm_layers": set(), "embedding_dims": set()}
for _value in list(globals().values()):
    if isinstance(_value, _torch.nn.Module) and hasattr(_value, "generate"):
        _seen["llm_layers"].add(_value.config.num_hidden_layers)
    if isinstance(_value, _torch.nn.Module) and hasattr(_value, "get_embedding_dimension"):
        _seen["embedding_dims"].add(_value.get_embedding_dimension())
print("MODEL PROBE " + _json.dumps({key: sorted(values) for key, values in _seen.items()}))
"""


def run_probed(notebook: Path, tmp_path: Path, parameters: dict | None = None) -> tuple[dict, str]:
    """Execute a notebook in smoke mode with the probe appended; return what the probe saw and all printed text."""
    probed = nbformat.read(notebook, as_version=4)
    probed.cells.append(nbformat.v4.new_code_cell(PROBE))
    nbformat.write(probed, tmp_path / "input.ipynb")
    output = tmp_path / notebook.name
    execute(tmp_path / "input.ipynb", output, smoke=True, cwd=NOTEBOOKS_DIR, parameters=parameters)  # raises on failure
    cells = [cell for cell in nbformat.read(output, as_version=4).cells if cell.cell_type == "code"]
    printed = "\n".join(out.get("text", "") for cell in cells for out in cell.get("outputs", [])
                         if out.get("output_type") == "stream")
    return json.loads(printed.rsplit("MODEL PROBE ", 1)[1].splitlines()[0]), printed


def assert_used_the_folders(notebook: Path, seen: dict, printed: str) -> None:
    loads = loaded_models(notebook)
    assert seen["llm_layers"] == ([2] if "llm" in loads else []), f"not (only) the folder's 2-layer Llama: {seen}"
    assert seen["embedding_dims"] == ([TINY_EMBEDDING_DIM] if "embedder" in loads else []), \
        f"not (only) the folder's {TINY_EMBEDDING_DIM}-d embedder: {seen}"
    assert EMBEDDED_LLM_PARAMETERS not in printed, "the notebook loaded the embedded LLM, not the folder"


@pytest.mark.models
@pytest.mark.notebook
@pytest.mark.parametrize("notebook", MODEL_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_local_model_folders(notebook: Path, model_folders, tmp_path, monkeypatch):
    """For every notebook at once: the kernel inherits the variables, the notebook keeps its ``"embedded"``
    parameters, as a learner's would."""
    monkeypatch.setenv(models.LLM_ENV, str(model_folders["llm"]))
    monkeypatch.setenv(models.EMBEDDER_ENV, str(model_folders["embedder"]))
    monkeypatch.setenv("CROSSROADS_BUILD_DIR", str(tmp_path / "build"))
    seen, printed = run_probed(notebook, tmp_path)
    assert_used_the_folders(notebook, seen, printed)
    if notebook.name.startswith("00"):
        assert f"LLM ({model_folders['llm']})" in printed and f"({model_folders['embedder']}): (30, 256)" in printed


@pytest.mark.models
@pytest.mark.notebook
def test_a_notebooks_own_parameters_swap_the_models(model_folders, tmp_path, monkeypatch):
    """For one notebook: ``LLM_ID`` / ``EMBEDDER_ID`` set to the folders, no variables."""
    monkeypatch.delenv(models.LLM_ENV, raising=False)
    monkeypatch.delenv(models.EMBEDDER_ENV, raising=False)
    monkeypatch.setenv("CROSSROADS_BUILD_DIR", str(tmp_path / "build"))
    notebook = NOTEBOOKS_DIR / "00_environment_check.ipynb"
    seen, printed = run_probed(notebook, tmp_path, {"LLM_ID": str(model_folders["llm"]),
                                                    "EMBEDDER_ID": str(model_folders["embedder"])})
    assert_used_the_folders(notebook, seen, printed)
