"""Knowledge-base quality at sync time: stale duplicates, contradicting sources and silent edits, and the
metadata rules that keep them out of the index.

A RAG assistant is only as right as what it retrieves, and a knowledge base goes wrong in ways that no model,
threshold or prompt can see. ``datasets/northwind_kb/quality/`` holds three such faults:

- **stale duplicate**: after the policy update, the *old* versions of the four changed documents are still
  indexed under other ids (``policy-warranty-2024-01``: what happens when a sync job adds the new file and nobody
  removes the old one);
- **contradiction**: a retailer's leaflet that gives other numbers than the FrostLine 220 manual;
- **silent edit**: a false statement, with no instruction in it, inside a reviewed document (two rows of the
  SilentVac R10 manual pasted from an older battery), under an unchanged version.

``curate`` decides from metadata alone (never from what the text says) what a sync may index:

1. **effective dates**: a document whose ``effective`` date lies after ``today`` is not live yet;
2. **source trust**: only documents whose ``source`` is a reviewed one (``official``; documents without a
   ``source`` are the company's own) are indexed;
3. **de-duplication on sync**: of several documents with the same ``type`` and ``title`` only the newest
   (``effective``, then ``version``) is kept;
4. **held edits**: a document whose text changed while its ``version`` did not is held for review, and the
   version already indexed stays. A real update bumps its version; an edit that does not is unreviewed.

Rule 4 is a process rule, not a fact check: a false statement that arrives with a new version number passes.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from utils.rag.documents import KB_DIR, Document, load_documents
from utils.rag.scoring import is_correct, is_correct_strict

QUALITY_DIR = KB_DIR / "quality"
TRUSTED_SOURCES = ("official",)
KINDS = ("stale duplicate", "contradiction", "silent edit")


@dataclass(frozen=True)
class Fault:
    kind: str
    documents: tuple          # ids of the faulty documents a sync receives
    wrong: dict               # question id -> normalised markers of the wrong fact (empty: the question's old gold)


@dataclass
class Curation:
    documents: list                                   # what the sync indexes
    dropped: dict = field(default_factory=dict)       # id -> why it was not indexed
    held: dict = field(default_factory=dict)          # id -> why the indexed version was kept

    def summary(self) -> str:
        lines = [f"indexed {len(self.documents)} documents; dropped {len(self.dropped)}, held {len(self.held)}"]
        lines += [f"  dropped {doc_id}: {why}" for doc_id, why in sorted(self.dropped.items())]
        lines += [f"  held    {doc_id}: {why}" for doc_id, why in sorted(self.held.items())]
        return "\n".join(lines)


def stale_copies(before: list[Document], updates: list[Document]) -> list[Document]:
    """The pre-update version of every updated document, under the id ``<id>-<old version>``."""
    old = {d.id: d for d in before}
    missing = [u.id for u in updates if u.id not in old]
    if missing:
        raise ValueError(f"No pre-update version of {', '.join(missing)} among the documents given: pass the "
                         "knowledge base as it was before the update (load_knowledge_base()).")
    copies = []
    for update in updates:
        previous = old[update.id]
        version = previous.metadata.get("version")
        if not version:
            raise ValueError(f"{previous.id} has no 'version' in its front matter, so a stale copy has no id.")
        copies.append(Document(f"{previous.id}-{version}", previous.title, previous.text, dict(previous.metadata)))
    return copies


def load_faults(questions, kb_dir: Path | str = KB_DIR) -> tuple[list[Fault], list[Document]]:
    """The faults of ``quality/faults.jsonl`` plus the stale duplicates, and the faulty documents they bring.

    ``questions`` are the evaluation questions (``load_questions()``): the stale-duplicate fault covers every
    question whose answer the policy update changes, and a question named in the file must exist.
    """
    folder = Path(kb_dir) / "quality"
    if not (folder / "faults.jsonl").is_file():
        raise FileNotFoundError(f"{folder / 'faults.jsonl'} is missing: it lists the planted faults of the "
                                "knowledge-base quality experiment.")
    known = {q.id for q in questions}
    faults = [Fault("stale duplicate", (), {q.id: () for q in questions if q.changes_with_update})]
    for number, line in enumerate((folder / "faults.jsonl").read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("kind") not in KINDS:
            raise ValueError(f"faults.jsonl line {number}: kind must be one of {', '.join(KINDS)}, "
                             f"got {row.get('kind')!r}.")
        unknown = sorted(set(row["questions"]) - known)
        if unknown:
            raise ValueError(f"faults.jsonl line {number} names questions that do not exist: {', '.join(unknown)}.")
        faults.append(Fault(row["kind"], tuple(row["documents"]),
                            {qid: tuple(markers) for qid, markers in row["questions"].items()}))
    return faults, load_documents(folder)


def faulty_sync(current: list[Document], faulty: list[Document], stale: list[Document]) -> list[Document]:
    """What a careless sync receives: the current documents, edits replacing them by id, stale and new files."""
    merged = {d.id: d for d in current}
    merged.update({d.id: d for d in faulty + stale})
    return sorted(merged.values(), key=lambda d: d.id)


def _newest_first(document: Document) -> tuple:
    return (document.metadata.get("effective", ""), document.metadata.get("version", ""), document.id)


def curate(incoming: list[Document], indexed: list[Document], today: str,
           trusted: tuple = TRUSTED_SOURCES) -> Curation:
    """Apply the four metadata rules (see the module docstring) to what a sync receives.

    ``indexed`` is what the index holds now (for rule 4); ``today`` an ISO date such as ``"2025-03-15"``.
    """
    if not (isinstance(today, str) and len(today) == 10 and today[4] == today[7] == "-"):
        raise ValueError(f"today must be an ISO date like '2025-03-15', got {today!r}.")
    result = Curation([])
    live = []
    for doc in incoming:
        effective, source = doc.metadata.get("effective", ""), doc.metadata.get("source", "official")
        if effective > today:
            result.dropped[doc.id] = f"not effective until {effective}"
        elif source not in trusted:
            result.dropped[doc.id] = f"source '{source}' is not a reviewed source ({', '.join(trusted)})"
        else:
            live.append(doc)
    groups: dict = {}
    for doc in live:
        groups.setdefault((doc.metadata.get("type", ""), doc.title), []).append(doc)
    before = {d.id: d for d in indexed}
    for group in groups.values():
        newest, *older = sorted(group, key=_newest_first, reverse=True)
        for doc in older:
            result.dropped[doc.id] = f"superseded by {newest.id} (same title and type, newer)"
        previous = before.get(newest.id)
        if (previous is not None and previous.text != newest.text
                and previous.metadata.get("version") == newest.metadata.get("version")):
            result.held[newest.id] = (f"text changed under the same version {newest.metadata.get('version')}: "
                                      "held for review, the indexed version stays")
            newest = previous
        result.documents.append(newest)
    result.documents.sort(key=lambda d: d.id)
    return result


def states_wrong(answer: str, markers: tuple) -> bool:
    """Does the answer state one of the wrong fact's markers (normalised, as whole words)?"""
    return is_correct(answer, markers)


def measure_faults(pipeline, index, faults: list[Fault], questions, conditions: dict) -> list[dict]:
    """Ask every fault's questions with the index as each condition leaves it; one row per (condition, question).

    ``conditions`` maps a name ("clean", "careless sync", "curated sync") to the documents to index;
    ``index(documents)`` must make the pipeline's retriever index exactly those. A row says whether the answer
    states the wrong fact (the fault's markers, or the old gold for a stale duplicate) and whether it is
    strictly correct (the current gold).
    """
    by_id = {q.id: q for q in questions}
    asked = [(fault, by_id[qid]) for fault in faults for qid in fault.wrong]
    if not asked:
        raise ValueError("No questions to ask: the faults name none.")
    rows = []
    for condition, documents in conditions.items():
        index(documents)
        answers = pipeline.answer([q.question for _, q in asked])
        for (fault, q), answer in zip(asked, answers):
            stale = fault.kind == "stale duplicate"
            wrong = (is_correct_strict(answer.text, q.strict_key(after_update=False), q.question) if stale
                     else states_wrong(answer.text, fault.wrong[q.id]))
            rows.append({"condition": condition, "fault": fault.kind, "question": q.question, "answer": answer.text,
                         "wrong fact": bool(wrong),
                         "correct": is_correct_strict(answer.text, q.strict_key(after_update=True), q.question)})
    return rows
