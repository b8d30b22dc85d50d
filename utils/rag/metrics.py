"""Retrieval metrics on ranked ids: recall@k, reciprocal rank (MRR), nDCG@k, and their means.

A ranking here is the list of *document* ids behind a retriever's chunk hits, best first, so an
id may repeat (two chunks of one document). Positions are chunk positions: recall@5 asks whether
a relevant document is behind one of the 5 chunks the generator would see. A repeated id never
counts twice. Relevance is binary: a document either contains the answer or not.
"""

import math

import numpy as np


def _check(ranking, relevant, k=None):
    if isinstance(ranking, str) or isinstance(relevant, str):
        raise TypeError("ranking and relevant must be lists of ids, not single strings.")
    if not relevant:
        raise ValueError("relevant is empty: retrieval metrics need at least one relevant id per query "
                         "(leave unanswerable questions out of retrieval evaluation).")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k <= 0):
        raise ValueError(f"k must be a positive integer, got {k!r}.")


def recall_at_k(ranking: list[str], relevant: list[str], k: int) -> float:
    """Share of the relevant ids found among the first ``k`` ranked ids."""
    _check(ranking, relevant, k)
    top, relevant = set(ranking[:k]), set(relevant)
    return len(top & relevant) / len(relevant)


def reciprocal_rank(ranking: list[str], relevant: list[str]) -> float:
    """1 / position (from 1) of the first relevant id; 0 if none is ranked."""
    _check(ranking, relevant)
    for position, item in enumerate(ranking, start=1):
        if item in relevant:
            return 1.0 / position
    return 0.0


def ndcg_at_k(ranking: list[str], relevant: list[str], k: int) -> float:
    """Binary-relevance nDCG: a relevant id at position p earns 1/log2(p+1); 1.0 is the best possible order."""
    _check(ranking, relevant, k)
    relevant, seen, dcg = set(relevant), set(), 0.0
    for position, item in enumerate(ranking[:k], start=1):
        if item in relevant and item not in seen:          # a second chunk of the same document adds nothing
            dcg += 1.0 / math.log2(position + 1)
            seen.add(item)
    ideal = sum(1.0 / math.log2(p + 1) for p in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def evaluate_rankings(rankings: list[list[str]], relevants: list[list[str]], ks=(1, 3, 5, 10),
                      intervals: bool = False) -> dict:
    """Mean recall@k for each k, MRR (over the whole ranking) and nDCG@5, over all queries.

    With ``intervals``, each is an ``utils.core.stats.Estimate``: the mean with a bootstrap interval over queries.
    """
    if len(rankings) != len(relevants):
        raise ValueError(f"{len(rankings)} rankings but {len(relevants)} sets of relevant ids: one per query.")
    if not rankings:
        raise ValueError("No queries to evaluate.")
    pairs = list(zip(rankings, relevants))
    per_query = {f"recall@{k}": [recall_at_k(r, rel, k) for r, rel in pairs] for k in ks}
    per_query["mrr"] = [reciprocal_rank(r, rel) for r, rel in pairs]
    per_query["ndcg@5"] = [ndcg_at_k(r, rel, 5) for r, rel in pairs]
    if intervals:
        from utils.core.stats import mean_estimate

        return {name: mean_estimate(values) for name, values in per_query.items()}
    return {name: float(np.mean(values)) for name, values in per_query.items()}


def evaluate_retriever(retriever, questions, ks=(1, 3, 5, 10), intervals: bool = False) -> dict:
    """Search every answerable question for ``max(ks)`` chunks and score the documents behind them
    (``intervals``: see ``evaluate_rankings``)."""
    questions = [q for q in questions if q.answerable]
    if not questions:
        raise ValueError("No answerable questions to evaluate retrieval on.")
    hits = retriever.search_many([q.question for q in questions], max(ks))
    rankings = [[h.doc_id for h in row] for row in hits]
    return evaluate_rankings(rankings, [list(q.doc_ids) for q in questions], ks, intervals)


def evaluate_answer_recall(retriever, questions, k: int = 3) -> dict[str, float]:
    """How often the gold key fact is in the text of the top ``k`` chunks, and how many tokens they hold.

    Document recall asks whether the right document is retrieved; the generator needs the right
    *passage*. Two chunkings can tie on the first and differ in how much text the model must read.
    """
    from utils.rag.scoring import is_correct

    questions = [q for q in questions if q.answerable]
    if not questions:
        raise ValueError("No answerable questions to evaluate retrieval on.")
    hits = retriever.search_many([q.question for q in questions], k)
    found = [is_correct(" ".join(h.chunk.passage for h in row), q.accept) for q, row in zip(questions, hits)]
    return {f"answer_recall@{k}": float(np.mean(found)),
            f"context_tokens@{k}": float(np.mean([sum(h.chunk.n_tokens for h in row) for row in hits]))}
