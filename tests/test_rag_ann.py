"""Flat vs HNSW vs IVF benchmark on synthetic vectors (utils.rag.ann), at a tiny scale."""

import numpy as np
import pytest

from utils.rag.ann import as_rows, benchmark, best_setting, make_vectors, recall_at_k_ann


def test_make_vectors_are_unit_length_and_seeded():
    a, b = make_vectors(500, 16, n_clusters=5, seed=3), make_vectors(500, 16, n_clusters=5, seed=3)
    assert a.shape == (500, 16) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make_vectors(500, 16, n_clusters=5, seed=4))
    with pytest.raises(ValueError, match="positive"):
        make_vectors(0)


def test_recall_at_k_ann_by_hand():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k_ann(np.array([[3, 2, 1], [4, 9, 8]]), exact, 3) == pytest.approx((3 + 1) / 6)
    with pytest.raises(ValueError, match="one per query"):
        recall_at_k_ann(exact[:1], exact, 3)


def test_tiny_benchmark_measures_every_index():
    results = benchmark(n=3000, dim=32, n_queries=50, hnsw_m=16, ef_search=(8, 64), ivf_lists=32,
                        nprobe=(1, 32), single_queries=20)
    names = [(r.index, r.setting) for r in results]
    assert names == [("flat", "exact"), ("hnsw", "efSearch=8"), ("hnsw", "efSearch=64"),
                     ("ivf", "nprobe=1"), ("ivf", "nprobe=32")]
    flat = results[0]
    assert flat.recall_at_10 == 1.0 and flat.megabytes == pytest.approx(3000 * 32 * 4 / 2**20, rel=0.05)
    assert results[2].recall_at_10 >= results[1].recall_at_10 and results[2].recall_at_10 > 0.9
    assert results[4].recall_at_10 == pytest.approx(1.0)                 # probing every list is exact
    assert all(r.qps_single > 0 and r.qps_batch > 0 and r.build_seconds >= 0 for r in results)
    assert best_setting(results, "hnsw", 0.9).setting == "efSearch=64" or results[1].recall_at_10 >= 0.9
    assert best_setting(results, "hnsw", 1.01) is None
    assert set(as_rows(results)[0]) >= {"index", "recall_at_10", "qps_single", "megabytes"}
    with pytest.raises(ValueError, match="n >= k"):
        benchmark(n=5, k=10)
