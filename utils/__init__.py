"""AI Crossroads: the helper package every notebook, lab and test imports — one sub-package per track.

Importing ``utils`` is light (no torch): it only switches Hugging Face libraries to offline mode, since
nothing in the course may download at run time. Import the module you need, e.g.
``from utils.rag.pipeline import RagPipeline``.

The map, grouped by the notebook that uses each module (every notebook also uses ``core`` and ``course``):

core/ — the foundation
    paths            where the repository, datasets, build outputs and caches live
    runtime          device choice, seeding, offline mode, the versions banner, fresh-process work
    models           the embedded models: locate, verify, convert once, load
    generation       chat prompts and batched greedy generation
    training         the generic classifier training loop (validation, early stopping) and data experiments
    checkpoint       weights as safetensors, with a round-trip check
    jsonl            the JSON Lines reader behind every data file
    tables           the one Markdown-table builder
    plots            bars and point plots of measured proportions, with their 95 % intervals as error bars
    stats            Wilson intervals for proportions, paired (and grouped) bootstrap for differences, their wording
    hardware         the matmul peak, memory bandwidth, and how close a LoRA step and decoding come to them
course/ — running the course itself
    runner           execute every notebook with papermill, then write the report (``python -m utils.course``)
    results          record a notebook's headline figures, figures and peak memory
    report           merge every results file into build/report.{md,html}
    site             the static offline site of the executed course (``make site``)
    glossary         docs/glossary.md's terms and the GitHub-style anchors that link to them
    units            numbers with units, sensible digits and intervals, for the report
    labs             generate labs/ from solutions/ (``python -m utils.course.labs``)
    diagrams         the course diagrams, drawn from the code into docs/figures/ and embedded in the notebooks
    grading          nbgrader for the labs: the course directory, its config, the stub with hints
    checks           the self-checks labs call after each exercise
    knowledge        the knowledge checks that end every notebook: answered with widgets or in code
    knowledge_checks the questions of those checks, per notebook, each with its explanation
    setup_check      the last step of ``make setup``
    envcheck         notebook 00's machine summary and course-time estimate
decide/ — notebook 01, choosing an approach
    situation        the six fields of a business situation, validated; ``APPROACHES``
    rules            the scoring rule and ``recommend``
    flips            what would change the recommendation
    criteria         is a success criterion measurable?
    tables           the rules and a recommendation's points as tables
    scenarios        the gallery of worked situations
    widgets          score bars, the gallery heat map, the interactive panel
vision/ — notebook 02, a custom CNN
    data             scikit-learn's digits and the Northwind parts images
    augment          label-preserving transforms
    cnn              the tiny CNN and its parameter counter
    evaluation       accuracy, per-class metrics, confusion, latency, size, a classical baseline
    experiments      the data-scarcity and label-noise runs, with per-item outcomes for intervals
finetune/ — notebook 03, LoRA
    triage           the feedback-triage taxonomy, data, prompts and metrics
    lora             LoRA examples, training with validation, adapters, step costs
    distributed      the same LoRA training data-parallel under torchrun / accelerate launch (``python -m``)
    likelihood       the baselines' scores: label log-likelihood and greedy JSON, one cached pass per prompt
rag/ — notebook 04, retrieval-augmented generation
    documents        the knowledge base, its questions, chunking
    retrieval        dense, BM25 and hybrid (RRF) retrievers
    metrics          recall@k, MRR, nDCG
    ann              exact vs approximate search at scale
    safety           the prompt-injection filter
    attacks          injection and poisoning measured as attack success; provenance
    curation         stale duplicates, contradictions and silent edits, kept out at sync time by metadata rules
    focus            the sentences of a chunk that match the question
    prompt           numbered sources within a token budget
    abstention       confidence, calibrated thresholds, refusing
    tradeoff         accuracy against p95 latency over a sweep of settings, chosen within a latency budget
    answer_type      does a source state a value of the asked kind; questions about unknown products
    grounding        the grounding check and the quoted fallback
    pipeline         ``RagPipeline``: retrieve, focus, abstain, prompt, generate (or quote), check
    system           a RAG system to build, save, load and update (also used by 05)
    scoring          answer scoring: lenient key facts, strict facts-with-units-and-entity, citations, abstentions
    scorer_check     the scorers against answers graded by hand
compare/ — notebook 05, the three side by side
    answer_cards     the question → answer-card data and its held-out questions
    card_classifier  the capstone's custom model (hashed n-grams → MLP → card)
    card_prompts     the cards as (prompt, answer) pairs for the LLM
    side_by_side     costs, batched answers, serving latency and memory, table, figure, claim, decision
    cost             a year's cost per approach (labels, people, compute, serving, hosting), break-even, budgets
"""

from utils.core.runtime import set_offline

set_offline()
