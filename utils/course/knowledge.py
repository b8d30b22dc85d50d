"""Knowledge checks: a few questions at the end of every notebook, answered in the notebook itself.

    from utils.course.knowledge import knowledge_check
    knowledge_check("02")                          # JupyterLab: radio buttons / a number box, and a Check button
    knowledge_check("02", {1: "b", 2: 4672})       # anywhere: right or wrong per question, and why

A question is multiple choice (``Choice``: lettered options, one right letter) or a number (``Number``: the
right value and a tolerance). Each carries an explanation of its answer: why it is right, and why the
tempting wrong answer is wrong. The questions themselves live in ``utils.course.knowledge_checks``.

``knowledge_check(notebook)`` without answers shows the questions. In a live Jupyter kernel they come as
ipywidgets; the output also carries the questions as plain text, which is what a notebook executed
headless (papermill, nbconvert) keeps and shows, so no widget's repr ever appears. Outside a kernel (plain
Python) it prints them. With answers it prints a verdict per question; ``None`` means "not answered yet".
Both forms return None, so a cell that ends with the call shows no stray value.
"""

import html
import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

LETTERS = "abcdefgh"
WIDTH = 110  # printed lines wrap here, like the notebooks' own output
RIGHT, WRONG, UNANSWERED = "right", "wrong", "not answered yet"
# ipywidgets gives every radio label one line's fixed height, so a long option that wraps would overlap the next:
# inside the panel, labels grow with their text.
PANEL_CLASS = "crossroads-knowledge-check"
_LABEL = f".{PANEL_CLASS} .widget-radio-box label, .{PANEL_CLASS} .jupyter-widget-radio-box label"
_INPUT = f".{PANEL_CLASS} .widget-radio-box label input, .{PANEL_CLASS} .jupyter-widget-radio-box label input"
STYLE = (f"<style>{_LABEL} {{height: auto; line-height: 1.35; padding: 3px 0; display: flex; "
         f"align-items: flex-start}} {_INPUT} {{order: -1; flex: none; float: none; margin-top: 2px}} "
         f".{PANEL_CLASS} .widget-html-content {{line-height: 1.4}}</style>")


@dataclass(frozen=True)
class Choice:
    """A multiple-choice question: ``options`` are lettered a, b, c, ... in order; ``answer`` is a letter."""

    prompt: str
    options: tuple[str, ...]
    answer: str
    explanation: str

    def __post_init__(self):
        if not isinstance(self.options, tuple) or not 2 <= len(self.options) <= len(LETTERS):
            raise ValueError(f"A Choice needs a tuple of 2 to {len(LETTERS)} options, got {self.options!r}.")
        if self.answer not in self.letters:
            raise ValueError(f"A Choice's answer must be one of the letters {', '.join(self.letters)}, "
                             f"got {self.answer!r}.")
        _check_text(self.prompt, "prompt")
        _check_text(self.explanation, "explanation")

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(LETTERS[:len(self.options)])

    def accepts(self) -> str:
        return f"one of the letters {', '.join(self.letters)}"

    def parse(self, given) -> str:
        """The learner's answer as a lower-case letter; ValueError naming the letters otherwise."""
        letter = given.strip().lower().rstrip(")") if isinstance(given, str) else None
        if letter not in self.letters:
            raise ValueError(f"takes {self.accepts()}; got {given!r}.")
        return letter

    def is_right(self, parsed: str) -> bool:
        return parsed == self.answer

    def shown_answer(self) -> str:
        return f"{self.answer}, \"{self.options[self.letters.index(self.answer)].rstrip('.')}\""


@dataclass(frozen=True)
class Number:
    """A question answered by a number: right when within ``tolerance`` of ``answer`` (``unit`` is shown)."""

    prompt: str
    answer: float
    tolerance: float
    explanation: str
    unit: str = ""

    def __post_init__(self):
        for name in ("answer", "tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"A Number's {name} must be a finite number, got {value!r}.")
        if self.tolerance < 0:
            raise ValueError(f"A Number's tolerance must be >= 0, got {self.tolerance}.")
        _check_text(self.prompt, "prompt")
        _check_text(self.explanation, "explanation")

    def accepts(self) -> str:
        return "a number, e.g. 12 or 0.5" + (f" (in {self.unit})" if self.unit else "")

    def parse(self, given) -> float:
        """The learner's answer as a float ("9,216" and "9216" both work); ValueError otherwise."""
        value = None
        if isinstance(given, (int, float)) and not isinstance(given, bool):
            value = float(given)
        elif isinstance(given, str):
            text = given.strip().replace("_", "")
            if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", text):  # thousands separators
                text = text.replace(",", "")
            try:
                value = float(text)
            except ValueError:
                value = None
        if value is None or not math.isfinite(value):
            raise ValueError(f"takes {self.accepts()}; got {given!r}.")
        return value

    def is_right(self, parsed: float) -> bool:
        return abs(parsed - self.answer) <= self.tolerance + 1e-12 * max(1.0, abs(self.answer))

    def shown_answer(self) -> str:
        within = f" (±{_format(self.tolerance)})" if self.tolerance else ""
        return f"{_format(self.answer)}{' ' + self.unit if self.unit else ''}{within}"


Question = Choice | Number


@dataclass(frozen=True)
class Verdict:
    """What a check says about one answer: ``status`` is "right", "wrong" or "not answered yet"."""

    number: int
    question: Question
    status: str
    given: object = None

    @property
    def right(self) -> bool:
        return self.status == RIGHT

    def text(self) -> str:
        if self.status == UNANSWERED:
            return f"Question {self.number}: not answered yet."
        if self.status == RIGHT:
            return f"Question {self.number}: right. {self.question.explanation}"
        return (f"Question {self.number}: wrong: you answered {_format(self.given)}; the answer is "
                f"{self.question.shown_answer()}. {self.question.explanation}")


def _check_text(value, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"A question's {name} must be non-empty text.")


def _html(text: str) -> str:
    """Text as HTML, with `code spans` shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)


def _format(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-3 else f"{value:.6g}"
    return str(value)


# ----------------------------------------------------------------------------------------------------------
# Looking questions up and judging answers

def notebook_key(notebook) -> str:
    """'02' from '02', 2 or '02_custom_cnn'; ValueError naming the notebooks that have checks."""
    from utils.course.knowledge_checks import QUESTIONS

    key = None
    if isinstance(notebook, int) and not isinstance(notebook, bool):
        key = f"{notebook:02d}"
    elif isinstance(notebook, str):
        match = re.fullmatch(r"(\d{2})(_\w*)?(\.ipynb)?", notebook.strip())
        key = match.group(1) if match else None
    if key not in QUESTIONS:
        raise ValueError(f"No knowledge check for notebook {notebook!r}: choose one of "
                         f"{', '.join(repr(k) for k in QUESTIONS)} (or a notebook's name, such as '02_custom_cnn').")
    return key


def questions_for(notebook) -> tuple[Question, ...]:
    """The questions of one notebook, numbered from 1 in the order returned."""
    from utils.course.knowledge_checks import QUESTIONS

    return QUESTIONS[notebook_key(notebook)]


def _question(notebook, number) -> tuple[str, int, Question]:
    key, questions = notebook_key(notebook), questions_for(notebook)
    if isinstance(number, str) and number.strip().isdigit():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(questions):
        raise ValueError(f"Notebook {key} has questions 1 to {len(questions)}; there is no question {number!r}.")
    return key, number, questions[number - 1]


def check_answer(notebook, number, given) -> Verdict:
    """Judge one answer. ``None`` is "not answered yet"; an answer of the wrong kind is a ValueError."""
    key, number, question = _question(notebook, number)
    if given is None or (isinstance(given, str) and not given.strip()):
        return Verdict(number, question, UNANSWERED)
    try:
        parsed = question.parse(given)
    except ValueError as error:
        raise ValueError(f"Question {number} of notebook {key} {error}") from None
    return Verdict(number, question, RIGHT if question.is_right(parsed) else WRONG, given)


def check_answers(notebook, answers: Mapping) -> list[Verdict]:
    """One verdict per question of the notebook; questions missing from ``answers`` are not answered yet."""
    key, questions = notebook_key(notebook), questions_for(notebook)
    if not isinstance(answers, Mapping):
        raise ValueError(f"answers must be a dict of question number -> answer, e.g. {{1: 'b', 2: 0.5}}; "
                         f"got {type(answers).__name__}.")
    given = {}
    for number, answer in answers.items():
        _, n, _ = _question(key, number)
        given[n] = answer
    return [check_answer(key, n, given.get(n)) for n in range(1, len(questions) + 1)]


def report(notebook, answers: Mapping) -> str:
    """The verdicts as text, with a count at the end."""
    verdicts = check_answers(notebook, answers)
    right = sum(v.right for v in verdicts)
    open_ = sum(v.status == UNANSWERED for v in verdicts)
    tail = f"{right} of {len(verdicts)} right" + (f", {open_} not answered yet." if open_ else ".")
    text = ""
    for previous, verdict in zip([None, *verdicts], verdicts):  # unanswered ones stay together, line by line
        if previous is not None:
            text += "\n" if previous.status == verdict.status == UNANSWERED else "\n\n"
        text += _wrap(verdict.text())
    return f"{text}\n\n{tail}"


def questions_text(notebook) -> str:
    """The questions as plain text, with how to answer them in code."""
    key, questions = notebook_key(notebook), questions_for(notebook)
    lines = [f"Knowledge check, notebook {key}: {len(questions)} questions", ""]
    for number, question in enumerate(questions, start=1):
        kind = "" if isinstance(question, Choice) else f"  (a number{', in ' + question.unit if question.unit else ''})"
        lines.append(_wrap(f"{number}. {question.prompt}{kind}", "   "))
        if isinstance(question, Choice):
            lines += [_wrap(f"   {letter}) {option}", "      ")
                      for letter, option in zip(question.letters, question.options)]
        lines.append("")
    example = ", ".join(f"{n}: None" for n in range(1, len(questions) + 1))
    lines.append(f'Answer in JupyterLab with the buttons, or in code: knowledge_check("{key}", {{{example}}})')
    lines.append("with each None replaced by your answer (a letter such as \"b\", or a number).")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# The widgets

class KnowledgeCheckPanel:
    """One block per question: the question, radio buttons or a number box, a Check button, the verdict.

    ``check(number)`` is what pressing a Check button does, so tests (and headless runs) can press it.
    Displayed, the panel renders as widgets in JupyterLab and as the questions' plain text everywhere else.
    """

    def __init__(self, notebook):
        import ipywidgets as w

        self.key, self.questions = notebook_key(notebook), questions_for(notebook)
        self.inputs, self.buttons, self.feedback, blocks = [], [], [], []
        for number, question in enumerate(self.questions, start=1):
            title = w.HTML(f"<b>{number}.</b> {_html(question.prompt)}", layout=w.Layout(width="auto"))
            if isinstance(question, Choice):
                field = w.RadioButtons(options=[(f"{letter}) {option}", letter)
                                                for letter, option in zip(question.letters, question.options)],
                                       value=None, layout=w.Layout(width="auto"))
            else:
                field = w.Text(placeholder="a number" + (f" ({question.unit})" if question.unit else ""),
                               layout=w.Layout(width="14em"))
            button = w.Button(description="Check", tooltip=f"check your answer to question {number}")
            verdict = w.HTML(layout=w.Layout(width="auto"))
            button.on_click(lambda _, n=number: self.check(n))
            self.inputs.append(field)
            self.buttons.append(button)
            self.feedback.append(verdict)
            blocks.append(w.VBox([title, field, button, verdict],
                                 layout=w.Layout(margin="0 0 12px 0", width="100%")))
        header = w.HTML(f"{STYLE}<b>Knowledge check, notebook {self.key}</b>: pick or type an answer, then press Check.")
        self.widget = w.VBox([header, *blocks], layout=w.Layout(width="100%"))
        self.widget.add_class(PANEL_CLASS)

    def check(self, number: int) -> Verdict | None:
        """Judge what the widget of question ``number`` holds and show the verdict under it."""
        _, number, question = _question(self.key, number)
        box = self.feedback[number - 1]
        try:
            verdict = check_answer(self.key, number, self.inputs[number - 1].value)
        except ValueError:
            box.value = f"<span style='color:#b35900'>Type {_html(question.accepts())}.</span>"
            return None
        if verdict.status == UNANSWERED:
            box.value = "<span style='color:#b35900'>Not answered yet: pick or type an answer first.</span>"
        elif verdict.right:
            box.value = f"<span style='color:#2e7d32'><b>Right.</b></span> {_html(question.explanation)}"
        else:
            box.value = (f"<span style='color:#c62828'><b>Not quite.</b></span> The answer is "
                         f"{_html(question.shown_answer())}. {_html(question.explanation)}")
        return verdict

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = dict(self.widget._repr_mimebundle_() or {})
        bundle["text/plain"] = questions_text(self.key)  # what a headless or saved copy shows: no widget repr
        return bundle


def _live_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, and also papermill or nbconvert) with ipywidgets installed."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def knowledge_check(notebook, answers: Mapping | None = None) -> None:
    """Show a notebook's questions (widgets in a kernel, text elsewhere), or judge ``answers`` and print why.

    ``answers`` maps question numbers to a letter (multiple choice) or a number; None is "not answered yet".
    """
    key = notebook_key(notebook)
    if answers is not None:
        print(report(key, answers))
        return None
    if _live_kernel():
        from IPython.display import display

        display(KnowledgeCheckPanel(key))
    else:
        print(questions_text(key))
    return None
