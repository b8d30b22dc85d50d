"""Is a success criterion measurable? It names a metric, a target value with its unit, and the
data it is measured on.
"""



_METRIC = (r"accura|precision|recall|\bf1\b|f-score|error|false (positive|negative|alarm)|miss|\bauc\b|\bmae\b|"
           r"\brmse\b|latenc|\bp9[059]\b|response time|resol|deflect|escalat|satisf|\bcsat\b|\bnps\b|hit rate|"
           r"faithful|grounded|citation|\bcite|correct|agree|throughput|cost|defect|detect|top-\d|exact match|"
           r"win rate|@\d")


_UNIT_OR_CONDITION = (r"%|percent|\bms\b|millisecond|second|\d\s*s\b|minute|hour|\bday|week|month|\$|\busd\b|dollar|"
                      r"€|\beur\b|\bper\b|out of|held[- ]out|hold[- ]?out|test set|validation|\bon (a|an|the|our)\b|"
                      r"within|\bover (a|an|the)\b|during|for (each|every)|\bmeasured\b|baseline")


def success_criterion_gaps(text: str) -> list[str]:
    """What a written success criterion still lacks: a metric, a threshold number, a unit or condition.

    An empty list means it is measurable: "recall of at least 95 % on a held-out set of
    1,000 images" passes; "make the support bot better" lacks all three.
    """
    import re

    if not isinstance(text, str):
        raise ValueError(f"A success criterion is a sentence (str), got {type(text).__name__}.")
    lowered = text.lower()
    gaps = []
    if not re.search(_METRIC, lowered):
        gaps.append("name the metric you will measure (accuracy, recall, false alarms, latency, "
                    "resolution rate, cost per answer, ...)")
    if not re.search(r"\d", lowered):
        gaps.append("give the threshold as a number (e.g. 'at least 95', 'under 800')")
    if not re.search(_UNIT_OR_CONDITION, lowered):
        gaps.append("say the unit or the condition it is measured under ('%', 'ms', '$ per month', "
                    "'on a held-out set of 500 tickets', ...)")
    return gaps
