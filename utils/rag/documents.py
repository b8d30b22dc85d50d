"""Documents for retrieval: the Northwind knowledge base, its evaluation questions, and chunking.

A ``Document`` is one markdown file (id, title, text, metadata from its front matter). Retrieval
does not search whole documents but **chunks**: windows of ``chunk_tokens`` tokens, counted with
the *embedding model's* tokenizer (MiniLM reads at most 256 word pieces; anything longer would be
cut off silently), overlapping by ``overlap_tokens`` so that a fact on a window boundary survives
whole in one of them. With ``by_heading=True`` a window never crosses a markdown heading, so each
chunk talks about one thing ("Specifications", "Auto-off"), and it carries its document title and
section heading along, which tells near-duplicates (AeroBrew 300 vs 500) apart.

Every chunk keeps its character span in the document: ``document.text[chunk.start:chunk.end] ==
chunk.text``. That is how the tests prove that chunking loses no text.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from utils.core.paths import DATASETS_DIR
from utils.rag.scoring import StrictKey, values_stated

KB_DIR = DATASETS_DIR / "northwind_kb"
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
TABLE_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*:?-*:?[ \t]*\n?", re.MULTILINE)  # |---|:--|
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str                                   # markdown body, front matter removed
    metadata: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def fingerprint(self) -> str:
        """A hash of everything that ends up in the index: changes when (and only when) the content does."""
        payload = json.dumps([self.title, self.text, self.metadata], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str        # "<doc id>#<n>", n counting from 0 within the document
    doc_id: str
    title: str           # the document's title
    heading: str         # the section heading the chunk sits under ("" before the first heading)
    text: str            # exactly document.text[start:end]
    start: int
    end: int
    n_tokens: int        # embedding-tokenizer tokens in ``text``

    @property
    def passage(self) -> str:
        """What gets embedded and shown to the LLM: title and heading, then the text without table rules."""
        where = f"{self.title} › {self.heading}" if self.heading and self.heading != self.title else self.title
        return f"{where}\n{TABLE_RULE.sub('', self.text).strip()}"


@dataclass(frozen=True)
class Question:
    id: str
    split: str                   # "dev" (tune chunk size, thresholds, prompts) or "test" (report)
    question: str
    answerable: bool
    doc_ids: tuple               # documents that contain the answer (any one of them is enough)
    answer: str                  # short gold answer, for people
    accept: tuple                # normalised key facts; an answer containing one of them is correct
    changes_with_update: bool = False
    answer_after_update: str | None = None
    accept_after_update: tuple | None = None
    # for the strict scorer (utils.rag.scoring.strict_verdict): facts with units, the entity asked about
    require: tuple | None = None
    unit_kind: str | None = None
    entity: tuple = ()
    conflicts: tuple = ()
    require_after_update: tuple | None = None

    def strict_key(self, after_update: bool = False) -> StrictKey:
        """What a strictly correct answer must say, before or after the policy update."""
        require = self.require_after_update if after_update and self.changes_with_update else self.require
        if not self.answerable or require is None or self.unit_kind is None:
            raise ValueError(f"Question {self.id} has no strict-scoring fields (require, unit_kind"
                             f"{', require_after_update' if after_update else ''}): add them to questions.jsonl.")
        key = StrictKey.from_fields(require, self.unit_kind, self.entity, self.conflicts, where=self.id)
        return replace(key, allowed=stated_values(self.doc_ids, self.unit_kind, after_update))

    def gold(self, after_update: bool = False) -> tuple:
        """The accepted key facts, before or after the policy update."""
        return self.accept_after_update if after_update and self.changes_with_update else self.accept


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def parse_markdown(markdown: str, source: str = "<text>") -> Document:
    """One markdown file with a ``---`` front matter of ``key: value`` lines (``id`` and ``title`` required)."""
    match = FRONT_MATTER.match(markdown)
    if not match:
        raise ValueError(f"{source}: no front matter. Start the file with '---', lines 'id: ...' and "
                         "'title: ...', then '---'.")
    metadata = {}
    for line in match.group(1).splitlines():
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"{source}: front matter line {line!r} is not 'key: value'.")
            metadata[key.strip()] = value.strip()
    missing = [key for key in ("id", "title") if not metadata.get(key)]
    if missing:
        raise ValueError(f"{source}: front matter lacks {', '.join(missing)}.")
    text = markdown[match.end():].strip() + "\n"
    doc_id, title = metadata.pop("id"), metadata.pop("title")
    return Document(doc_id, title, text, metadata)


def load_documents(folder: Path | str) -> list[Document]:
    """Every ``*.md`` file in ``folder``, sorted by id; ids must be unique."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.md"))
    if not paths:
        raise ValueError(f"No markdown documents in {folder}: expected files like 'policy-warranty.md'.")
    documents = [parse_markdown(path.read_text(encoding="utf-8"), str(path)) for path in paths]
    ids = [d.id for d in documents]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"Duplicate document ids in {folder}: {', '.join(duplicates)}.")
    return sorted(documents, key=lambda d: d.id)


def load_knowledge_base(kb_dir: Path | str = KB_DIR) -> list[Document]:
    """Northwind's support documents as they were before the policy update (``docs/``)."""
    return load_documents(Path(kb_dir) / "docs")


def load_policy_update(kb_dir: Path | str = KB_DIR) -> list[Document]:
    """The newer versions of some documents (``updates/``), same ids as the ones they replace."""
    return load_documents(Path(kb_dir) / "updates")


def load_planted_documents(kb_dir: Path | str = KB_DIR) -> list[Document]:
    """Documents with planted instructions (``planted/``), for the prompt-injection experiment only."""
    return load_documents(Path(kb_dir) / "planted")


def apply_update(documents: list[Document], updates: list[Document]) -> list[Document]:
    """The knowledge base after an update: documents with an updated id are replaced, new ids are added."""
    merged = {d.id: d for d in documents}
    merged.update({d.id: d for d in updates})
    return sorted(merged.values(), key=lambda d: d.id)


def load_questions(split: str | None = None, kb_dir: Path | str = KB_DIR) -> list[Question]:
    """The evaluation questions (``questions.jsonl``), optionally only one split ("dev" or "test")."""
    path = Path(kb_dir) / "questions.jsonl"
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
                for key in ("doc_ids", "accept", "accept_after_update", "entity", "conflicts"):
                    if row.get(key) is not None:
                        row[key] = tuple(row[key])
                for key in ("require", "require_after_update"):
                    if row.get(key) is not None:
                        row[key] = tuple(tuple(fact) for fact in row[key])
                questions.append(Question(**row))
            except (json.JSONDecodeError, TypeError) as error:
                raise ValueError(f"{path}, line {number}: not a valid question ({error}).") from error
    if split is not None:
        if split not in {q.split for q in questions}:
            raise ValueError(f"Unknown split {split!r}: choose 'dev', 'test' or None for all questions.")
        questions = [q for q in questions if q.split == split]
    return questions


@lru_cache(maxsize=256)
def stated_values(doc_ids: tuple, kind: str, after_update: bool = False, kb_dir: Path | str = KB_DIR) -> tuple:
    """Values of ``kind`` stated in these knowledge-base documents (after the policy update, if asked)."""
    documents = load_knowledge_base(kb_dir)
    if after_update:
        documents = apply_update(documents, load_policy_update(kb_dir))
    by_id = {d.id: d for d in documents}
    return values_stated([by_id[i].text for i in doc_ids if i in by_id], kind)


# ---------------------------------------------------------------------------------------------
# Chunking
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def embedding_tokenizer(model_id: str | None = None):
    """The embedding model's own (fast) tokenizer, loaded without the model weights."""
    from transformers import AutoTokenizer

    from utils.core.models import EMBEDDED, EMBEDDER_ENV, resolve_model_id, verify_model

    model_id = resolve_model_id(model_id, EMBEDDER_ENV)
    return AutoTokenizer.from_pretrained(str(verify_model("minilm")) if model_id == EMBEDDED else model_id)


def split_sections(text: str) -> list[tuple[str, int, int]]:
    """``(heading, start, end)`` spans that tile ``text``; each section starts at its heading line.

    A heading with nothing under it (say a title directly followed by a subheading) joins the
    next section, so no chunk is a bare heading.
    """
    starts = [(m.start(), m.group(2)) for m in HEADING.finditer(text)]
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, ""))
    bounds = [s for s, _ in starts[1:]] + [len(text)]
    sections = []
    for (start, heading), end in zip(starts, bounds):
        if sections and not HEADING.sub("", text[sections[-1][1]:start]).strip():
            sections[-1] = (heading, sections[-1][1], end)   # the previous section was only a heading
        else:
            sections.append((heading, start, end))
    return sections


def _windows(line_starts: list[bool], word_starts: list[bool], size: int, overlap: int) -> list[tuple[int, int]]:
    """Token windows ``[i, j)`` of at most ``size`` tokens, overlapping by at least ``overlap``, covering all.

    Window edges move back (by at most a quarter window) to the start of a line, else of a word, so a
    table row or a sentence is not cut in the middle when it can be avoided.
    """
    n, reach = len(word_starts), max(1, size // 4)

    def snap(t: int, floor: int) -> int:    # a nearby boundary in (floor, t], else t itself
        for starts in (line_starts, word_starts):
            back = t
            while back > max(floor + 1, t - reach) and not starts[back]:
                back -= 1
            if back > floor and starts[back]:
                return back
        return t

    windows, start = [], 0
    while True:
        end = min(start + size, n)
        if end < n:
            end = snap(end, start)
        windows.append((start, end))
        if end >= n:
            return windows
        start = snap(max(end - overlap, start + 1), start)


def chunk_documents(documents: list[Document], chunk_tokens: int = 128, overlap_tokens: int = 32,
                    by_heading: bool = True, tokenizer=None) -> list[Chunk]:
    """Split documents into overlapping windows of ``chunk_tokens`` embedding-model tokens.

    ``by_heading=True`` chunks each markdown section separately (a heading starts a new chunk);
    ``False`` slides the window over the whole document. ``tokenizer`` defaults to the embedding
    model's; any Hugging Face *fast* tokenizer works (we need its character offsets).
    """
    if isinstance(documents, Document):
        raise TypeError("documents must be a list of Document; wrap a single one as [document].")
    if not documents:
        raise ValueError("No documents to chunk: the corpus is empty.")
    if not isinstance(chunk_tokens, int) or chunk_tokens <= 0:
        raise ValueError(f"chunk_tokens must be a positive integer, got {chunk_tokens!r}.")
    if not isinstance(overlap_tokens, int) or not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError(f"overlap_tokens must be between 0 and chunk_tokens - 1 ({chunk_tokens - 1}), "
                         f"got {overlap_tokens!r}.")
    tokenizer = tokenizer or embedding_tokenizer()
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("chunk_documents needs a fast tokenizer (character offsets); load it with use_fast=True.")
    chunks = []
    for document in documents:
        if not isinstance(document, Document):
            raise TypeError(f"Expected Document objects, got {type(document).__name__}; use load_documents().")
        sections = split_sections(document.text) if by_heading else [("", 0, len(document.text))]
        number = 0
        for heading, sec_start, sec_end in sections:
            # A whole section is longer than the embedder's 256-token input, on purpose: we only count and
            # cut tokens here, and each chunk we make fits. verbose=False drops the warning about it.
            encoding = tokenizer(document.text[sec_start:sec_end], add_special_tokens=False,
                                 return_offsets_mapping=True, verbose=False)
            offsets = encoding["offset_mapping"]                                  # (T, 2) char spans
            if not offsets:
                continue                                                          # whitespace only
            section = document.text[sec_start:sec_end]
            word_starts = [a == 0 or section[a - 1].isspace() for a, _ in offsets]
            line_starts = [a == 0 or not section[section.rfind("\n", 0, a) + 1:a].strip() for a, _ in offsets]
            for first, last in _windows(line_starts, word_starts, chunk_tokens, overlap_tokens):
                start, end = sec_start + offsets[first][0], sec_start + offsets[last - 1][1]
                chunks.append(Chunk(f"{document.id}#{number}", document.id, document.title,
                                    heading,
                                    document.text[start:end], start, end, last - first))
                number += 1
    return chunks
