"""The course's shape: every notebook's ending, its knowledge check and references, and the glossary they link to."""

import re
from pathlib import Path

import nbformat
import pytest

from utils.core.paths import LABS_DIR, NOTEBOOKS_DIR, REPO_ROOT, SOLUTIONS_DIR
from utils.course.glossary import GLOSSARY_PATH, TERM_LEVEL, markdown_headings
from utils.course.glossary import github_slug as slug

GLOSSARY = GLOSSARY_PATH
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
ENDING = ["## Summary and takeaways", "## Knowledge checks", "## Your turn", "## References"]
LINK = re.compile(r"glossary\.md#([^)\s]+)\)")

# Terms the glossary must define (slug of their heading), and the subset the notebooks must link to.
REQUIRED = {
    "nDCG": "ndcg", "MRR": "mrr", "recall@k": "recall-at-k", "p50/p95 latency": "p50-and-p95-latency",
    "label smoothing": "label-smoothing", "AdamW": "adamw", "Adam": "adam",
    "cosine schedule": "cosine-learning-rate-schedule", "warm-up": "warm-up",
    "batch normalisation": "batch-normalisation", "dropout": "dropout", "early stopping": "early-stopping",
    "convolution": "convolution", "pooling": "pooling", "data augmentation": "data-augmentation",
    "LoRA": "lora", "LoRA rank and alpha": "lora-rank-and-alpha", "PEFT": "peft",
    "full fine-tuning": "full-fine-tuning", "RAG": "rag", "chunking": "chunking", "embedding": "embedding",
    "cosine similarity": "cosine-similarity", "FAISS": "faiss", "HNSW": "hnsw",
    "approximate nearest neighbour": "approximate-nearest-neighbour-search", "BM25": "bm25",
    "hybrid search": "hybrid-search", "RRF": "reciprocal-rank-fusion", "context budget": "context-budget",
    "grounding and citations": "grounding-and-citations", "abstention": "abstention",
    "prompt injection": "prompt-injection", "knowledge-base poisoning": "knowledge-base-poisoning",
    "zero-shot": "zero-shot-prompting", "few-shot": "few-shot-prompting", "tokens": "tokens", "logits": "logits",
    "cross-entropy loss": "cross-entropy-loss", "validation vs test": "validation-and-test-sets",
    "confidence interval": "confidence-interval", "Wilson interval": "wilson-interval", "bootstrap": "bootstrap",
    "overfitting": "overfitting", "quantisation": "quantisation", "bf16": "bf16", "FLOP/s": "flops",
    "memory-bandwidth bound": "memory-bandwidth-bound", "roofline": "roofline-model",
    "strict vs lenient scoring": "strict-and-lenient-scoring",
}
NOT_IN_THE_NOTEBOOKS = {"bf16", "flops", "memory-bandwidth-bound", "roofline-model", "adam"}  # glossary only
LINKED = {slug for slug in REQUIRED.values() if slug not in NOT_IN_THE_NOTEBOOKS}


def glossary_headings() -> list[str]:
    return markdown_headings(GLOSSARY.read_text(), TERM_LEVEL)


def markdown(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def headings(path: Path) -> list[str]:
    return [line.strip() for source in markdown(path) for line in source.splitlines() if line.startswith("## ")]


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_slugs_follow_github():
    assert slug("p50 and p95 latency") == "p50-and-p95-latency"
    assert slug("p50 / p95") == "p50--p95"
    assert slug("FLOP/s") == "flops" and slug("Knowledge-base poisoning") == "knowledge-base-poisoning"


def test_there_are_six_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_every_notebook_ends_with_the_four_sections_in_order(path):
    assert headings(path)[-4:] == ENDING, f"{path.name} should end with {ENDING}, got {headings(path)[-4:]}"
    cells = nbformat.read(path, as_version=4).cells
    assert cells[-1].cell_type == "markdown" and cells[-1].source.startswith("## References")
    starts = {c.source.splitlines()[0] for c in cells if c.cell_type == "markdown" and c.source}
    assert set(ENDING) <= starts, "each of the four sections starts its own markdown cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_every_notebook_calls_its_knowledge_check(path):
    cells = nbformat.read(path, as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Knowledge"))
    end = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Your turn"))
    code = [c.source for c in cells[start:end] if c.cell_type == "code"]
    key = path.name[:2]
    assert any(re.search(rf'^knowledge_check\("{key}"\)', s, re.M) for s in code), "the widgets / printed questions"
    assert any(re.search(rf'^knowledge_check\("{key}", answers\)', s, re.M) for s in code), "the answers in code"
    from utils.course.knowledge_checks import QUESTIONS

    slots = ", ".join(f"{n}: None" for n in range(1, len(QUESTIONS[key]) + 1))
    assert any(f"answers = {{{slots}}}" in s for s in code), "one None slot per question"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_every_references_section_links_its_sources_and_the_glossary(path):
    references = markdown(path)[-1]
    assert len(re.findall(r"\]\(https?://", references)) >= 1, "the References section holds no link"
    assert "](../docs/glossary.md)" in references, "the References section points to the glossary"


def _linking_files() -> list[Path]:
    docs = [p for p in (REPO_ROOT / "docs").glob("*.md")]
    return [*NOTEBOOKS, *sorted(SOLUTIONS_DIR.glob("*.ipynb")), *sorted(LABS_DIR.glob("*.ipynb")), *docs,
            REPO_ROOT / "README.md"]


def _text(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join(markdown(path))
    return path.read_text()


def test_every_glossary_link_resolves_to_a_heading():
    anchors = {slug(h) for h in glossary_headings()}
    broken = [(p.relative_to(REPO_ROOT).as_posix(), anchor) for p in _linking_files() if p.exists()
              for anchor in LINK.findall(_text(p)) if anchor not in anchors]
    inside = [anchor for anchor in re.findall(r"\]\(#([^)\s]+)\)", GLOSSARY.read_text()) if anchor not in anchors]
    assert not broken and not inside, f"glossary links to missing headings: {broken + inside}"


def test_glossary_links_from_notebooks_use_the_relative_path():
    for path in NOTEBOOKS:
        for target in re.findall(r"\]\(([^)\s]*glossary\.md[^)\s]*)\)", _text(path)):
            assert target.startswith("../docs/glossary.md"), f"{path.name}: {target}"


def test_the_glossary_is_alphabetical_with_unique_headings():
    found = glossary_headings()
    assert found == sorted(found, key=str.lower), "keep the glossary's entries in alphabetical order"
    slugs = [slug(h) for h in found]
    assert len(set(slugs)) == len(slugs), "two glossary headings share an anchor"


def test_every_glossary_entry_has_a_definition():
    text = GLOSSARY.read_text()
    entries = re.split(r"^### .+$", text, flags=re.M)[1:]
    assert all(len(entry.split()) >= 12 for entry in entries), "a glossary entry is (almost) empty"


@pytest.mark.parametrize("term, anchor", REQUIRED.items(), ids=list(REQUIRED))
def test_the_glossary_covers_the_required_terms(term, anchor):
    assert anchor in {slug(h) for h in glossary_headings()}, f"the glossary has no entry for {term} (#{anchor})"


def test_the_glossary_cites_the_primary_sources():
    text = GLOSSARY.read_text()
    for source in ("2106.09685", "2005.11401", "10.1145/1571941.1572114", "1603.09320", "10.1561/1500000019",
                   "1711.05101", "1608.03983", "1502.03167", "1512.00567", "10.1145/582415.582418",
                   "srivastava14a", "1412.6980", "1908.10084", "2002.10957", "2502.02737", "1702.08734",
                   "2302.12173", "2402.07867", "10.1109/5.726791", "10.1145/1498765.1498785", "2276774"):
        assert source in text, f"the glossary should cite {source}"


def test_the_required_terms_are_linked_from_the_notebooks():
    linked = {anchor for path in NOTEBOOKS for anchor in LINK.findall(_text(path))}
    assert not LINKED - linked, f"link these glossary terms from a notebook: {sorted(LINKED - linked)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_every_diagram_has_alt_text(path):
    images = re.findall(r"!\[([^\]]*)\]\((attachment:[^)\s]+)\)", "\n".join(markdown(path)))
    assert images or path.name.startswith("00"), f"{path.name} has no diagram"  # 00 checks the machine: none
    for alt, target in images:
        assert len(alt.split()) >= 6, f"{path.name}: give {target} an alt text that describes it"
