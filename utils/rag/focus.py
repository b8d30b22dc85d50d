"""Focus: instead of whole chunks, the sentences and table rows of the retrieved chunks that match the
question best (a small model is easily distracted by the rest).
"""

import re

import numpy as np

from utils.rag.documents import Chunk
from utils.rag.retrieval import Hit, bm25_tokens
from utils.rag.safety import INJECTION


def split_units(text: str) -> list[str]:
    """Sentences and table rows: the smallest pieces of a chunk that still state a fact.

    Wrapped lines of a paragraph are joined first; list items stand alone; headings and table
    rules are dropped; "1.8 litres" is not split at its decimal point.
    """
    units, paragraph = [], []

    def flush():
        if paragraph:
            joined = " ".join(paragraph)
            units.extend(s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'])", joined) if len(s.split()) >= 2)
            paragraph.clear()

    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or re.fullmatch(r"[|\s:-]+", line):
            flush()
        elif line.startswith("|"):
            flush()
            units.append(line)
        elif re.match(r"[-*]\s+", line):
            flush()
            paragraph.append(line[2:].strip())
        else:
            paragraph.append(line)
    flush()
    return units


def source_label(hit: Hit) -> str:
    """"Title › Heading" of the chunk a hit comes from."""
    return hit.chunk.passage.partition("\n")[0]


def embed_cached(texts: list[str], embed, cache: dict | None = None) -> np.ndarray:
    """``embed(texts)`` through a text → vector cache, so a sentence is embedded once per session.

    Sentences of the knowledge base come back again and again; caching them is what precomputing
    sentence vectors at indexing time would give a deployed system.
    """
    if cache is None:
        return embed(list(texts))
    todo = list(dict.fromkeys(t for t in texts if t not in cache))
    if todo:
        cache.update(zip(todo, embed(todo)))
    return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)


def focus_many(questions: list[str], hits_lists: list[list[Hit]], embed, max_units: int = 2,
               lexical_weight: float = 0.3, filter_injections: bool = True, cache: dict | None = None) -> list[list[Hit]]:
    """For each question, the ``max_units`` sentences/rows of its hits that best match it, as hits of their own.

    Ranked by cosine(question, "label: unit") + ``lexical_weight`` × share of the question's words
    in it; each returned hit's ``score`` is the plain cosine. ``embed`` maps texts to unit vectors
    (``DenseRetriever.embed``); all sentences of all questions go through it in one batch. The
    returned chunks keep their document id and character span. With ``filter_injections``,
    instruction-like sentences are never candidates.
    """
    if not isinstance(max_units, int) or max_units <= 0:
        raise ValueError(f"max_units must be a positive integer, got {max_units!r}.")
    candidates = [[(source_label(hit), unit, hit, n) for hit in hits for n, unit in enumerate(split_units(hit.chunk.text))
                   if not (filter_injections and INJECTION.search(unit))] for hits in hits_lists]
    texts = [f"{label}: {unit}" for rows in candidates for label, unit, _, _ in rows]
    vectors = embed_cached(texts, embed, cache)                                   # (all units, D)
    queries = embed(list(questions))                                              # (Q, D)
    results, offset = [], 0
    for question, query, rows, hits in zip(questions, queries, candidates, hits_lists):
        if not rows:
            results.append(list(hits[:max_units]))
            continue
        cosine = vectors[offset:offset + len(rows)] @ query                      # (U,)
        offset += len(rows)
        words = set(bm25_tokens(question))
        lexical = np.array([len(words & set(bm25_tokens(f"{label} {unit}"))) / max(1, len(words))
                            for label, unit, _, _ in rows])
        focused = []
        for i in np.argsort(-(cosine + lexical_weight * lexical), kind="stable")[:max_units]:
            _, unit, hit, n = rows[i]
            c = hit.chunk
            start = c.start + max(0, c.text.find(unit[:20]))
            focused.append(Hit(Chunk(f"{c.chunk_id}.{n}", c.doc_id, c.title, c.heading, unit, start,
                                     start + len(unit), 0), float(cosine[i])))
        results.append(focused)
    return results


def focus_hits(question: str, hits: list[Hit], embed, max_units: int = 2, lexical_weight: float = 0.3,
               filter_injections: bool = True) -> list[Hit]:
    """``focus_many`` for one question."""
    return focus_many([question], [hits], embed, max_units, lexical_weight, filter_injections)[0]
