"""Prompt-injection filtering: retrieved text is data, so sentences that try to act as a prompt are
found and removed before a source reaches the model.
"""

import re

# Instruction-like text has no business in a support document. Deliberately simple patterns: they show
# the idea (retrieved text is data; strip what tries to act as a prompt) and catch the planted document.
# A production filter would add a trained classifier and send flagged documents to a person.
INJECTION = re.compile("|".join(f"(?:{p})" for p in [
    r"\b(ignore|disregard|forget)\b[^.\n]{0,40}\b(instructions?|sources?|rules|prompts?|above)\b",
    r"\byou are now\b",
    r"\b(system|developer)\s+(note|prompt|message|instruction)s?\b",
    r"\b(maintenance|developer|god|jailbreak)\s+mode\b",
    r"\b(send|share|give|provide)\b[^.\n]{0,40}\b(bank details|password|credit card|pin)\b",
    r"\btell (every|all|each) (customer|user)s?\b",
]), re.IGNORECASE)


SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


def find_injections(text: str) -> list[str]:
    """The sentences of ``text`` that read like instructions to the model rather than information."""
    return [s.strip() for s in SENTENCE.findall(text) if INJECTION.search(s)]


def strip_injections(text: str) -> str:
    """``text`` without its instruction-like sentences."""
    return "".join(s for s in SENTENCE.findall(text) if not INJECTION.search(s))
