"""The RAG pipeline: retrieve → focus → abstain? → prompt → generate → check, batched over many questions.

It joins the pieces of this package: ``focus``, ``prompt``, ``abstention``, ``safety`` and ``grounding``.

The generator is whatever ``utils.core.models.load_llm`` gives (SmolLM2-135M by default): small and
easily distracted. What helped it most, measured on the dev questions (notebook 04):

- **focus**: instead of whole chunks, the 2 sentences or table rows most similar to the question;
- **one worked example** as an earlier chat turn, showing the answer format with a citation;
- **the best source last**, right before the question, where a small model looks hardest.

Abstention is decided *before* generation from retrieval evidence: the best cosine between the
question and a source, plus how much of the question's rare words the retrieved chunks contain.
If the evidence is weak, the knowledge base probably does not cover the question and a small model
would invent an answer. The threshold is calibrated on the dev split, never on the reported questions.

``answer_mode="extract"`` skips the generator: the answer is the best retrieved sentence or table row,
quoted with its citation. Scored strictly on the dev questions, that beat the 135M model's own answers
(notebook 04 measures both and picks); a larger ``LLM_ID`` may reverse it.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from utils.core.generation import chat_prompt, generate
from utils.course.results import latency_percentiles
from utils.rag.abstention import (
    ABSTAIN_TEXT,
    apply_threshold,
    calibrate_threshold,
    inverse_document_frequency,
    term_coverage,
)
from utils.rag.answer_type import asked_kinds, product_names, states_kind, unknown_products
from utils.rag.focus import embed_cached, focus_many
from utils.rag.grounding import is_supported, quote_answer
from utils.rag.prompt import CLOSED_BOOK_SYSTEM, EXAMPLES, SYSTEM_PROMPT, build_prompt
from utils.rag.retrieval import Hit
from utils.rag.safety import find_injections
from utils.rag.scoring import is_abstention, parse_citations

ANSWER_MODES = ("generate", "extract")


@dataclass
class Retrieval:
    question: str
    hits: list[Hit]            # the chunks retrieved
    sources: list[Hit]         # what the prompt may show: focused units, or the chunks themselves
    confidence: float          # best source cosine + coverage_weight × term coverage
    flagged: list[str] = field(default_factory=list)   # instruction-like sentences found in the hits
    flagged_docs: list[str] = field(default_factory=list)   # the ids of the documents they came from


@dataclass
class RagAnswer:
    question: str
    text: str                  # the final answer: the model's, a quoted source, or ABSTAIN_TEXT
    abstained: bool
    reason: str                # "answered", "quoted source", "weak retrieval", "unsupported answer", "model declined"
    confidence: float
    sources: list[Hit]         # in prompt order; citation [n] is sources[n - 1]
    citations: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    flagged: list[str] = field(default_factory=list)        # instruction-like sentences removed from sources
    flagged_docs: list[str] = field(default_factory=list)   # the ids of the documents they came from
    generated: str = ""        # what the model wrote, even when it was not used

    @property
    def cited_doc_ids(self) -> list[str]:
        return [self.sources[n - 1].doc_id for n in self.citations]


@dataclass
class Calibration:
    threshold: float
    review_threshold: float
    scores: np.ndarray         # (Q,) the calibration questions' retrieval confidence
    answerable: np.ndarray     # (Q,) bool


@dataclass
class RagPipeline:
    """Retrieve → focus → abstain? → prompt → generate → check, batched over many questions.

    ``retriever`` supplies the chunks (dense, BM25 or hybrid); ``dense`` (a DenseRetriever) embeds
    questions and sentences for focus and confidence — leave it out when ``retriever`` is dense or a
    hybrid with a dense member, and it is taken from there. ``focus_units=None`` shows whole chunks.

    With ``ground=True`` an answer that fails ``is_supported`` is replaced by a quote of the best
    source (``quote_answer``); the model's own text stays in ``RagAnswer.generated``. Abstention:
    below ``threshold`` the model is not even asked ("weak retrieval"); below ``review_threshold``
    an unsupported answer becomes an abstention instead of a quote ("unsupported answer"). ``None``
    switches either off; ``calibrate`` sets both from dev questions. A source with a planted
    instruction is never quoted: the answer becomes an abstention ("flagged source") instead.

    ``answer_mode="extract"`` answers with a quote of the best source and no generator at all
    ("extracted"; ``model`` may be ``None``); abstention below ``threshold`` works the same way.

        pipeline = RagPipeline(hybrid, model=model, tokenizer=tokenizer)
        pipeline.calibrate(dev_questions)          # Question objects with .question and .answerable
        answers = pipeline.answer(["How long is the warranty?"])
    """
    retriever: object
    dense: object = None
    model: object = None
    tokenizer: object = None
    k: int = 3
    focus_units: int | None = 2
    budget_tokens: int = 384
    threshold: float | None = None
    review_threshold: float | None = None
    coverage_weight: float = 0.3
    max_new_tokens: int = 32
    batch_size: int = 16
    filter_injections: bool = True
    ground: bool = True
    answer_mode: str = "generate"          # or "extract": quote the best source, no generator
    check_answer_type: bool = False        # refuse a question about an unknown product; quote only a source that
                                           # states a value of the asked kind (utils.rag.answer_type)
    system: str = SYSTEM_PROMPT
    examples: list = field(default_factory=lambda: list(EXAMPLES))
    _idf: tuple = field(default=(None, None), init=False, repr=False)
    _products: tuple = field(default=(None, None), init=False, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)        # sentence → vector

    def __post_init__(self):
        if self.answer_mode not in ANSWER_MODES:
            raise ValueError(f"answer_mode must be one of {', '.join(ANSWER_MODES)}, got {self.answer_mode!r}.")
        if self.dense is None:
            self.dense = self.retriever if hasattr(self.retriever, "embed") else getattr(self.retriever, "dense", None)

    def calibrate(self, questions, min_keep: float = 1.0, review_keep: float = 0.95) -> "Calibration":
        """Set ``threshold`` and ``review_threshold`` from calibration questions (dev, never test).

        ``questions`` carry ``.question`` and ``.answerable`` (``utils.rag.documents.Question``). The
        threshold keeps ``min_keep`` of the answerable ones out of "weak retrieval"; the review threshold
        keeps ``review_keep`` of them (below it an unsupported answer is refused rather than quoted).
        """
        questions = list(questions)
        scores = np.array([r.confidence for r in self.retrieve([q.question for q in questions])])
        answerable = np.array([bool(q.answerable) for q in questions])
        self.threshold = calibrate_threshold(scores[answerable], scores[~answerable], min_keep=min_keep)
        self.review_threshold = calibrate_threshold(scores[answerable], scores[~answerable], min_keep=review_keep)
        return Calibration(self.threshold, self.review_threshold, scores, answerable)

    def apply_thresholds(self, answers: list[RagAnswer]) -> list[RagAnswer]:
        """Answers generated before the thresholds were set, as if the pipeline had run with them."""
        return apply_threshold(answers, self.threshold if self.threshold is not None else -math.inf,
                               self.review_threshold)

    def idf(self) -> dict[str, float]:
        """Word rarity over the indexed chunks, recomputed only after the index changed."""
        key = (id(self.dense), self.dense.version)
        if self._idf[0] != key:
            self._idf = (key, inverse_document_frequency([c.passage for c in self.dense.chunks]))
        return self._idf[1]

    def products(self) -> set[str]:
        """The product names the index mentions ("cleanwave 9"), recomputed only after the index changed."""
        key = (id(self.dense), self.dense.version)
        if self._products[0] != key:
            self._products = (key, product_names(c.passage for c in self.dense.chunks))
        return self._products[1]

    def retrieve(self, questions: list[str]) -> list[Retrieval]:
        """Chunks, sources and confidence for each question (no generation)."""
        if isinstance(questions, str):
            raise TypeError("questions must be a list of strings; wrap a single question as [question].")
        if not questions:
            raise ValueError("No questions to answer.")
        if self.dense is None:
            raise ValueError("RagPipeline needs a dense retriever to embed questions: pass dense=DenseRetriever(...) "
                             "(the retriever given is not dense and has no dense member).")
        idf = self.idf()
        hits_lists = self.retriever.search_many(questions, self.k)
        if self.focus_units:
            sources_lists = focus_many(questions, hits_lists, self.dense.embed, self.focus_units,
                                       filter_injections=self.filter_injections, cache=self._cache)
            best = [max((h.score for h in sources), default=0.0) for sources in sources_lists]
        else:
            sources_lists = hits_lists
            queries = self.dense.embed(list(questions))                                   # (Q, D)
            best = [float(np.max(embed_cached([h.chunk.passage for h in hits], self.dense.embed, self._cache) @ q))
                    if hits else 0.0 for hits, q in zip(hits_lists, queries)]
        results = []
        for question, hits, sources, cosine in zip(questions, hits_lists, sources_lists, best):
            found = [(h.doc_id, s) for h in hits for s in find_injections(h.text)] if self.filter_injections else []
            confidence = cosine + self.coverage_weight * term_coverage(question, hits, idf)
            results.append(Retrieval(question, hits, sources, confidence, [s for _, s in found],
                                     list(dict.fromkeys(d for d, _ in found))))
        return results

    def generate_answers(self, retrievals: list[Retrieval], progress: bool = False) -> list[RagAnswer]:
        """Abstain on weak evidence, then answer everything else in one batched ``generate`` call."""
        answers, prompts, todo = [], [], []
        for i, r in enumerate(retrievals):
            if self.threshold is not None and r.confidence < self.threshold:
                answers.append(RagAnswer(r.question, ABSTAIN_TEXT, True, "weak retrieval", r.confidence, []))
                continue
            if self.check_answer_type and unknown_products(r.question, self.products()):
                answers.append(RagAnswer(r.question, ABSTAIN_TEXT, True, "unknown product", r.confidence, []))
                continue
            if self.answer_mode == "extract":
                answers.append(self._extract(r))
                continue
            if self.tokenizer is None:
                raise ValueError("answer_mode='generate' needs model= and tokenizer= (from load_llm()); "
                                 "use answer_mode='extract' to answer with quotes and no generator.")
            prompt = build_prompt(r.question, r.sources, self.tokenizer, self.budget_tokens, self.system,
                                  filter_injections=self.filter_injections, examples=self.examples)
            answers.append(RagAnswer(r.question, "", False, "answered", r.confidence, prompt.sources,
                                     prompt_tokens=prompt.n_tokens,
                                     flagged=list(dict.fromkeys(r.flagged + prompt.flagged)),
                                     flagged_docs=r.flagged_docs))
            prompts.append(prompt.text)
            todo.append(i)
        if prompts:
            out = generate(self.model, self.tokenizer, prompts, self.max_new_tokens, self.batch_size, progress)
            for i, text in zip(todo, out.texts):
                answer = answers[i]
                answer.generated = answer.text = text
                if is_abstention(text):
                    answer.abstained, answer.reason = True, "model declined"
                elif self.ground and answer.sources and not is_supported(text, answer.sources, answer.question):
                    if self.review_threshold is not None and answer.confidence < self.review_threshold:
                        answer.text, answer.abstained, answer.reason = ABSTAIN_TEXT, True, "unsupported answer"
                    elif answer.sources[-1].doc_id in answer.flagged_docs:   # never quote a planted source
                        answer.text, answer.abstained, answer.reason = ABSTAIN_TEXT, True, "flagged source"
                    else:
                        answer.text, answer.reason = quote_answer(answer.sources), "quoted source"
                answer.citations = parse_citations(answer.text, len(answer.sources))
        return answers

    def _extract(self, r: Retrieval) -> RagAnswer:
        """The best source (retrieval order: best first), quoted with its citation."""
        if not r.sources or r.sources[0].doc_id in r.flagged_docs:
            reason = "flagged source" if r.sources else "weak retrieval"
            return RagAnswer(r.question, ABSTAIN_TEXT, True, reason, r.confidence, [], flagged=list(r.flagged),
                             flagged_docs=r.flagged_docs)
        sources = list(r.sources)
        if self.check_answer_type:     # the best source that states a value of the asked kind goes first
            kinds = asked_kinds(r.question)
            fitting = [s for s in sources if states_kind(s.text, kinds)]
            if not fitting:
                return RagAnswer(r.question, ABSTAIN_TEXT, True, "no value of the asked kind", r.confidence, [],
                                 flagged=list(r.flagged), flagged_docs=r.flagged_docs)
            sources = fitting + [s for s in sources if s not in fitting]
            if sources[0].doc_id in r.flagged_docs:
                return RagAnswer(r.question, ABSTAIN_TEXT, True, "flagged source", r.confidence, [],
                                 flagged=list(r.flagged), flagged_docs=r.flagged_docs)
        text = quote_answer(sources, best_last=False)
        return RagAnswer(r.question, text, False, "extracted", r.confidence, sources, [1],
                         flagged=list(r.flagged), flagged_docs=r.flagged_docs)

    def answer(self, questions: list[str], progress: bool = False) -> list[RagAnswer]:
        return self.generate_answers(self.retrieve(questions), progress)

    def timed_answer(self, question: str) -> tuple[RagAnswer, dict[str, float]]:
        """One question alone, as a customer would ask it, with milliseconds per step.

        ``embed_ms`` is the query embedding alone; ``retrieval_ms`` everything before the prompt
        (retrieval, focus, confidence); ``generate_ms`` the prompt and the generation.
        """
        started = time.perf_counter()
        self.dense.embed([question])
        embed_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        retrieval = self.retrieve([question])
        retrieval_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        answer = self.generate_answers(retrieval)[0]
        generate_ms = (time.perf_counter() - started) * 1000
        return answer, {"embed_ms": embed_ms, "retrieval_ms": retrieval_ms, "generate_ms": generate_ms}


def closed_book_answers(model, tokenizer, questions: list[str], max_new_tokens: int = 32,
                        batch_size: int = 16, progress: bool = False) -> list[str]:
    """The same model without retrieval: what it "knows" about Northwind (spoiler: nothing)."""
    prompts = [chat_prompt(tokenizer, q, system=CLOSED_BOOK_SYSTEM) for q in questions]
    return generate(model, tokenizer, prompts, max_new_tokens, batch_size, progress).texts


def latency_by_step(pipeline: RagPipeline, questions: list[str], retrieval_questions: list[str] | None = None,
                    max_new_tokens: int = 32) -> list[dict]:
    """Where one customer's wait goes: p50/p95 milliseconds of each step, one question at a time.

    ``questions`` are answered whole (``RagPipeline.timed_answer``) and closed book, for the generation
    rows; ``retrieval_questions`` (default: the same) time retrieval alone, which is cheap enough to
    sample more often. Rows: embed query, retrieval (all of it), generation with sources, closed book.
    """
    if not questions:
        raise ValueError("No questions to time: pass at least one.")
    timings = [pipeline.timed_answer(q)[1] for q in questions]
    retrieval_ms = []
    for q in retrieval_questions or questions:
        started = time.perf_counter()
        pipeline.retrieve([q])
        retrieval_ms.append((time.perf_counter() - started) * 1000)
    closed_ms = []
    for q in questions:
        started = time.perf_counter()
        closed_book_answers(pipeline.model, pipeline.tokenizer, [q], max_new_tokens, 1)
        closed_ms.append((time.perf_counter() - started) * 1000)

    def row(step: str, values: list[float]) -> dict:
        summary = latency_percentiles(values)
        return {"step": step, "samples": len(values), "p50 ms": summary["p50"], "p95 ms": summary["p95"]}

    return [row("embed query", [t["embed_ms"] for t in timings]), row("retrieval (all of it)", retrieval_ms),
            row("generation with sources", [t["generate_ms"] for t in timings]),
            row("generation, closed book", closed_ms)]
