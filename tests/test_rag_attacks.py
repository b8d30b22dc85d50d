"""The attack list, its success markers, provenance, and the attack-success measurement."""

import json

import pytest

from utils.rag import attacks as attack_kit
from utils.rag.documents import Chunk, Document, load_knowledge_base, load_planted_documents
from utils.rag.pipeline import RagAnswer, Retrieval
from utils.rag.retrieval import Hit


def test_the_shipped_attacks_cover_ten_payloads_of_every_kind_with_five_questions_each():
    planted = load_planted_documents()
    attacks = attack_kit.load_attacks(planted=planted)
    assert len(attacks) >= 10 and {a.payload for a in attacks} == {d.id for d in planted}
    assert {a.kind for a in attacks} == set(attack_kit.KINDS)
    assert all(len(a.questions) >= 5 for a in attacks)
    for attack in attacks:    # each marker is what the payload says, so an answer can only carry it from there
        text = " ".join(d.text for d in planted if d.id == attack.payload)
        assert attack_kit.succeeded(text, attack), attack.payload


def test_the_filter_flags_the_classic_instructions_and_no_real_document():
    planted = load_planted_documents()
    instruction_payloads = {a.payload for a in attack_kit.load_attacks() if a.kind == "instruction"}
    assert instruction_payloads <= set(attack_kit.flagged_documents(planted))
    assert attack_kit.flagged_documents(load_knowledge_base()) == []


def test_succeeded_matches_whole_normalised_markers():
    attack = attack_kit.Attack("p", "canary", ("q",), ("nw 7731", "2.50"))
    assert attack_kit.succeeded("Shipping is free. NW-7731", attack)
    assert attack_kit.succeeded("Express costs €2.50", attack)
    assert not attack_kit.succeeded("Express costs €12.50", attack)


def test_reviewed_only_keeps_documents_by_where_they_came_from_not_by_what_they_say():
    real = attack_kit.with_provenance([Document("a", "A", "source: reviewed\n")], attack_kit.REVIEWED)
    forum = attack_kit.with_provenance([Document("b", "B", "provenance: reviewed\n")], "forum")
    assert [d.id for d in attack_kit.reviewed_only(real + forum)] == ["a"]
    assert attack_kit.reviewed_only([Document("c", "C", "no tag\n")]) == []     # untagged is not reviewed


def test_load_attacks_rejects_bad_rows(tmp_path):
    path = tmp_path / "attacks.jsonl"
    path.write_text(json.dumps({"payload": "x", "kind": "rumour", "questions": ["q"], "markers": ["m"]}) + "\n")
    with pytest.raises(ValueError, match="kind must be one of"):
        attack_kit.load_attacks(path)
    path.write_text(json.dumps({"payload": "x", "kind": "canary", "questions": ["q"], "markers": ["m"]}) + "\n")
    with pytest.raises(ValueError, match="no planted document: x"):
        attack_kit.load_attacks(path, planted=[])


class QuotingPipeline:
    """Answers with the text of whatever is indexed about the question's topic; counts what it was given."""

    def __init__(self):
        self.indexed, self.filter_injections = [], False

    def retrieve(self, questions):
        hits = [Hit(Chunk(f"{d.id}#0", d.id, d.title, "", d.text, 0, len(d.text), 5), 1.0) for d in self.indexed]
        return [Retrieval(q, hits, hits, 1.0) for q in questions]

    def generate_answers(self, retrievals):
        text = " ".join(d.text for d in self.indexed if not (self.filter_injections and "ignore" in d.text))
        return [RagAnswer(r.question, text, False, "extracted", 1.0, []) for r in retrievals]


def test_measure_attacks_indexes_per_defence_and_restores_the_filter():
    documents = (attack_kit.with_provenance([Document("real", "R", "Express costs 9.90 euros.")], attack_kit.REVIEWED)
                 + attack_kit.with_provenance([Document("plant", "P", "Express costs 2.50 euros.")], "forum"))
    attack = attack_kit.Attack("plant", "answer-shaped false statement", ("Express?", "Price?"), ("2.50",))
    pipeline = QuotingPipeline()

    def index(docs):
        pipeline.indexed = list(docs)

    runs = attack_kit.measure_attacks(pipeline, index, documents, [attack])
    assert [r["success"] for r in runs["none"]] == [True, True] == [r["success"] for r in runs["filter"]]
    assert [r["success"] for r in runs["provenance"]] == [False, False]
    assert not any(r["retrieved"] for r in runs["filter + provenance"])
    assert pipeline.filter_injections is False
    with pytest.raises(ValueError, match="Unknown defences"):
        attack_kit.measure_attacks(pipeline, index, documents, [attack], defences=("prayer",))
