"""Read the course's JSON Lines data files, with errors that name the file and the line."""

import json
from pathlib import Path


def read_jsonl(path: Path | str, missing_hint: str) -> list[dict]:
    """One object per non-blank line of ``path``.

    A missing file raises ``FileNotFoundError`` followed by ``missing_hint`` (where the data comes from);
    a line that is not JSON raises ``ValueError`` naming the file and the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {missing_hint}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path.name}, line {number} is not valid JSON: {error}.") from error
    return rows
