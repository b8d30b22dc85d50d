"""The knowledge checks: every notebook's questions, their verdicts, the errors, the text and the widgets."""

import re

import pytest

from utils.core.paths import NOTEBOOKS_DIR
from utils.course import knowledge
from utils.course.knowledge import (
    Choice,
    KnowledgeCheckPanel,
    Number,
    check_answer,
    check_answers,
    knowledge_check,
    questions_for,
    questions_text,
)
from utils.course.knowledge_checks import QUESTIONS

NOTEBOOK_KEYS = sorted(path.name[:2] for path in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
ALL = [(key, n, q) for key in QUESTIONS for n, q in enumerate(QUESTIONS[key], start=1)]
IDS = [f"{key}-q{n}" for key, n, _ in ALL]


def test_every_notebook_has_three_to_five_questions():
    assert sorted(QUESTIONS) == NOTEBOOK_KEYS
    for key, questions in QUESTIONS.items():
        assert 3 <= len(questions) <= 5, f"notebook {key} has {len(questions)} questions"
        assert all(isinstance(q, (Choice, Number)) for q in questions)


def test_every_notebook_asks_for_at_least_one_number():
    assert all(any(isinstance(q, Number) for q in questions) for questions in QUESTIONS.values())


@pytest.mark.parametrize("key, number, question", ALL, ids=IDS)
def test_the_right_answer_is_judged_right_and_every_other_choice_wrong(key, number, question):
    assert question.explanation.strip() and question.prompt.strip()
    if isinstance(question, Choice):
        assert check_answer(key, number, question.answer).right
        assert check_answer(key, number, question.answer.upper()).right, "letters are case-insensitive"
        for letter in question.letters:
            if letter != question.answer:
                verdict = check_answer(key, number, letter)
                assert verdict.status == "wrong" and question.explanation in verdict.text()
        assert len(set(question.options)) == len(question.options), "two options read the same"
    else:
        assert check_answer(key, number, question.answer).right
        assert check_answer(key, number, str(question.answer)).right, "a number typed as text counts too"
        assert check_answer(key, number, question.answer + question.tolerance).right
        for wrong in (question.answer + 2 * question.tolerance + 1e-3 * max(1, abs(question.answer)),
                      question.answer * 10 + 1):
            assert check_answer(key, number, wrong).status == "wrong"


def test_a_number_question_accepts_thousands_separators():
    question = Number("How many?", 9216, 0, "Because.")
    assert question.parse("9,216") == question.parse(" 9216 ") == question.parse("9_216") == 9216.0


def test_missing_and_none_answers_are_not_answered_yet():
    verdicts = check_answers("02", {1: "a", 3: None})
    assert [v.number for v in verdicts] == list(range(1, len(QUESTIONS["02"]) + 1))
    assert verdicts[0].right
    assert all(v.status == "not answered yet" for v in verdicts[1:])
    assert verdicts[2].text() == "Question 3: not answered yet."


@pytest.mark.parametrize("notebook", ["02", 2, "02_custom_cnn", "02_custom_cnn.ipynb"])
def test_a_notebook_can_be_named_several_ways(notebook):
    assert questions_for(notebook) is QUESTIONS["02"]


@pytest.mark.parametrize("notebook", ["07", "lora", 7, None, "2"])
def test_an_unknown_notebook_names_the_ones_that_exist(notebook):
    with pytest.raises(ValueError, match=r"No knowledge check for notebook .*choose one of '00', '01'"):
        knowledge_check(notebook)


@pytest.mark.parametrize("number", [0, 6, -1, "x", 1.5, True])
def test_a_question_number_out_of_range_says_which_exist(number):
    with pytest.raises(ValueError, match=r"Notebook 02 has questions 1 to 5; there is no question"):
        check_answers("02", {number: "a"})


def test_an_answer_that_is_not_a_choice_lists_the_letters():
    key, number = next((k, n) for k, n, q in ALL if isinstance(q, Choice) and len(q.options) == 3)
    for bad in ("d", "yes", 2, ["a"]):
        with pytest.raises(ValueError, match=rf"Question {number} of notebook {key} takes one of the letters a, b, c"):
            check_answer(key, number, bad)


def test_a_non_number_for_a_number_question_says_a_number_is_needed():
    key, number = next((k, n) for k, n, q in ALL if isinstance(q, Number))
    for bad in ("many", "1e999", float("nan"), True, [3]):
        with pytest.raises(ValueError, match=rf"Question {number} of notebook {key} takes a number, e\.g\. 12 or 0\.5"):
            check_answer(key, number, bad)


def test_answers_must_be_a_dict():
    with pytest.raises(ValueError, match=r"answers must be a dict of question number -> answer"):
        knowledge_check("01", ["a", "b"])


def test_badly_built_questions_are_refused():
    with pytest.raises(ValueError, match="answer must be one of the letters a, b"):
        Choice("Which?", ("one", "two"), "c", "Because.")
    with pytest.raises(ValueError, match="explanation must be non-empty"):
        Choice("Which?", ("one", "two"), "a", " ")
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        Number("How many?", 3, -1, "Because.")


def test_headless_the_questions_are_printed_and_nothing_is_returned(capsys):
    assert knowledge_check("02") is None
    printed = capsys.readouterr().out
    assert printed.startswith("Knowledge check, notebook 02: 5 questions")
    for question in QUESTIONS["02"]:
        assert question.prompt.split()[0] in printed
    assert 'knowledge_check("02", {1: None, 2: None, 3: None, 4: None, 5: None})' in printed
    assert not re.search(r"(RadioButtons|VBox|Button|HTML)\(", printed)
    assert all(len(line) <= knowledge.WIDTH + 20 for line in printed.splitlines()[:-2])


def test_answers_in_code_print_a_verdict_each_and_return_nothing(capsys):
    first = QUESTIONS["03"][0]
    assert knowledge_check("03", {1: first.answer, 2: None}) is None
    printed = capsys.readouterr().out
    assert printed.startswith("Question 1: right.")
    assert "Question 2: not answered yet." in printed
    assert printed.rstrip().endswith("1 of 5 right, 4 not answered yet.")


def test_a_wrong_answer_shows_the_right_one_and_the_explanation():
    question = QUESTIONS["03"][0]
    text = check_answer("03", 1, 4608).text()
    assert text.startswith("Question 1: wrong: you answered 4,608; the answer is 9,216.")
    choice = check_answer("02", 4, "c").text()
    assert choice.startswith('Question 4: wrong: you answered c; the answer is b, "Validation chooses;')
    assert question.explanation in text


def test_the_widgets_are_built_and_the_check_button_gives_the_verdict():
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    panel = KnowledgeCheckPanel("03")
    questions = QUESTIONS["03"]
    assert len(panel.inputs) == len(panel.buttons) == len(panel.feedback) == len(questions)
    for field, question in zip(panel.inputs, questions):
        assert isinstance(field, w.RadioButtons if isinstance(question, Choice) else w.Text)
        assert field.value in (None, "")
    panel.buttons[0].click()
    assert "Not answered yet" in panel.feedback[0].value
    panel.inputs[0].value = "not a number"
    panel.buttons[0].click()
    assert "Type a number" in panel.feedback[0].value
    panel.inputs[0].value = "4608"
    panel.buttons[0].click()
    assert "Not quite" in panel.feedback[0].value and "9,216" in panel.feedback[0].value
    panel.inputs[0].value = "9,216"
    panel.buttons[0].click()
    assert "Right." in panel.feedback[0].value
    choice = next(i for i, q in enumerate(questions) if isinstance(q, Choice))
    wrong = next(letter for letter in questions[choice].letters if letter != questions[choice].answer)
    panel.inputs[choice].value = wrong
    panel.buttons[choice].click()
    assert "Not quite" in panel.feedback[choice].value
    panel.inputs[choice].value = questions[choice].answer
    assert panel.check(choice + 1).right and "Right." in panel.feedback[choice].value


def test_the_displayed_widgets_fall_back_to_the_questions_as_text():
    pytest.importorskip("ipywidgets")
    bundle = KnowledgeCheckPanel("00")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == questions_text("00")


def test_in_a_kernel_the_panel_is_displayed_instead_of_printed(monkeypatch, capsys):
    pytest.importorskip("ipywidgets")
    import IPython.display

    shown = []
    monkeypatch.setattr(knowledge, "_live_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    assert knowledge_check("01") is None
    assert capsys.readouterr().out == ""
    assert len(shown) == 1 and isinstance(shown[0], KnowledgeCheckPanel)


def test_outside_a_kernel_no_widgets_are_used():
    assert knowledge._live_kernel() is False
