"""Retrieval metrics checked against hand-computed values (utils.rag.metrics)."""

import math

import pytest

from utils.rag.metrics import evaluate_answer_recall, evaluate_rankings, ndcg_at_k, recall_at_k, reciprocal_rank


def test_recall_at_k_by_hand():
    ranking = ["a", "b", "a", "c", "d"]
    assert recall_at_k(ranking, ["c"], 3) == 0.0
    assert recall_at_k(ranking, ["c"], 4) == 1.0
    assert recall_at_k(ranking, ["a", "d"], 3) == 0.5
    assert recall_at_k(ranking, ["a", "d", "z"], 10) == pytest.approx(2 / 3)


def test_reciprocal_rank_by_hand():
    assert reciprocal_rank(["x", "y", "z"], ["y"]) == 0.5
    assert reciprocal_rank(["x", "y", "z"], ["z", "y"]) == 0.5           # the first relevant one counts
    assert reciprocal_rank(["x"], ["q"]) == 0.0


def test_ndcg_by_hand_and_duplicates_count_once():
    assert ndcg_at_k(["a", "b"], ["a"], 5) == 1.0
    assert ndcg_at_k(["b", "a"], ["a"], 5) == pytest.approx(1 / math.log2(3))
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(["a", "x", "b"], ["a", "b"], 5) == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert ndcg_at_k(["a", "a", "a"], ["a"], 3) == 1.0                      # a second chunk adds nothing
    assert ndcg_at_k(["x", "a"], ["a"], 1) == 0.0


def test_evaluate_rankings_averages_over_queries():
    metrics = evaluate_rankings([["a", "b"], ["c", "d"]], [["b"], ["z"]], ks=(1, 2))
    assert metrics == pytest.approx({"recall@1": 0.0, "recall@2": 0.5, "mrr": 0.25,
                                     "ndcg@5": (1 / math.log2(3)) / 2})


def test_evaluate_rankings_with_intervals_gives_the_same_means_with_bootstrap_bounds():
    rankings, relevant = [["a", "b"], ["c", "d"], ["b", "a"], ["a", "c"]], [["b"], ["z"], ["b"], ["a"]]
    plain = evaluate_rankings(rankings, relevant, ks=(1, 2))
    estimates = evaluate_rankings(rankings, relevant, ks=(1, 2), intervals=True)
    assert set(estimates) == set(plain)
    for name, estimate in estimates.items():
        assert estimate.value == pytest.approx(plain[name]) and estimate.n == 4
        assert 0 <= estimate.low <= estimate.value <= estimate.high <= 1
    assert estimates["recall@1"].low < estimates["recall@1"].high      # mixed outcomes: a real interval


@pytest.mark.parametrize("call, error, message", [
    (lambda: recall_at_k(["a"], [], 1), ValueError, "relevant is empty"),
    (lambda: recall_at_k(["a"], ["a"], 0), ValueError, "positive integer"),
    (lambda: recall_at_k("abc", ["a"], 1), TypeError, "lists of ids"),
    (lambda: ndcg_at_k(["a"], ["a"], -2), ValueError, "positive integer"),
    (lambda: reciprocal_rank(["a"], "a"), TypeError, "lists of ids"),
    (lambda: evaluate_rankings([["a"]], [], ks=(1,)), ValueError, "one per query"),
    (lambda: evaluate_rankings([], [], ks=(1,)), ValueError, "No queries"),
])
def test_metrics_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_evaluate_answer_recall_reads_the_chunk_text(tmp_path):
    from utils.rag.documents import Chunk, Question
    from utils.rag.retrieval import Hit

    class Fixed:
        def search_many(self, queries, k):
            chunk = Chunk("d#0", "d", "Doc", "", "The tank holds 1.8 litres.", 0, 26, 7)
            return [[Hit(chunk, 1.0)] for _ in queries]

    q = lambda accept: Question("q", "dev", "How big?", True, ("d",), "x", accept)   # noqa: E731
    result = evaluate_answer_recall(Fixed(), [q(("1.8",)), q(("2.5",))], k=1)
    assert result == {"answer_recall@1": 0.5, "context_tokens@1": 7.0}
    with pytest.raises(ValueError, match="No answerable"):
        evaluate_answer_recall(Fixed(), [], k=1)
