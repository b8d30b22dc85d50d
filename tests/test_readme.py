"""The README's "Use it on your own documents" block runs as written, on the embedded models, offline."""

import re
import subprocess
import sys

from utils.core.paths import REPO_ROOT


def readme_block(section: str) -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)
    assert blocks, f"README section {section!r} has no python block"
    return blocks[0]


def test_the_own_documents_example_answers_from_the_new_documents(tmp_path):
    out = subprocess.run([sys.executable, "-c", readme_block("Use it on your own documents")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    answer, sources = out.stdout.strip().splitlines()[-1].split("| sources:")
    assert "returns" in sources, f"the returns policy should be retrieved: {out.stdout}"
    assert "45" in answer or "I don't know" not in answer, f"a grounded answer or quote was expected: {out.stdout}"
