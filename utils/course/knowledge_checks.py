"""The knowledge-check questions at the end of each notebook, keyed by the notebook's number.

Each question is about what its notebook teaches and measures, and its answer follows from the notebook's
text and code, never from a figure that changes between runs. Every explanation says why the answer is
right and why the tempting wrong answer is wrong. ``utils.course.knowledge`` asks and judges them.
"""

from utils.course.knowledge import Choice, Number

QUESTIONS = {
    "00": (
        Choice(
            "Why does `import utils` set HF_HUB_OFFLINE=1?",
            ("Because the network check in 0.5 would fail otherwise.",
             "So that nothing downloads while you learn: the models come from installed packages, checked "
             "against a SHA-256 manifest.",
             "To make generation faster: offline mode switches the LLM to a quantised copy."),
            "b",
            "The embedded models are installed by `make setup` like any library and verified in 0.3, so the "
            "Hugging Face libraries never need the hub; offline mode only stops them from trying. It changes "
            "neither speed nor precision, and the check in 0.5 runs whatever the setting: it only reports "
            "whether this machine could reach the hub."),
        Choice(
            "Section 0.3 checks every model file against its SHA-256 checksum. What does a passing check tell you?",
            ("The model will answer the course's questions correctly.",
             "The file is byte for byte the published one: not truncated, corrupted or tampered with.",
             "The model fits in this machine's memory."),
            "b",
            "A checksum identifies the bytes and nothing else: one changed byte gives a different hash. A "
            "correct file can still give wrong answers (that is what the later notebooks measure), and whether "
            "it fits in memory is a separate question (section 0.2)."),
        Choice(
            "In 0.4, generating in batches of 16 prompts gives more tokens per second than one prompt at a time. "
            "Why?",
            ("Each generation step reads all the model's weights; a batch shares that read and the call overhead "
             "among 16 sequences.",
             "Batching makes each single answer arrive sooner.",
             "The prompts of a batch are shortened so that they fit together."),
            "a",
            "Small-batch generation is limited by moving the weights from memory, not by arithmetic, so serving "
            "16 sequences per step costs little more than serving one: throughput rises. One answer does not "
            "arrive sooner, though: it waits for the whole batch's steps. Nothing is shortened; shorter prompts "
            "are only padded to the longest one."),
        Number(
            "The embedded LLM has about 134.5 million parameters and is loaded in float32 (4 bytes per weight). "
            "About how many megabytes (millions of bytes) do its weights take in memory?",
            538, 10,
            "134.5 million weights x 4 bytes = 538 MB (bf16 would halve it, to about 269 MB). The tempting "
            "134.5 counts weights, not bytes; the 4-bit file on disk is smaller still, which is why the first "
            "load converts it once.",
            unit="MB"),
        Choice(
            "In 0.4 the sentence embeddings are normalised to length 1. What does `vectors[0] @ vectors[1]` "
            "then measure?",
            ("Their cosine similarity: near 1 when the two sentences point the same way in meaning.",
             "Their Euclidean distance: smaller means more similar.",
             "The probability that the two sentences are paraphrases."),
            "a",
            "For unit vectors the dot product is the cosine of the angle between them, so larger means more "
            "similar, the opposite of a distance. It is not a probability either: it can be negative, and what "
            "counts as high depends on the model, which is why notebook 04 calibrates thresholds on data."),
    ),
    "01": (
        Choice(
            "A RAG system's manuals are updated. What changes inside its models?",
            ("Nothing: the changed documents are re-indexed, and the next question retrieves the new passages "
             "into the prompt.",
             "The generator is fine-tuned overnight on the new manuals.",
             "The embedding model is retrained so that it knows the new facts."),
            "a",
            "RAG is an architecture, not a training method: the knowledge lives in the documents, and no weights "
            "change. Re-indexing embeds the changed chunks with the same, unchanged embedding model; retraining "
            "for new facts is what a fine-tune or a custom model would need."),
        Choice(
            "During a fine-tune, training loss keeps falling while validation loss turns upwards. What is "
            "happening, and what is the standard counter?",
            ("Underfitting: train for more epochs.",
             "Overfitting, memorising the training examples: stop early and keep the checkpoint with the best "
             "validation loss.",
             "The validation set is too hard: move its examples into training."),
            "b",
            "A falling training loss with a rising validation loss is the signature of memorising instead of "
            "learning the pattern; more epochs make it worse. Moving validation examples into training removes "
            "the only honest signal you had. Early stopping on validation loss (with weight decay, dropout and "
            "balanced data) is the counter section 1.3 lists."),
        Choice(
            "Which success criterion is measurable in the sense of section 1.6 (metric, threshold, unit or "
            "conditions)?",
            ("\"The support bot should be good and fast.\"",
             "\"Answers should be accurate, and customers should be happy with the latency.\"",
             "\"At least 70 % of warranty questions resolved without escalation, on 300 real questions, with "
             "p95 latency under 3 s.\""),
            "c",
            "Only the last names a metric (resolution rate, p95 latency), a threshold (70 %, 3 s) and the "
            "conditions (300 real warranty questions). The second sounds more concrete than the first, but "
            "'accurate' and 'happy' have no number and no test set, so nobody can tell when the project is done."),
        Number(
            "In the rule book, required citations give RAG +4 and each of the other two approaches -2; not "
            "required gives everyone 0. By how many points does ticking `needs_sources` widen RAG's lead over "
            "the fine-tune?",
            6, 0,
            "RAG gains 4 and the fine-tune loses 2, so the gap between them grows by 4 - (-2) = 6 points. The "
            "tempting 4 forgets that the other approaches lose points too; that is why this one criterion so "
            "often decides a recommendation."),
        Choice(
            "For the feedback triage, `flips` shows that fewer than 200 labelled examples would turn the "
            "recommendation into RAG. What is that finding for?",
            ("Nothing more: the rules picked a fine-tune, so the decision is settled.",
             "It names a fact the decision rests on: confirm the data count (and the other flipping facts) with "
             "the business before training starts.",
             "It proves that RAG is the safer choice, so switch to it now."),
            "b",
            "A flip is the smallest single change that changes the winner, so it tells you which facts to "
            "double-check first and which events should trigger a second look. It does not make the runner-up "
            "better; with 1,500 labelled messages the fine-tune still wins."),
    ),
    "02": (
        Choice(
            "Logistic regression on raw pixels is strong on the digits and near chance on the parts. Why?",
            ("A defect can sit anywhere on the part, and a fixed weight per pixel cannot find a pattern wherever "
             "it appears; a convolution slides the same detector over every position.",
             "It was given too few iterations on the parts; training it longer would close the gap.",
             "Logistic regression cannot take images larger than 8x8 pixels."),
            "a",
            "The digits are centred and scaled, so 'ink in this pixel' is a good feature; a scratch on a flange "
            "can be anywhere, at any angle. More iterations only fit the same linear rule on pixels better, and "
            "that rule cannot express 'this pattern, wherever it is'. Size is not the limit: on the parts it is "
            "fitted on all 1,024 pixels."),
        Number(
            "A conv block is conv 3x3 (no bias) -> batch norm -> ReLU -> max-pool 2x2. How many parameters does "
            "`conv_block(16, 32)` have (16 input channels, 32 output channels)?",
            4672, 0,
            "Each of the 32 kernels spans all 16 input channels: 32 x 16 x 3 x 3 = 4,608 weights, plus batch "
            "norm's scale and shift per output channel, 2 x 32 = 64, so 4,672 in all; ReLU and pooling have "
            "none. The tempting 32 x 3 x 3 + 64 = 352 forgets that a kernel covers every input channel (for "
            "`conv_block(1, 16)` there is only one, which is why it has 16 x 9 + 32 = 176)."),
        Choice(
            "The parts' training accuracy sits below validation accuracy in most epochs. Why is that not a bug?",
            ("Validation images leaked into the training set.",
             "Training images are augmented (harder) and dropout is on during training; validation images are "
             "clean and dropout is off.",
             "The model overfits the validation set."),
            "b",
            "Training accuracy is measured on the fly on turned, mirrored, shifted and re-lit images, with "
            "dropout removing part of the features, while validation runs the whole network on plain images. "
            "Leakage or overfitting the validation set would make validation look too good; neither makes "
            "training look worse. Turn the augmentation off (Your turn 1) and training accuracy moves above."),
        Choice(
            "Which split chooses the epoch to keep and the pixel statistic, and which is scored only once?",
            ("The test set chooses, because it is the most honest; validation is scored once.",
             "Validation chooses; the test set is scored once, after every choice is made.",
             "Training chooses; validation and test are both scored every epoch."),
            "b",
            "Every choice is made on validation data; the test set is touched once, in 2.7. A test score that "
            "helped choose is no longer an honest estimate of new data, however honest it looked before."),
        Choice(
            "With label smoothing 0.1, the digits validation loss levels off near 0.5 rather than 0. Why?",
            ("The model underfits; more epochs would bring the loss to 0.",
             "Label smoothing asks for about 90 % confidence in the true class, not 100 %, so the lowest "
             "reachable loss is the entropy of the smoothed target, about 0.50 for ten classes.",
             "The validation images are augmented, which makes them harder."),
            "b",
            "The smoothed target spreads 0.1 of the probability over all ten classes, and cross-entropy against "
            "a target that is not one-hot cannot fall below that target's entropy (about 0.50). It is a floor, "
            "not underfitting: accuracy can still be near perfect. Validation images are never augmented."),
    ),
    "03": (
        Number(
            "LoRA with rank r = 8 on one 576 x 576 `q_proj` weight W: how many parameters does it train for that "
            "layer?",
            9216, 0,
            "A is r x d_in = 8 x 576 = 4,608 and B is d_out x r = 576 x 8 = 4,608, so 8 x (576 + 576) = 9,216, "
            "against 331,776 in W (2.8 %). The tempting 4,608 counts only one of the two matrices; alpha only "
            "scales the update and adds no parameters."),
        Choice(
            "The prompt's labels are set to -100 in every training example. What does that do?",
            ("The cross-entropy loss ignores those positions, so the model is graded only on the answer's tokens.",
             "It pushes the probability of the prompt's tokens down, so the model stops repeating the prompt.",
             "It removes the prompt from the input, so the model never sees it."),
            "a",
            "-100 is the loss's ignore index: the prompt stays in the input as context the model reads, but no "
            "loss is computed on predicting it. It is not a negative target, so nothing is pushed down; the "
            "gradient comes only from the answer and its end token."),
        Choice(
            "Zero-shot, the base model's generated-JSON score is near zero. What does scoring by label "
            "likelihood add?",
            ("Nothing: a model that cannot write valid JSON knows nothing about the taxonomy.",
             "It reads what the model knows about each field, whatever format it would write: the most probable "
             "label wins, so the near-zero JSON score is mostly the format.",
             "It measures how fast the model reads the prompt."),
            "b",
            "An answer that is not valid JSON counts as wrong on every field, so the JSON score mixes format "
            "with knowledge. Ranking each label by log P(label | prompt) needs no format, and shows what the "
            "same weights do with the codes in the prompt."),
        Choice(
            "Why does LoRA start B at zero?",
            ("So that B A = 0 at the start, and training begins exactly from the pre-trained model.",
             "So that the adapter file stays small on disk.",
             "To freeze B, so that only A is trained."),
            "a",
            "With B = 0 the update (alpha / r) B A x adds nothing at step 0, so the adapted model starts as the "
            "base model and moves away from it only as far as training pushes. Both A and B are trained, and "
            "the file's size depends on r and the adapted layers, not on the values stored."),
        Number(
            "Full fine-tuning a 7-billion-parameter model with AdamW: a gradient and AdamW's two moments per "
            "weight, 4 bytes each. About how many gigabytes do those three need, on top of the weights?",
            84, 2,
            "Three numbers of 4 bytes for each of 7 billion weights: 3 x 4 x 7e9 = 84 GB, which with the float32 "
            "weights themselves (28 GB) makes about four copies of the model. The tempting 28 GB counts one "
            "copy. LoRA keeps these three only for its adapter weights, which is why its step fits where a full "
            "one needs several GPUs.",
            unit="GB"),
    ),
    "04": (
        Number(
            "The hybrid retriever fuses rankings with reciprocal rank fusion: score = sum of 1 / (60 + rank), "
            "ranks counted from 1. A chunk is ranked 1st by dense retrieval and 3rd by BM25. What is its fused "
            "score (to 4 decimals)?",
            1 / 61 + 1 / 63, 0.0001,
            "1/61 + 1/63 = 0.01639 + 0.01587 = 0.0323. The tempting 1/1 + 1/3 = 1.33 forgets the constant 60, "
            "which damps the advantage of the very top ranks; RRF uses only the ranks, so it can merge a "
            "cosine scale with a BM25 scale without calibrating either."),
        Number(
            "Three questions: the first relevant document is at rank 1 for the first, at rank 2 for the second, "
            "and nowhere in the ranking for the third. What is the MRR?",
            0.5, 0.001,
            "Reciprocal ranks 1, 1/2 and 0 (a question whose relevant document never appears scores 0): the "
            "mean is 1.5 / 3 = 0.5. The tempting 0.75 averages only the two questions where something was "
            "found, which hides exactly the misses that matter."),
        Choice(
            "Why do neighbouring chunks overlap by CHUNK_OVERLAP tokens?",
            ("So that a fact that falls on a window boundary survives whole in at least one chunk.",
             "Because more chunks always raise recall@5.",
             "Because MiniLM needs the previous chunk's last tokens to embed the next one."),
            "a",
            "A window cut in the middle of a table row or a sentence would split the fact between two chunks, "
            "neither of which holds it whole; an overlap keeps it whole in one. More chunks do not raise recall "
            "by themselves (they also cost index space and prompt tokens), and each chunk is embedded on its "
            "own."),
        Choice(
            "An answer names the wrong plan (\"the Care+ extended warranty lasts ...\") but contains the gold key "
            "fact. How do the two scorers judge it?",
            ("Both accept it: the key fact is there.",
             "The lenient scorer accepts it; the strict one rejects it, because it names another plan than the "
             "one asked about.",
             "The strict scorer accepts it; the lenient one rejects it."),
            "b",
            "Lenient matching accepts an answer when one key fact appears anywhere in it. The strict scorer "
            "also demands the unit and the product or plan asked about, and no conflicting value, so a true "
            "fact about the wrong plan fails. That is why the course reports strict accuracy, and why the "
            "strict scorer was itself checked against hand grades."),
        Choice(
            "Which defence stopped the planted documents whatever their wording?",
            ("The pattern filter, because it drops instruction-like sentences.",
             "Provenance: only documents from a reviewed source are indexed, decided from where a document came, "
             "not from what it says.",
             "Abstention, because planted documents get low retrieval confidence."),
            "b",
            "The filter catches only the instruction patterns it was written for; a polite paraphrase or an "
            "answer-shaped false statement passes it untouched. Planted documents are written to be retrieved, "
            "so their confidence is high, not low. Provenance decides before indexing, so a planted document is "
            "never retrieved at all; it cannot catch a wrong sentence inside a reviewed document."),
    ),
    "05": (
        Choice(
            "After the policy update, what work does each approach need before it answers the changed questions "
            "correctly?",
            ("All three need retraining on the new facts.",
             "RAG re-indexes the changed documents, with no labels; the custom model needs relabelled cards and, "
             "for the new card, new paraphrases and a retrain; the fine-tune needs another training run.",
             "RAG needs a retrain; the fine-tune only needs its documents replaced."),
            "b",
            "RAG's facts live in the documents, so an update is a re-index of what changed. The classifier's "
            "weights hold which card, not what the card says, so a changed answer is a relabel, but a new card "
            "is a new class. The fine-tune stores the facts in its weights, so every update is a training run, "
            "with the risk of forgetting what did not change."),
        Number(
            "An approach answers in 0.36 s per question (batched) on the CPU, priced at 0.10 dollars per hour. "
            "What is its CPU serving cost per 1,000 questions, in dollars?",
            0.01, 0.0005,
            "1,000 x 0.36 s = 360 s = 0.1 hour, and 0.1 hour x 0.10 dollars per hour = 0.01 dollars. The tempting "
            "36 (or 0.036) multiplies seconds by a price per hour without converting the seconds to hours.",
            unit="dollars"),
        Choice(
            "Why is latency measured in a fresh process, one question at a time, instead of taken from the "
            "batched evaluation?",
            ("A batch hides how long one customer waits, and a fresh process's peak memory is what a server for "
             "that approach alone needs.",
             "Because the batched runs are slower per answer.",
             "To give each approach a warm cache of the test questions' answers."),
            "a",
            "Customers ask one question at a time, so one question's wait is the latency that counts, and a "
            "process that loaded only one approach shows only that approach's memory. Batching usually lowers "
            "the cost per answer, which is why the serving cost uses the batched seconds; the single warm-up "
            "question only keeps first-call costs out of the timings, nothing is cached."),
        Choice(
            "The pre-update fine-tune writing answers from the fresh index (the hybrid) can fall below plain RAG "
            "on the changed questions. Why?",
            ("The hybrid retrieves from the old, stale index.",
             "The adapter was trained to answer from memory, on prompts without sources, so its memorised old "
             "facts can out-vote the retrieved passages.",
             "The hybrid uses a smaller language model than RAG."),
            "b",
            "The hybrid reads the same fresh index with the same SmolLM2, its adapter switched on. Trained to "
            "recite, the adapter can override what the passages say. A hybrid pays off when the fine-tune is "
            "trained for form on examples that include retrieved passages, and the facts stay in the documents."),
        Choice(
            "The custom classifier may score well here. Why would the rules still not suggest it for a support "
            "bot?",
            ("It is too slow to serve.",
             "It can only pick one of the known cards: it always answers something and never says \"I don't "
             "know\", which fails once customers ask what no card covers.",
             "It needs a GPU to train."),
            "b",
            "It is the fastest and smallest of the three, trained in seconds on a CPU; its limit is the closed "
            "set of answers. A support bot meets questions no card covers, and a classifier without an "
            "abstention threshold picks a card anyway (Your turn 3 adds one)."),
    ),
}
