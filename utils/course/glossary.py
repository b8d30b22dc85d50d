"""The course glossary (``docs/glossary.md``) and the anchors that link into it.

A glossary entry is a ``### Term`` heading; links reach it by the anchor GitHub gives a heading, which the course
site gives it too: ``[LoRA](../docs/glossary.md#lora)``. The report, the site and the tests derive anchors here.
"""

import re

from utils.core.paths import REPO_ROOT

GLOSSARY_PATH = REPO_ROOT / "docs" / "glossary.md"
TERM_LEVEL = 3  # ### Term
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def github_slug(text: str, seen: dict[str, int] | None = None) -> str:
    """GitHub's heading anchor: lower case, punctuation except '-' and '_' dropped, spaces to '-'.

    ``"p50 / p95"`` → ``"p50--p95"``, ``"nDCG"`` → ``"ndcg"``. With ``seen`` (one dict per page), a repeated
    heading gets ``-1``, ``-2``, … as on GitHub.
    """
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    if seen is not None:
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            slug = f"{slug}-{count}"
    return slug


def markdown_headings(markdown: str, level: int | None = None) -> list[str]:
    """The text of every markdown heading (``level`` 3: only ``### …``, the glossary's terms), in order."""
    return [text for marks, text in _HEADING.findall(markdown) if level is None or len(marks) == level]
