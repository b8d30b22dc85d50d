"""Knowledge-base curation at sync time (utils.rag.curation): the faults, the four metadata rules, the measure."""

import json
from types import SimpleNamespace

import pytest

from utils.rag import curation
from utils.rag.documents import Document, apply_update, load_knowledge_base, load_policy_update, load_questions
from utils.rag.scoring import normalize_answer

TODAY = "2025-03-15"


def doc(doc_id, title="T", text="text\n", **metadata):
    return Document(doc_id, title, text, {"type": "policy", "version": "2024-01", "effective": "2024-01-01",
                                          **metadata})


@pytest.fixture(scope="module")
def kb():
    before, updates = load_knowledge_base(), load_policy_update()
    questions = load_questions()
    faults, faulty = curation.load_faults(questions)
    return SimpleNamespace(before=before, updates=updates, current=apply_update(before, updates),
                           questions=questions, faults=faults, faulty=faulty)


def test_the_faults_cover_the_update_a_contradiction_and_a_silent_edit(kb):
    kinds = {f.kind: f for f in kb.faults}
    assert set(kinds) == set(curation.KINDS)
    assert len(kinds["stale duplicate"].wrong) == sum(q.changes_with_update for q in kb.questions) == 31
    assert {d.id for d in kb.faulty} == {i for f in kb.faults for i in f.documents}


def test_every_wrong_marker_is_stated_in_its_faulty_document_and_not_in_the_true_source(kb):
    by_id, real = {d.id: d for d in kb.faulty}, {d.id: normalize_answer(d.text) for d in kb.current}
    questions = {q.id: q for q in kb.questions}
    for fault in kb.faults[1:]:
        text = " " + " ".join(normalize_answer(by_id[i].text) for i in fault.documents) + " "
        for qid, markers in fault.wrong.items():
            assert any(f" {m} " in text for m in markers), (qid, markers)
            source = " " + " ".join(real[i] for i in questions[qid].doc_ids) + " "
            assert not any(f" {m} " in source for m in markers), (qid, markers)


def test_stale_copies_keep_the_old_text_under_a_versioned_id(kb):
    copies = curation.stale_copies(kb.before, kb.updates)
    assert {c.id for c in copies} == {f"{u.id}-{old.metadata['version']}" for u in kb.updates
                                      for old in kb.before if old.id == u.id}
    old = {d.id: d for d in kb.before}
    assert all(c.text == old[c.id.rsplit("-", 2)[0]].text for c in copies)


def test_stale_copies_need_the_pre_update_documents():
    with pytest.raises(ValueError, match="pre-update version of policy-x"):
        curation.stale_copies([], [doc("policy-x")])
    with pytest.raises(ValueError, match="no 'version'"):
        curation.stale_copies([Document("p", "T", "x\n", {})], [doc("p")])


def test_curation_fixes_the_careless_sync_and_leaves_the_clean_knowledge_base_alone(kb):
    incoming = curation.faulty_sync(kb.current, kb.faulty, curation.stale_copies(kb.before, kb.updates))
    assert len(incoming) == len(kb.current) + 5          # 4 stale copies + the leaflet; the edit replaced its id
    result = curation.curate(incoming, kb.current, TODAY)
    assert [d.id for d in result.documents] == [d.id for d in kb.current]
    assert [d.text for d in result.documents] == [d.text for d in kb.current]
    assert set(result.held) == {"manual-silentvac-r10"} and len(result.dropped) == 5
    clean = curation.curate(kb.current, kb.current, TODAY)
    assert clean.dropped == {} and clean.held == {}, "a rule fires on the real knowledge base"


def test_each_rule_on_its_own():
    future = curation.curate([doc("a", effective="2026-01-01")], [], TODAY)
    assert future.documents == [] and "not effective until 2026-01-01" in future.dropped["a"]
    forum = curation.curate([doc("a", source="forum")], [], TODAY)
    assert forum.documents == [] and "source 'forum'" in forum.dropped["a"]
    dup = curation.curate([doc("old"), doc("new", version="2025-03", effective="2025-03-01")], [], TODAY)
    assert [d.id for d in dup.documents] == ["new"] and "superseded by new" in dup.dropped["old"]
    indexed = [doc("a", text="true\n")]
    held = curation.curate([doc("a", text="false\n")], indexed, TODAY)
    assert held.documents == indexed and "held for review" in held.held["a"]
    bumped = curation.curate([doc("a", text="false\n", version="2024-02")], indexed, TODAY)
    assert bumped.documents[0].text == "false\n" and not bumped.held, "a new version passes: rule 4 is no fact check"
    assert "dropped 0, held 1" in held.summary()


def test_curate_refuses_a_date_that_is_not_iso():
    with pytest.raises(ValueError, match="ISO date like '2025-03-15'"):
        curation.curate([], [], "15/03/2025")


def test_load_faults_rejects_bad_files(tmp_path, kb):
    with pytest.raises(FileNotFoundError, match="faults.jsonl is missing"):
        curation.load_faults(kb.questions, tmp_path)
    (tmp_path / "quality").mkdir()
    bad = tmp_path / "quality" / "faults.jsonl"
    bad.write_text(json.dumps({"kind": "typo", "documents": [], "questions": {}}) + "\n")
    with pytest.raises(ValueError, match="line 1: kind must be one of"):
        curation.load_faults(kb.questions, tmp_path)
    bad.write_text(json.dumps({"kind": "contradiction", "documents": [], "questions": {"q999": ["x"]}}) + "\n")
    with pytest.raises(ValueError, match="do not exist: q999"):
        curation.load_faults(kb.questions, tmp_path)


def test_states_wrong_matches_whole_words():
    assert curation.states_wrong("It holds 300 litres.", ("300 litre",))
    assert not curation.states_wrong("It holds 1300 litres.", ("300 litre",))


def test_measure_faults_asks_each_question_under_each_condition(kb):
    indexed = []
    question = next(q for q in kb.questions if q.id == "q009")

    class Pipeline:   # answers from whatever was indexed last: the leaflet's number when it is there
        def answer(self, texts):
            said = "300 litres" if any(d.id.startswith("retailer") for d in indexed[-1]) else "320 litres"
            return [SimpleNamespace(text=said) for _ in texts]

    fault = curation.Fault("contradiction", ("retailer-leaflet-frostline-220",), {"q009": ("300 litre",)})
    rows = curation.measure_faults(Pipeline(), indexed.append, [fault], [question],
                                   {"clean": kb.current, "careless": kb.current + kb.faulty})
    assert [(r["condition"], r["wrong fact"], r["correct"]) for r in rows] == [("clean", False, True),
                                                                                ("careless", True, False)]
    with pytest.raises(ValueError, match="name none"):
        curation.measure_faults(Pipeline(), indexed.append, [], [question], {"clean": []})
