"""The last step of ``make setup``: fail early, with a fix, if anything the course needs is missing.

Checks that the key libraries import and that both embedded models are installed and match
their sha256 in the manifest. It does not load the models (``notebooks/00`` does that).
"""

import importlib
import sys

from utils.core.models import ModelUnavailableError, verify_model

MODULES = ("torch", "transformers", "peft", "gguf", "safetensors", "sentence_transformers", "faiss",
           "sklearn", "matplotlib", "papermill", "ipywidgets", "rank_bm25")


def main() -> int:
    problems = []
    for module in MODULES:
        try:
            importlib.import_module(module)
        except ImportError as error:
            problems.append(f"cannot import {module} ({error}); run `make setup` again, or "
                            "`.venv/bin/python -m pip install -r requirements.txt`")
    for name in ("smollm2", "minilm"):
        try:
            verify_model(name)
        except ModelUnavailableError as error:
            problems.append(str(error))
    if problems:
        print("Set-up is incomplete:\n- " + "\n- ".join(problems), file=sys.stderr)
        return 1
    print("Set-up check passed: libraries import, embedded models verified.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
