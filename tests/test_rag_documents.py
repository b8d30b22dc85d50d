"""Knowledge base, questions and chunking (utils.rag.documents)."""

import pytest

from utils.rag.documents import (
    Chunk,
    Document,
    _windows,
    apply_update,
    chunk_documents,
    embedding_tokenizer,
    load_documents,
    load_knowledge_base,
    load_planted_documents,
    load_policy_update,
    load_questions,
    parse_markdown,
    split_sections,
)
from utils.rag.scoring import is_correct, is_correct_strict, normalize_answer

DOC_TEXT = """---
id: demo
title: Demo manual
type: manual
---
# Demo manual

Intro line about the demo appliance.

## Specifications

| Feature | Value |
|---|---|
| Weight | 4.2 kg |

## Cleaning

Wipe it with a damp cloth. Never use vinegar, it damages the seals. Descale every 3 months.
"""


@pytest.fixture(scope="module")
def tokenizer():
    return embedding_tokenizer()


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def test_parse_markdown_reads_front_matter():
    doc = parse_markdown(DOC_TEXT)
    assert (doc.id, doc.title, doc.metadata) == ("demo", "Demo manual", {"type": "manual"})
    assert doc.text.startswith("# Demo manual") and "---" not in doc.text.splitlines()[0]


@pytest.mark.parametrize("text, message", [("# no front matter\n", "no front matter"),
                                           ("---\ntitle: x\n---\nbody\n", "lacks id"),
                                           ("---\nid x\n---\nbody\n", "not 'key: value'")])
def test_parse_markdown_rejects_bad_front_matter(text, message):
    with pytest.raises(ValueError, match=message):
        parse_markdown(text)


def test_load_documents_rejects_empty_folder_and_duplicate_ids(tmp_path):
    with pytest.raises(ValueError, match="No markdown documents"):
        load_documents(tmp_path)
    (tmp_path / "a.md").write_text(DOC_TEXT)
    (tmp_path / "b.md").write_text(DOC_TEXT)
    with pytest.raises(ValueError, match="Duplicate document ids"):
        load_documents(tmp_path)


def test_fingerprint_follows_content():
    doc = parse_markdown(DOC_TEXT)
    same = parse_markdown(DOC_TEXT)
    changed = Document(doc.id, doc.title, doc.text.replace("4.2", "4.3"), doc.metadata)
    assert doc.fingerprint == same.fingerprint != changed.fingerprint


def test_knowledge_base_is_big_enough_and_described(kb):
    assert len(kb) >= 30
    assert len({d.id for d in kb}) == len(kb)
    assert all(d.metadata.get("type") and d.metadata.get("version") for d in kb)
    assert {"manual", "troubleshooting", "policy", "release-notes"} <= {d.metadata["type"] for d in kb}


def test_policy_update_replaces_existing_documents_with_new_versions(kb):
    updates = load_policy_update()
    old = {d.id: d for d in kb}
    assert updates and all(u.id in old and u.text != old[u.id].text for u in updates)
    assert all(u.metadata["version"] > old[u.id].metadata["version"] for u in updates)
    merged = {d.id: d for d in apply_update(kb, updates)}
    assert len(merged) == len(kb) and all(merged[u.id] is u for u in updates)


def test_planted_document_is_kept_out_of_the_knowledge_base(kb):
    planted = load_planted_documents()
    assert planted and not {d.id for d in planted} & {d.id for d in kb}


def test_questions_cover_the_issue_and_point_at_real_documents(kb):
    questions = load_questions()
    ids = {d.id for d in kb}
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 60 and len(questions) - len(answerable) >= 10
    assert sum(q.changes_with_update for q in questions) >= 8
    assert {q.split for q in questions} == {"dev", "test"}
    assert len({q.id for q in questions}) == len(questions)
    for q in answerable:
        assert q.doc_ids and set(q.doc_ids) <= ids, q.id
    assert all(not q.doc_ids and not q.accept for q in questions if not q.answerable)


def test_every_gold_key_fact_is_stated_in_its_documents(kb):
    """A gold answer no document states would be a test of the model's imagination, not of RAG."""
    docs = {d.id: d for d in kb}
    updated = {d.id: d for d in apply_update(kb, load_policy_update())}
    for q in load_questions():
        if not q.answerable:
            continue
        text = " ".join(f"{docs[i].title} {docs[i].text}" for i in q.doc_ids)
        assert is_correct(text, q.accept), f"{q.id}: none of {q.accept} is in {q.doc_ids}"
        if q.changes_with_update:
            new_text = " ".join(f"{updated[i].title} {updated[i].text}" for i in q.doc_ids)
            assert is_correct(new_text, q.gold(after_update=True)), q.id
            assert q.gold(after_update=True) != q.accept, q.id


def test_every_strict_fact_is_stated_in_its_documents_and_in_the_gold_answer(kb):
    """The strict scorer's fields (value with unit, entity) are checked against the same documents."""
    docs = {d.id: d for d in kb}
    updated = {d.id: d for d in apply_update(kb, load_policy_update())}
    for q in load_questions():
        if not q.answerable:
            continue
        for after in (False, True) if q.changes_with_update else (False,):
            key = q.strict_key(after)                  # raises, naming the question, if a field is missing
            source = updated if after else docs
            text = f" {normalize_answer(' '.join(f'{source[i].title} {source[i].text}' for i in q.doc_ids))} "
            gold = q.answer_after_update if after else q.answer
            for fact in key.require:
                assert any(f" {normalize_answer(a)} " in text for a in fact), f"{q.id}: {fact} not in {q.doc_ids}"
            assert is_correct_strict(gold, key, q.question), f"{q.id}: the gold answer {gold!r} fails strict scoring"
        assert not set(q.entity) & set(q.conflicts), f"{q.id}: an entity is also listed as a conflict"


def test_load_questions_by_split():
    dev, test = load_questions("dev"), load_questions("test")
    assert dev and test and {q.split for q in dev} == {"dev"}
    assert len(dev) + len(test) == len(load_questions())
    with pytest.raises(ValueError, match="Unknown split"):
        load_questions("train")


def test_split_sections_tiles_the_text_and_merges_bare_headings():
    text = parse_markdown(DOC_TEXT).text
    sections = split_sections(text)
    assert [h for h, _, _ in sections] == ["Demo manual", "Specifications", "Cleaning"]
    assert sections[0][1] == 0 and sections[-1][2] == len(text)
    assert all(a[2] == b[1] for a, b in zip(sections, sections[1:]))
    bare = "# Title\n\n## Part\n\nBody.\n"
    assert [h for h, _, _ in split_sections(bare)] == ["Part"]         # the bare title joins "Part"


def test_windows_step_by_size_minus_overlap_when_every_token_starts_a_word():
    starts = [True] * 10
    assert _windows(starts, starts, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert _windows(starts[:3], starts[:3], 4, 1) == [(0, 3)]


@pytest.mark.parametrize("by_heading", [True, False])
@pytest.mark.parametrize("size, overlap", [(8, 2), (16, 4), (64, 16)])
def test_chunking_loses_no_text_and_respects_sizes(kb, tokenizer, by_heading, size, overlap):
    docs = kb[:6]
    chunks = chunk_documents(docs, size, overlap, by_heading=by_heading, tokenizer=tokenizer)
    assert all(isinstance(c, Chunk) and 0 < c.n_tokens <= size for c in chunks)
    for doc in docs:
        mine = [c for c in chunks if c.doc_id == doc.id]
        assert [c.chunk_id for c in mine] == [f"{doc.id}#{i}" for i in range(len(mine))]
        covered = [False] * len(doc.text)
        for c in mine:
            assert doc.text[c.start:c.end] == c.text
            covered[c.start:c.end] = [True] * (c.end - c.start)
        lost = "".join(ch for ch, ok in zip(doc.text, covered) if not ok and not ch.isspace())
        assert lost == "", f"{doc.id} lost {lost!r}"


def test_consecutive_chunks_overlap_by_at_least_the_overlap(tokenizer):
    words = " ".join(f"w{i}" for i in range(200))            # "w12" is 2 tokens, always a word start
    doc = Document("plain", "Plain", words + "\n")
    chunks = chunk_documents([doc], 20, 6, tokenizer=tokenizer)
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:]):
        assert a.start < b.start < a.end <= b.end
        shared = len(tokenizer(doc.text[b.start:a.end], add_special_tokens=False).input_ids)
        assert shared >= 6, f"{a.chunk_id} and {b.chunk_id} share only {shared} tokens"


def test_heading_aware_chunks_never_cross_a_heading(tokenizer):
    doc = parse_markdown(DOC_TEXT)
    for c in chunk_documents([doc], 64, 8, by_heading=True, tokenizer=tokenizer):
        assert "\n#" not in c.text, c.text
    whole = chunk_documents([doc], 256, 8, by_heading=False, tokenizer=tokenizer)
    assert len(whole) == 1 and whole[0].text.strip() == doc.text.strip()


def test_passage_carries_title_and_heading_and_drops_table_rules(tokenizer):
    chunks = chunk_documents([parse_markdown(DOC_TEXT)], 64, 8, tokenizer=tokenizer)
    spec = next(c for c in chunks if c.heading == "Specifications")
    assert spec.passage.startswith("Demo manual › Specifications\n")
    assert "|---|" not in spec.passage and "| Weight | 4.2 kg |" in spec.passage


def test_chunk_documents_rejects_bad_input(tokenizer):
    doc = parse_markdown(DOC_TEXT)
    with pytest.raises(ValueError, match="corpus is empty"):
        chunk_documents([], tokenizer=tokenizer)
    with pytest.raises(TypeError, match="wrap a single one"):
        chunk_documents(doc, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="chunk_tokens"):
        chunk_documents([doc], 0, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_documents([doc], 16, 16, tokenizer=tokenizer)
    with pytest.raises(TypeError, match="Document objects"):
        chunk_documents(["just a string"], tokenizer=tokenizer)
