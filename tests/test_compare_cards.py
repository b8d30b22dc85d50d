"""Unit tests for utils.compare.answer_cards, card_classifier and card_prompts: the Northwind QA data, its wording guarantees, and the from-scratch classifier."""

import json

import pytest
import torch

from utils.compare import answer_cards, card_classifier, card_prompts
from utils.compare.answer_cards import (
    Card,
    accuracy,
    closest_paraphrases,
    labelled_examples,
    labelled_pairs,
    load_cards,
    load_held_out,
    score,
    select_questions,
    validate_card,
)
from utils.compare.card_classifier import BagOfNgrams, CardClassifier, HashedNgrams, train_card_classifier
from utils.rag.documents import load_questions


@pytest.fixture(scope="module")
def cards():
    return load_cards()


@pytest.fixture(scope="module")
def held_out(cards):
    return load_held_out(cards=cards)


def row(**changes) -> dict:
    base = {"id": "c1", "doc_id": "policy-warranty", "status": "unchanged", "answer": "It lasts 2 years.",
            "accept": ["2 year"], "answer_after_update": None, "accept_after_update": None,
            "train": ["how long is the warranty"], "val": "warranty length?"}
    return {**base, **changes}


TINY = [  # three cards with distinct words, so a tiny model can separate them
    Card("kettle", "d1", "unchanged", "Kettle answer 1.", ("1",), None, None,
         ("kettle boil water", "how hot kettle", "kettle tea temperature"), "kettle for tea"),
    Card("vacuum", "d2", "changed", "Vacuum answer 2.", ("2",), "Vacuum answer 5.", ("5",),
         ("vacuum battery charge", "robot vacuum runtime", "vacuum dust bin"), "robot vacuum battery"),
    Card("fridge", "d3", "added", None, None, "Fridge answer 3.", ("3",),
         ("fridge freezer litres", "fridge holiday mode", "freezer temperature"), "fridge holiday"),
]


# --- the data as committed -----------------------------------------------------------------------

def test_cards_load_with_unique_ids_and_every_status(cards):
    assert len(cards) >= 30
    assert len({c.id for c in cards}) == len(cards)
    assert {c.status for c in cards} == set(answer_cards.STATUSES)
    assert all(len(c.train) >= 3 for c in cards), "every card needs several training paraphrases"


def test_card_answers_pass_their_own_checks_before_and_after(cards):
    from utils.rag.scoring import is_correct

    for card in cards:
        for after in (False, True):
            if card.exists(after):
                assert is_correct(card.answer_for(after), card.accept_for(after)), card.id
        if card.status == "changed":  # the old answer must be wrong after the update, or freshness is unmeasurable
            assert not is_correct(card.answer_for(False), card.accept_for(True)), card.id


def test_card_answers_pass_the_strict_scorer_and_stale_ones_fail(cards):
    from utils.rag.scoring import is_correct_strict

    for card in cards:
        for after in (False, True):
            if card.exists(after):
                assert is_correct_strict(card.answer_for(after), card.strict_key(after)), card.id
        if card.status == "changed":
            assert not is_correct_strict(card.answer_for(False), card.strict_key(True)), card.id


def test_held_out_questions_agree_with_the_knowledge_base(cards, held_out):
    kb = {q.id: q for q in load_questions()}
    by_id = answer_cards.cards_by_id(cards)
    assert {t.card_id for t in held_out} == set(by_id), "every card is tested at least once"
    for test in held_out:
        card = by_id[test.card_id]
        if not test.source.startswith("kb:"):
            continue
        question = kb[test.source[3:]]
        assert question.split == "test", f"{question.id} is a dev question: RAG was tuned on those"
        assert test.question == question.question
        assert card.doc_id in question.doc_ids
        assert card.changes_with_update == question.changes_with_update, card.id
        assert set(card.accept_for(False)) == set(question.accept), card.id
        if question.changes_with_update:
            assert set(card.accept_for(True)) == set(question.accept_after_update), card.id


def test_test_wording_differs_from_every_training_paraphrase(cards, held_out):
    """The README's promise: no test question is a paraphrase, and none shares more than 0.6 of its words."""
    for test, closest, overlap in closest_paraphrases(held_out, cards):
        assert test.question.lower() != closest.lower()
        assert overlap <= 0.6, f"{test.question!r} is too close to the paraphrase {closest!r} ({overlap:.2f})"


def test_select_questions_and_counts(cards, held_out):
    before = select_questions(held_out, cards)
    after = select_questions(held_out, cards, after_update=True)
    changed = select_questions(held_out, cards, after_update=True, changed_only=True)
    added = [c.id for c in cards if c.status == "added"]
    assert len(after) == len(held_out) and len(before) == len(held_out) - sum(t.card_id in added for t in held_out)
    assert all(answer_cards.cards_by_id(cards)[t.card_id].changes_with_update for t in changed)
    assert labelled_examples(cards) == sum(len(c.train) + 1 for c in cards if c.status != "added")
    assert labelled_examples(cards, True) == sum(len(c.train) + 1 for c in cards)
    assert len(labelled_pairs(cards, "val")) == len([c for c in cards if c.status != "added"])


# --- validation and errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, words", [
    ({"status": "moved"}, "status 'moved'"),
    ({"train": []}, "train must be a non-empty list"),
    ({"val": " "}, "val must be a non-empty string"),
    ({"status": "changed"}, "needs an answer before the update and an answer after"),
    ({"status": "added"}, "needs no answer before"),
    ({"answer": "It lasts 3 years."}, "contains none of"),
    ({"accept": []}, "non-empty list of key facts"),
])
def test_validate_card_explains_what_is_wrong(changes, words):
    with pytest.raises(ValueError, match=words):
        validate_card(row(**changes))


def test_validate_card_rejects_missing_fields_and_non_objects():
    bad = row()
    del bad["accept"]
    with pytest.raises(ValueError, match="lacks accept"):
        validate_card(bad)
    with pytest.raises(TypeError, match="JSON object"):
        validate_card(["not", "a", "dict"])


def test_an_added_card_has_no_answer_before_the_update():
    with pytest.raises(ValueError, match="added by the policy update"):
        TINY[2].answer_for(after_update=False)
    assert TINY[2].answer_for(True) == "Fridge answer 3." and TINY[1].accept_for(True) == ("5",)
    assert TINY[0].answer_for(True) == TINY[0].answer_for(False)


def write(folder, cards_rows, test_rows):
    (folder / "cards.jsonl").write_text("\n".join(json.dumps(r) for r in cards_rows) + "\n")
    (folder / "test.jsonl").write_text("\n".join(json.dumps(r) for r in test_rows) + "\n")
    return folder


@pytest.mark.parametrize("test_row, words", [
    ({"card_id": "nope", "question": "q?"}, "not a card"),
    ({"card_id": "c1"}, "either 'kb_question'"),
    ({"card_id": "c1", "kb_question": "q001", "question": "both?"}, "either 'kb_question'"),
    ({"card_id": "c1", "kb_question": "q999"}, "not a question id"),
    ({"card_id": "c1", "question": "  "}, "empty"),
])
def test_load_held_out_rejects_bad_rows(tmp_path, test_row, words):
    folder = write(tmp_path, [row()], [test_row])
    with pytest.raises(ValueError, match=words):
        load_held_out(folder)


def test_loaders_reject_duplicates_broken_json_and_missing_files(tmp_path):
    write(tmp_path, [row(), row()], [])
    with pytest.raises(ValueError, match="Duplicate card ids"):
        load_cards(tmp_path)
    (tmp_path / "cards.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        load_cards(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_cards(tmp_path / "nowhere")


def test_score_and_accuracy():
    tests = [answer_cards.HeldOutQuestion("t1", "vacuum", "battery?", "handwritten"),
             answer_cards.HeldOutQuestion("t2", "kettle", "tea?", "handwritten")]
    assert score(["It is 2.", "no idea"], tests, TINY) == [True, False]
    assert score(["It is 5.", "1"], tests, TINY, after_update=True) == [True, True]
    assert accuracy(["It is 2.", "1 minute"], tests, TINY) == 1.0
    with pytest.raises(ValueError, match="one answer per question"):
        score(["only one"], tests, TINY)
    with pytest.raises(TypeError, match="list of strings"):
        score("It is 2.", tests, TINY)
    with pytest.raises(ValueError, match="Unknown split"):
        labelled_pairs(TINY, "test")


def test_wording_overlap():
    assert answer_cards.wording_overlap("How long is it?", "how long IS it") == 1.0
    assert answer_cards.wording_overlap("a b", "c d") == 0.0
    assert answer_cards.wording_overlap("a b c d", "a b") == 0.5


# --- features and model ----------------------------------------------------------------------------------

def test_ngram_features_hold_words_bigrams_and_character_ngrams():
    features = card_classifier.ngram_features("Descale AB300", word_ngrams=2, char_ngrams=(3, 3))
    assert "w1:descale" in features and "w1:ab300" in features and "w2:descale ab300" in features
    assert "c:<de" in features and "c:00>" in features
    assert not any(f.startswith("w3:") for f in features)


def test_hashed_ngrams_are_stable_across_processes_and_padded():
    featurizer = HashedNgrams(buckets=1024)
    # Python's own hash() changes with every process (PYTHONHASHSEED); crc32 gives these ids everywhere,
    # which is what lets a saved classifier be reloaded by the serving process.
    assert featurizer.ids("Tank?") == [34, 401, 289, 18, 438, 729, 802, 335, 59, 346]
    ids = featurizer.ids("warranty length?")
    assert all(1 <= i < 1024 for i in ids)
    batch = featurizer.encode(["warranty length?", "a"])
    assert batch.shape == (2, len(ids)) and batch.dtype == torch.long
    assert (batch[1, len(featurizer.ids("a")):] == card_classifier.PAD).all()


@pytest.mark.parametrize("texts, error", [([], ValueError), ("one question", TypeError), ([""], ValueError)])
def test_hashed_ngrams_reject_bad_input(texts, error):
    with pytest.raises(error):
        HashedNgrams(buckets=64).encode(texts)


def test_bag_of_ngrams_shapes_and_padding_does_not_count():
    torch.manual_seed(0)
    model = BagOfNgrams(num_classes=3, buckets=64, dim=8, hidden=16).eval()
    ids = torch.tensor([[5, 7, 9]])                                                     # (1, 3)
    padded = torch.tensor([[5, 7, 9, 0, 0]])                                            # (1, 5)
    assert model(ids).shape == (1, 3)
    assert torch.allclose(model(ids), model(padded)), "padding must not change the mean of the n-grams"
    with pytest.raises(ValueError, match="at least 2"):
        BagOfNgrams(num_classes=1)


def test_train_card_classifier_learns_tiny_cards_and_relabels(tmp_path):
    featurizer = HashedNgrams(buckets=512)
    clf, history = train_card_classifier(TINY, featurizer=featurizer, dim=16, hidden=16, epochs=40, lr=2e-2,
                                         batch_size=4, patience=None, seed=0)
    assert clf.card_ids == ["kettle", "vacuum"], "the added card does not exist before the update"
    assert history.epochs_run == 40 and torch.get_num_threads() >= 1
    assert clf.predict_cards(["kettle tea", "vacuum battery"]) == ["kettle", "vacuum"]
    assert clf.answer(["robot vacuum"]) == ["Vacuum answer 2."]
    assert clf.unknown_cards(TINY, after_update=True) == ["fridge"]

    assert clf.relabel(TINY, after_update=True) == ["vacuum"]   # a changed answer: no retraining needed
    assert clf.answer(["robot vacuum"]) == ["Vacuum answer 5."]

    clf.save(tmp_path)
    again = CardClassifier.load(tmp_path)
    questions = ["kettle tea", "vacuum dust", "fridge"]
    assert again.answer(questions) == clf.answer(questions)
    assert again.featurizer == featurizer

    after, _ = train_card_classifier(TINY, after_update=True, featurizer=featurizer, dim=16, hidden=16, epochs=40,
                                     lr=2e-2, batch_size=4, patience=None, seed=0)
    assert after.card_ids == ["kettle", "vacuum", "fridge"] and after.unknown_cards(TINY, True) == []


def test_training_is_deterministic():
    kwargs = dict(featurizer=HashedNgrams(buckets=256), dim=8, hidden=8, epochs=5, batch_size=2, seed=3)
    a, _ = train_card_classifier(TINY, **kwargs)
    b, _ = train_card_classifier(TINY, **kwargs)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_train_card_classifier_needs_two_cards():
    with pytest.raises(ValueError, match="at least two cards"):
        train_card_classifier(TINY[:1], epochs=1)


def test_card_classifier_checks_its_card_ids():
    with pytest.raises(ValueError, match="3 outputs but 2 card ids"):
        CardClassifier(BagOfNgrams(3, buckets=16, dim=4, hidden=4), HashedNgrams(16), ["a", "b"], {})


# --- the same pairs for the LLM ---------------------------------------------------------------------------

class ChatTokenizer:
    """Just enough of a tokenizer for chat_prompt: a template and apply_chat_template."""
    chat_template = "plain"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def test_finetune_pairs_pair_prompts_with_answers_of_that_time():
    pairs = card_prompts.finetune_pairs(ChatTokenizer(), TINY, "train", after_update=True, only=["vacuum", "fridge"])
    assert len(pairs) == 6
    assert pairs[0] == (f"<system>{card_prompts.QA_SYSTEM}<user>vacuum battery charge<assistant>", "Vacuum answer 5.")
    assert pairs[-1][1] == "Fridge answer 3."
    before = card_prompts.finetune_pairs(ChatTokenizer(), TINY, "val")
    assert [a for _, a in before] == ["Kettle answer 1.", "Vacuum answer 2."]
    with pytest.raises(ValueError, match="Unknown card ids"):
        card_prompts.finetune_pairs(ChatTokenizer(), TINY, only=["toaster"])


def test_update_pairs_mix_new_answers_with_replay():
    pairs = card_prompts.update_pairs(ChatTokenizer(), TINY, replay=1 / 3, seed=0)
    answers = [a for _, a in pairs]
    assert answers[:6] == ["Vacuum answer 5."] * 3 + ["Fridge answer 3."] * 3, "changed and added cards, new answers"
    assert answers[6:] == ["Kettle answer 1."] * 2, "plus a third as many replayed unchanged pairs"
    assert card_prompts.update_pairs(ChatTokenizer(), TINY, replay=1 / 3, seed=0) == pairs
    assert len(card_prompts.update_pairs(ChatTokenizer(), TINY, replay=0)) == 6
    with pytest.raises(ValueError, match="replay"):
        card_prompts.update_pairs(ChatTokenizer(), TINY, replay=-1)
    with pytest.raises(ValueError, match="nothing to retrain"):
        card_prompts.update_pairs(ChatTokenizer(), TINY[:1])
