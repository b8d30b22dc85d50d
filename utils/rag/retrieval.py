"""Retrievers over chunks: dense (MiniLM embeddings in faiss), BM25 (rank-bm25) and hybrid (RRF).

All three share one interface, so the RAG code does not care which it gets:

    retriever.sync(chunks)            # index new/changed documents, drop removed ones → SyncReport
    retriever.search(query, k)        # → list[Hit], best first; a Hit has doc_id, chunk_id, score, text
    retriever.search_many(queries, k) # → one list of hits per query (batched where it helps)

``sync`` is what makes a policy update cheap: it compares a fingerprint of each document's chunks
with what is indexed and re-embeds only the documents that changed.
"""

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from utils.rag.documents import Chunk

INDEX_FORMAT = 1
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i in is it my of on or the to what when where which "
    "who why will with you your much many long".split())


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float         # higher is better; cosine for dense, BM25 score, or fused RRF score

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def title(self) -> str:
        return self.chunk.title


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)       # document ids indexed for the first time
    changed: list[str] = field(default_factory=list)     # re-indexed because their chunks changed
    removed: list[str] = field(default_factory=list)     # no longer in the corpus
    unchanged: int = 0
    chunks_indexed: int = 0                              # chunks embedded / tokenised this time
    seconds: float = 0.0


def ranked_doc_ids(hits: list[Hit]) -> list[str]:
    """The documents behind a ranked list of chunk hits, each once, in order of its best chunk."""
    seen, ids = set(), []
    for hit in hits:
        if hit.doc_id not in seen:
            seen.add(hit.doc_id)
            ids.append(hit.doc_id)
    return ids


def _check_query(query) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"The query must be a non-empty string, got {query!r}.")
    return query


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k (the number of hits) must be a positive integer, got {k!r}.")
    return k


def _check_chunks(chunks) -> list[Chunk]:
    if isinstance(chunks, Chunk) or not all(isinstance(c, Chunk) for c in chunks):
        raise TypeError("Expected a list of Chunk objects (from utils.rag.documents.chunk_documents).")
    return list(chunks)


def _fingerprints(chunks: list[Chunk]) -> dict[str, str]:
    """One hash per document over its chunks, so new content *or* new chunking both count as a change."""
    by_doc: dict[str, list] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append([chunk.chunk_id, chunk.passage])
    return {doc: hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16] for doc, parts in by_doc.items()}


class _Index:
    """What every retriever shares: its chunks, grouped by document, and the ``sync`` bookkeeping."""

    def __init__(self):
        self._chunks: dict[int, Chunk] = {}        # internal id → chunk, in insertion order
        self._fingerprints: dict[str, str] = {}    # document id → fingerprint of its indexed chunks
        self._next_id = 0
        self.version = 0                           # bumped by every sync that changes the index

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> list[Chunk]:
        return list(self._chunks.values())

    @property
    def doc_ids(self) -> list[str]:
        return sorted(self._fingerprints)

    def sync(self, chunks: list[Chunk]) -> SyncReport:
        """Make the index hold exactly ``chunks``, re-indexing only the documents that changed."""
        started = time.perf_counter()
        chunks = _check_chunks(chunks)
        if not chunks:
            raise ValueError("No chunks to index: the corpus is empty.")
        new = _fingerprints(chunks)
        report = SyncReport()
        report.added = sorted(d for d in new if d not in self._fingerprints)
        report.changed = sorted(d for d in new if d in self._fingerprints and self._fingerprints[d] != new[d])
        report.removed = sorted(d for d in self._fingerprints if d not in new)
        report.unchanged = len(new) - len(report.added) - len(report.changed)
        stale = set(report.changed) | set(report.removed)
        if stale:
            self._remove(sorted(i for i, c in self._chunks.items() if c.doc_id in stale))
        fresh = set(report.added) | set(report.changed)
        todo = [c for c in chunks if c.doc_id in fresh]
        if todo:
            self._add(todo)
        self._fingerprints = new
        self.version += bool(stale or fresh)
        report.chunks_indexed = len(todo)
        report.seconds = time.perf_counter() - started
        return report

    def _register(self, chunks: list[Chunk]) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
        self._chunks.update(zip(ids.tolist(), chunks))
        self._next_id += len(chunks)
        return ids

    def _check_ready(self):
        if not self._chunks:
            raise ValueError("The index is empty: call sync(chunks) with your chunked documents first.")

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` best chunks for one query, best first."""
        return self.search_many([_check_query(query)], k)[0]


class DenseRetriever(_Index):
    """Chunks embedded with a sentence-transformers model, L2-normalised, in an exact faiss index.

    With unit vectors, the inner product *is* the cosine similarity, so ``IndexFlatIP`` ranks by
    cosine and the scores lie in [-1, 1]: comparable across queries, which abstention relies on.
    """

    def __init__(self, embedder, chunks: list[Chunk] | None = None, batch_size: int = 64):
        import faiss

        super().__init__()
        self.embedder, self.batch_size = embedder, batch_size
        self.dim = int(embedder.get_embedding_dimension())
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))   # IDMap2: lets us remove by id
        if chunks:
            self.sync(chunks)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 embeddings, shape (N, dim)."""
        vectors = self.embedder.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)        # (N, D)

    def vectors(self) -> np.ndarray:
        """The stored embeddings, one row per chunk in ``self.chunks`` order, shape (N, dim)."""
        self._check_ready()
        return np.stack([self.index.reconstruct(int(i)) for i in self._chunks])   # (N, D)

    def _add(self, chunks: list[Chunk]) -> None:
        vectors = self.embed([c.passage for c in chunks])             # (N, D)
        self.index.add_with_ids(vectors, self._register(chunks))

    def _remove(self, ids: list[int]) -> None:
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))
        for i in ids:
            del self._chunks[i]

    def search_vectors(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Search with query embeddings you already have, shape (Q, dim)."""
        self._check_ready()
        k = min(_check_k(k), len(self))
        scores, ids = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)   # (Q, k) each
        return [[Hit(self._chunks[int(i)], float(s)) for s, i in zip(row_s, row_i) if i >= 0]
                for row_s, row_i in zip(scores, ids)]

    def search_many(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        queries = [_check_query(q) for q in queries]
        self._check_ready()
        _check_k(k)
        return self.search_vectors(self.embed(queries), k)

    def save(self, folder: Path | str) -> Path:
        """Write ``index.faiss``, ``chunks.jsonl`` and ``meta.json`` into ``folder``."""
        import faiss

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / "index.faiss"))
        lines = [json.dumps({"id": i, **asdict(c)}, ensure_ascii=False) for i, c in self._chunks.items()]
        (folder / "chunks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        meta = {"format": INDEX_FORMAT, "dim": self.dim, "count": len(self), "next_id": self._next_id,
                "fingerprints": self._fingerprints, "batch_size": self.batch_size}
        (folder / "meta.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: Path | str, embedder) -> "DenseRetriever":
        """Reload a saved index; ``embedder`` must be the model that built it (checked by dimension)."""
        import faiss

        folder = Path(folder)
        if not (folder / "meta.json").is_file():
            raise FileNotFoundError(f"No saved index in {folder}: expected meta.json, index.faiss and chunks.jsonl "
                                    "written by DenseRetriever.save().")
        meta = json.loads((folder / "meta.json").read_text())
        retriever = cls(embedder, batch_size=meta.get("batch_size", 64))
        if meta.get("format") != INDEX_FORMAT or meta["dim"] != retriever.dim:
            raise ValueError(f"The index in {folder} has dimension {meta['dim']} but the embedder gives "
                             f"{retriever.dim}: load it with the embedding model that built it, or rebuild it.")
        retriever.index = faiss.read_index(str(folder / "index.faiss"))
        for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            internal_id = row.pop("id")
            retriever._chunks[internal_id] = Chunk(**row)
        if retriever.index.ntotal != len(retriever._chunks) or meta["count"] != len(retriever._chunks):
            raise ValueError(f"{folder} is inconsistent ({retriever.index.ntotal} vectors, "
                             f"{len(retriever._chunks)} chunks): rebuild and save the index again.")
        retriever._fingerprints, retriever._next_id = meta["fingerprints"], meta["next_id"]
        return retriever


def bm25_tokens(text: str) -> list[str]:
    """Lower-case words and numbers ("1.8" stays whole), without stop words, plural 's' stripped."""
    words = re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in words if w not in STOPWORDS]


class BM25Retriever(_Index):
    """Okapi BM25 over the chunks' passages (rank-bm25): exact word matches, no model at all.

    rank-bm25 has no incremental update, so ``sync`` rebuilds the statistics; that costs only
    tokenisation (milliseconds for this corpus), unlike re-embedding.
    """

    def __init__(self, chunks: list[Chunk] | None = None, k1: float = 1.5, b: float = 0.75):
        super().__init__()
        self.k1, self.b, self._bm25, self._order = k1, b, None, []
        if chunks:
            self.sync(chunks)

    def _rebuild(self) -> None:
        from rank_bm25 import BM25Okapi

        self._order = list(self._chunks)
        corpus = [bm25_tokens(self._chunks[i].passage) or ["<empty>"] for i in self._order]
        self._bm25 = BM25Okapi(corpus, k1=self.k1, b=self.b) if corpus else None

    def _add(self, chunks: list[Chunk]) -> None:
        self._register(chunks)
        self._rebuild()

    def _remove(self, ids: list[int]) -> None:
        for i in ids:
            del self._chunks[i]
        self._rebuild()

    def search_many(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        queries = [_check_query(q) for q in queries]
        self._check_ready()
        k = min(_check_k(k), len(self))
        results = []
        for query in queries:
            scores = self._bm25.get_scores(bm25_tokens(query))               # (N,)
            top = np.argsort(-scores, kind="stable")[:k]
            results.append([Hit(self._chunks[self._order[i]], float(scores[i])) for i in top])
        return results


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked lists of ids: score(id) = Σ 1 / (k + rank), rank counted from 1. Best first.

    RRF uses only ranks, so it can merge a cosine scale with a BM25 scale without calibrating
    either; ``k`` damps the advantage of the very top ranks (60 is the value from Cormack et al., 2009).
    """
    if k <= 0:
        raise ValueError(f"The RRF constant k must be positive, got {k}.")
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


class HybridRetriever:
    """Dense and BM25 together: each returns its top ``depth`` chunks, RRF merges the rankings."""

    def __init__(self, retrievers: list, k_rrf: int = 60, depth: int = 20):
        if len(retrievers) < 2:
            raise ValueError("A hybrid needs at least two retrievers, e.g. [dense, bm25].")
        self.retrievers, self.k_rrf, self.depth = list(retrievers), k_rrf, depth

    def __len__(self) -> int:
        return len(self.retrievers[0])

    @property
    def dense(self):
        """The dense member (it embeds questions for focus and confidence), or None if there is none."""
        return next((r for r in self.retrievers if isinstance(r, DenseRetriever)), None)

    def sync(self, chunks: list[Chunk]) -> SyncReport:
        """Sync every member; the report is the first member's, with the total time."""
        started = time.perf_counter()
        reports = [r.sync(chunks) for r in self.retrievers]
        reports[0].seconds = time.perf_counter() - started
        return reports[0]

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.search_many([_check_query(query)], k)[0]

    def search_many(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        _check_k(k)
        depth = max(self.depth, k)
        per_retriever = [r.search_many(queries, depth) for r in self.retrievers]
        results = []
        for hit_lists in zip(*per_retriever):
            chunks = {h.chunk_id: h.chunk for hits in hit_lists for h in hits}
            fused = reciprocal_rank_fusion([[h.chunk_id for h in hits] for hits in hit_lists], self.k_rrf)
            results.append([Hit(chunks[cid], score) for cid, score in fused[:k]])
        return results
