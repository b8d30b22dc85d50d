"""Abstention, decided *before* generation from retrieval evidence: the best cosine between the
question and a source, plus how much of the question's rare words the retrieved chunks contain.
If the evidence is weak, the knowledge base probably does not cover the question and a small model
would invent an answer. The threshold is calibrated on the dev split, never on the reported questions.
"""

from dataclasses import replace

import numpy as np

from utils.rag.retrieval import Hit, bm25_tokens

ABSTAIN_TEXT = "I don't know."


def inverse_document_frequency(texts: list[str]) -> dict[str, float]:
    """Idf of every word over ``texts``, from rank-bm25 (BM25+'s ``log((N + 1) / n)``): rare words weigh more.

    BM25+ rather than the Okapi variant the retriever ranks with, because Okapi's idf turns negative for
    words in more than half the chunks and rank-bm25 then substitutes a floor; a weight here must be >= 0.
    """
    from rank_bm25 import BM25Plus

    corpus = [bm25_tokens(t) for t in texts]
    return dict(BM25Plus(corpus).idf) if any(corpus) else {}


def term_coverage(question: str, hits: list[Hit], idf: dict[str, float]) -> float:
    """Share of the question's words (weighted by idf) that appear in the hits' passages.

    A word the corpus has never seen ("Alexa", "CEO") gets the highest weight: its absence is the
    strongest sign that the knowledge base does not cover the question.
    """
    words = set(bm25_tokens(question))
    if not words:
        return 0.0
    found = set(bm25_tokens(" ".join(h.chunk.passage for h in hits)))
    unseen = max(idf.values(), default=1.0)
    weights = {w: idf.get(w, unseen) for w in words}
    return sum(weights[w] for w in words if w in found) / sum(weights.values())


def calibrate_threshold(answerable_scores, unanswerable_scores, min_keep: float | None = 0.95) -> float:
    """A confidence threshold from a calibration split (never from the questions you report).

    With ``min_keep`` (default), the highest threshold that still answers at least that share of the
    answerable questions: wrongly refusing a customer is costly too. With ``min_keep=None``, the
    threshold with the best balanced accuracy. Candidates are midpoints between observed scores.
    """
    pos, neg = np.asarray(answerable_scores, float), np.asarray(unanswerable_scores, float)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("Calibration needs scores of both answerable and unanswerable questions.")
    values = np.unique(np.concatenate([pos, neg]))
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    if min_keep is not None:
        if not 0 < min_keep <= 1:
            raise ValueError(f"min_keep must be in (0, 1], got {min_keep}.")
        return float(max(t for t in candidates if (pos >= t).mean() >= min_keep))
    balanced = [((pos >= t).mean() + (neg < t).mean()) / 2 for t in candidates]
    return float(candidates[int(np.argmax(balanced))])


def apply_threshold(answers: list, threshold: float, review_threshold: float | None = None) -> list:
    """Copies of ``answers`` as if the pipeline had run with these thresholds (see ``RagPipeline``).

    Below ``threshold`` an answer becomes an abstention; below ``review_threshold`` so does an answer
    that failed the grounding check (a quoted source). Lets a notebook try thresholds on answers it
    already generated, without generating again.
    """
    def refuse(answer, reason):
        return replace(answer, text=ABSTAIN_TEXT, abstained=True, reason=reason, citations=[])

    out = []
    for a in answers:
        if a.abstained:
            out.append(a)
        elif a.confidence < threshold:
            out.append(refuse(a, "weak retrieval"))
        elif review_threshold is not None and a.confidence < review_threshold and a.reason == "quoted source":
            out.append(refuse(a, "unsupported answer"))
        else:
            out.append(a)
    return out
