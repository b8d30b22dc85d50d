"""Exact vs approximate nearest-neighbour search at scale: flat, HNSW and IVF indexes in faiss.

The Northwind knowledge base has a few hundred chunks, where exact (flat) search takes well under a
millisecond. This module asks what happens at 100 k vectors and beyond, on synthetic 384-d unit
vectors shaped like sentence embeddings: they lie near a few hundred topic directions (clusters)
instead of filling the space uniformly. Uniform random vectors are the worst case for every
approximate index (all distances look alike) and are not what embeddings look like.

For each index we measure build time, memory (the serialised index size), recall@10 against exact
search, and queries per second, both one query at a time (an online assistant) and as one batch
(offline jobs, where a flat index rides on fast matrix multiplication).
"""

import time
from dataclasses import asdict, dataclass

import numpy as np


def make_vectors(n: int, dim: int = 384, n_clusters: int = 1000, spread: float = 1.0,
                 seed: int = 0) -> np.ndarray:
    """``n`` unit vectors around ``n_clusters`` random directions; ``spread`` is the within-cluster noise.

    With the defaults a vector's nearest neighbour has a cosine of about 0.5 and two random vectors
    about 0, roughly what MiniLM gives for related and unrelated sentences.
    """
    if n <= 0 or dim <= 0 or n_clusters <= 0:
        raise ValueError(f"n, dim and n_clusters must be positive, got {n}, {dim}, {n_clusters}.")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)         # (C, D)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, n_clusters, size=n)
    noise = rng.standard_normal((n, dim)).astype(np.float32) * (spread / np.sqrt(dim))
    vectors = centres[labels] + noise                                           # (N, D)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def recall_at_k_ann(found: np.ndarray, exact: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-k ids that the approximate search also returned in its top k."""
    if found.shape[0] != exact.shape[0]:
        raise ValueError(f"{found.shape[0]} approximate rows vs {exact.shape[0]} exact rows: one per query.")
    hits = [len(set(f[:k].tolist()) & set(e[:k].tolist())) for f, e in zip(found, exact)]
    return float(np.mean(hits)) / k


@dataclass
class IndexResult:
    index: str
    setting: str              # the search-time knob (efSearch, nprobe) or "exact"
    build_seconds: float
    megabytes: float
    recall_at_10: float
    qps_single: float         # one query per call, like a live assistant
    qps_batch: float          # all queries in one call
    ms_per_query: float       # 1000 / qps_single


def _index_megabytes(index) -> float:
    import faiss

    return faiss.serialize_index(index).nbytes / 2**20


def _qps(index, queries: np.ndarray, k: int, single_queries: int) -> tuple[float, float, np.ndarray]:
    single_queries = max(1, single_queries)
    started = time.perf_counter()
    for row in queries[:single_queries]:
        index.search(row[None, :], k)
    single = single_queries / (time.perf_counter() - started)
    started = time.perf_counter()
    _, ids = index.search(queries, k)                                           # (Q, k)
    batch = len(queries) / (time.perf_counter() - started)
    return single, batch, ids


def benchmark(n: int = 100_000, dim: int = 384, n_queries: int = 500, k: int = 10,
              hnsw_m: int = 32, ef_construction: int = 40, ef_search=(16, 32, 64, 128),
              ivf_lists: int = 256, nprobe=(4, 16, 64), single_queries: int = 100,
              seed: int = 0) -> list[IndexResult]:
    """Build flat, HNSW and IVF indexes over ``n`` synthetic vectors and measure each setting.

    ``single_queries`` of the queries are also sent one per call (a quarter as many for flat
    search, which is slow one at a time) to measure online latency.
    """
    import faiss

    if n_queries <= 0 or k <= 0 or n < k:
        raise ValueError(f"Need n >= k > 0 and n_queries > 0, got n={n}, k={k}, n_queries={n_queries}.")
    data = make_vectors(n + n_queries, dim, seed=seed)
    base, queries = data[:n], data[n:]                                          # (N, D), (Q, D)
    single_queries = min(single_queries, n_queries)
    results = []

    started = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    build = time.perf_counter() - started
    single, batch, exact = _qps(flat, queries, k, single_queries // 4)
    results.append(IndexResult("flat", "exact", build, _index_megabytes(flat), 1.0, single, batch, 1000 / single))

    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    hnsw.add(base)
    build = time.perf_counter() - started
    megabytes = _index_megabytes(hnsw)
    for ef in ef_search:
        hnsw.hnsw.efSearch = max(ef, k)
        single, batch, ids = _qps(hnsw, queries, k, single_queries)
        results.append(IndexResult("hnsw", f"efSearch={ef}", build, megabytes, recall_at_k_ann(ids, exact, k),
                                   single, batch, 1000 / single))

    if ivf_lists:
        lists = max(1, min(ivf_lists, n // 39))                  # faiss wants ~39+ training points per list
        started = time.perf_counter()
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
        ivf.train(base[: min(n, lists * 64)])
        ivf.add(base)
        build = time.perf_counter() - started
        megabytes = _index_megabytes(ivf)
        for probes in nprobe:
            ivf.nprobe = min(probes, lists)
            single, batch, ids = _qps(ivf, queries, k, single_queries)
            results.append(IndexResult("ivf", f"nprobe={probes}", build, megabytes,
                                       recall_at_k_ann(ids, exact, k), single, batch, 1000 / single))
    return results


def as_rows(results: list[IndexResult]) -> list[dict]:
    """Plain dicts with rounded numbers, ready for a table."""
    rows = []
    for r in results:
        row = asdict(r)
        for key, digits in (("build_seconds", 2), ("megabytes", 1), ("recall_at_10", 3), ("qps_single", 0),
                            ("qps_batch", 0), ("ms_per_query", 3)):
            row[key] = round(row[key], digits)
        rows.append(row)
    return rows


def best_setting(results: list[IndexResult], index: str, min_recall: float = 0.95) -> IndexResult | None:
    """The fastest (single-query) setting of ``index`` that reaches ``min_recall``, if any does."""
    ok = [r for r in results if r.index == index and r.recall_at_10 >= min_recall]
    return max(ok, key=lambda r: r.qps_single) if ok else None
