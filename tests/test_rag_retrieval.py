"""Dense, BM25 and hybrid retrievers, re-indexing and save/load (utils.rag.retrieval)."""

import hashlib

import numpy as np
import pytest

from utils.rag.documents import Chunk, Document, chunk_documents, embedding_tokenizer
from utils.rag.retrieval import (
    BM25Retriever,
    DenseRetriever,
    Hit,
    HybridRetriever,
    bm25_tokens,
    ranked_doc_ids,
    reciprocal_rank_fusion,
)


class HashEmbedder:
    """A tiny stand-in for a sentence-transformers model: hashed bag of words, counts what it embeds."""

    def __init__(self, dim: int = 64):
        self.dim, self.embedded = dim, 0

    def get_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, batch_size=32, normalize_embeddings=False, convert_to_numpy=True,
               show_progress_bar=False):
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in bm25_tokens(text):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms) if normalize_embeddings else out


DOCS = [
    Document("kettle", "Kettle manual", "# Kettle manual\n\nThe kettle boils 1.7 litres of water.\n"),
    Document("fridge", "Fridge manual", "# Fridge manual\n\nThe fridge keeps food cold at 4 degrees.\n"),
    Document("warranty", "Warranty policy", "# Warranty policy\n\nEvery appliance has a 2-year warranty.\n"),
    Document("vacuum", "Robot vacuum manual", "# Robot vacuum manual\n\nThe robot vacuum battery runs 150 minutes.\n"),
]


@pytest.fixture(scope="module")
def tokenizer():
    return embedding_tokenizer()


@pytest.fixture
def chunks(tokenizer):
    return chunk_documents(DOCS, 32, 8, tokenizer=tokenizer)


def test_dense_search_ranks_by_cosine_and_returns_hits(chunks):
    dense = DenseRetriever(HashEmbedder(), chunks)
    hits = dense.search("how many litres does the kettle boil", k=3)
    assert [type(h) for h in hits] == [Hit] * 3 and hits[0].doc_id == "kettle"
    assert hits[0].text in DOCS[0].text
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0 + 1e-6
    assert len(dense.search("kettle", k=99)) == len(chunks)            # k beyond the corpus is clamped


def test_search_many_matches_single_searches(chunks):
    dense = DenseRetriever(HashEmbedder(), chunks)
    queries = ["fridge cold", "warranty years"]
    many = dense.search_many(queries, 2)
    for query, hits in zip(queries, many):
        single = dense.search(query, 2)
        assert [h.chunk_id for h in hits] == [h.chunk_id for h in single]
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in single], rtol=1e-5)


@pytest.mark.parametrize("make", [lambda c: DenseRetriever(HashEmbedder(), c), lambda c: BM25Retriever(c)])
def test_retrievers_reject_bad_queries_and_k(chunks, make):
    retriever = make(chunks)
    for query in ["", "   ", None]:
        with pytest.raises(ValueError, match="non-empty string"):
            retriever.search(query, 3)
    for k in [0, -1, 2.5, True]:
        with pytest.raises(ValueError, match="positive integer"):
            retriever.search("kettle", k)


@pytest.mark.parametrize("make", [lambda: DenseRetriever(HashEmbedder()), lambda: BM25Retriever()])
def test_empty_index_and_empty_corpus_are_errors(make):
    retriever = make()
    with pytest.raises(ValueError, match="index is empty"):
        retriever.search("kettle", 1)
    with pytest.raises(ValueError, match="corpus is empty"):
        retriever.sync([])
    with pytest.raises(TypeError, match="list of Chunk"):
        retriever.sync(["not a chunk"])


def test_sync_reindexes_only_changed_documents(tokenizer, chunks):
    embedder = HashEmbedder()
    dense = DenseRetriever(embedder, chunks)
    assert embedder.embedded == len(chunks) and sorted(dense.doc_ids) == sorted(d.id for d in DOCS)

    report = dense.sync(chunks)                                          # nothing changed
    assert report.chunks_indexed == 0 and report.unchanged == len(DOCS) and embedder.embedded == len(chunks)

    new_warranty = Document("warranty", "Warranty policy", "# Warranty policy\n\nEvery appliance has a 3-year warranty.\n")
    manual = Document("toaster", "Toaster manual", "# Toaster manual\n\nThe toaster has 6 browning levels.\n")
    corpus = [d for d in DOCS if d.id not in {"warranty", "vacuum"}] + [new_warranty, manual]
    new_chunks = chunk_documents(corpus, 32, 8, tokenizer=tokenizer)
    before = embedder.embedded
    report = dense.sync(new_chunks)
    assert (report.added, report.changed, report.removed) == (["toaster"], ["warranty"], ["vacuum"])
    fresh = [c for c in new_chunks if c.doc_id in {"warranty", "toaster"}]
    assert report.chunks_indexed == len(fresh) == embedder.embedded - before
    assert len(dense) == len(new_chunks) == dense.index.ntotal
    assert "3-year" in dense.search("warranty years", 1)[0].text
    assert all(h.doc_id != "vacuum" for h in dense.search("robot vacuum battery", 10))


def test_dense_index_save_load_round_trip(tmp_path, chunks):
    embedder = HashEmbedder()
    dense = DenseRetriever(embedder, chunks)
    dense.save(tmp_path / "index")
    loaded = DenseRetriever.load(tmp_path / "index", embedder)
    assert loaded.chunks == dense.chunks and loaded.doc_ids == dense.doc_ids
    for query in ["kettle litres", "warranty", "robot battery"]:
        a, b = dense.search(query, 3), loaded.search(query, 3)
        assert [h.chunk_id for h in a] == [h.chunk_id for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-6)
    assert loaded.sync(chunks).chunks_indexed == 0                       # fingerprints survive the trip
    with pytest.raises(ValueError, match="dimension"):
        DenseRetriever.load(tmp_path / "index", HashEmbedder(dim=32))
    with pytest.raises(FileNotFoundError, match="No saved index"):
        DenseRetriever.load(tmp_path / "nothing", embedder)


def test_bm25_finds_exact_words_and_tokens_keep_decimals(chunks):
    assert bm25_tokens("The Kettles hold 1.7 litres!") == ["kettle", "hold", "1.7", "litre"]
    bm25 = BM25Retriever(chunks)
    hits = bm25.search("battery minutes", 2)
    assert hits[0].doc_id == "vacuum" and hits[0].score > hits[1].score


def test_reciprocal_rank_fusion_by_hand():
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert [i for i, _ in reciprocal_rank_fusion([["x", "y"], ["y", "z"]], k=1)][0] == "y"   # agreed on wins
    with pytest.raises(ValueError, match="positive"):
        reciprocal_rank_fusion([["a"]], k=0)


def test_hybrid_fuses_both_rankings(chunks):
    dense, bm25 = DenseRetriever(HashEmbedder(), chunks), BM25Retriever(chunks)
    hybrid = HybridRetriever([dense, bm25], depth=4)
    hits = hybrid.search("kettle litres", 2)
    assert hits[0].doc_id == "kettle" and hits[0].score == pytest.approx(2 / 61)
    with pytest.raises(ValueError, match="at least two"):
        HybridRetriever([dense])
    report = hybrid.sync(chunks)
    assert report.chunks_indexed == 0 and len(hybrid) == len(chunks)


def test_ranked_doc_ids_keeps_first_occurrence():
    chunk = lambda doc, n: Chunk(f"{doc}#{n}", doc, doc, "", "text", 0, 4, 1)   # noqa: E731
    hits = [Hit(chunk("a", 0), 0.9), Hit(chunk("b", 0), 0.8), Hit(chunk("a", 1), 0.7), Hit(chunk("c", 0), 0.1)]
    assert ranked_doc_ids(hits) == ["a", "b", "c"]


def test_minilm_matches_a_paraphrase(tokenizer):
    """The real embedding model (loads in about a second): meaning, not shared words, finds the document."""
    from utils.core.models import load_embedder

    dense = DenseRetriever(load_embedder(), chunk_documents(DOCS, 32, 8, tokenizer=tokenizer))
    assert dense.dim == 384
    assert dense.search("How long until the robot cleaner needs charging?", 1)[0].doc_id == "vacuum"
    assert dense.search("Is my broken appliance repaired for free?", 1)[0].doc_id == "warranty"


def test_vectors_and_version_follow_the_index(tokenizer, chunks):
    dense = DenseRetriever(HashEmbedder(), chunks)
    vectors = dense.vectors()
    assert vectors.shape == (len(chunks), 64)
    np.testing.assert_allclose(vectors, dense.embed([c.passage for c in dense.chunks]), rtol=1e-5)
    version = dense.version
    dense.sync(chunks)
    assert dense.version == version                                      # nothing changed
    dense.sync(chunks[:-1])
    assert dense.version == version + 1 and dense.vectors().shape == (len(chunks) - 1, 64)
