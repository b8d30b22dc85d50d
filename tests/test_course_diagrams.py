"""The course diagrams: reproducible PNGs drawn from the code, checked when stale, embedded in notebooks."""

import base64
import io
import json

import nbformat
import pytest
from PIL import Image

from utils.core.paths import NOTEBOOKS_DIR
from utils.course import diagrams
from utils.course.diagrams import (
    FIGURES_DIR,
    NAMES,
    DiagramError,
    attachment_problems,
    embed_diagrams,
    render,
    stale_diagrams,
    write_diagrams,
)
from utils.course.labs import render as notebook_text


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """A folder holding the five diagrams as drawn now."""
    folder = tmp_path_factory.mktemp("figures")
    assert len(write_diagrams(folder)) == len(NAMES)
    return folder


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c) if isinstance(c, str) else c for c in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    path.write_text(notebook_text(nb))
    return path


@pytest.mark.parametrize("name", NAMES)
def test_a_diagram_is_the_same_bytes_every_time(name):
    first, second = render(name), render(name)
    assert first == second, f"{name}.png differs between two drawings"
    assert b"Software" not in first and b"matplotlib" not in first, "no version stamp in the PNG"
    image = Image.open(io.BytesIO(first))
    assert 900 <= image.size[0] <= 1200 and image.size[1] <= 1000, image.size
    assert len(first) < 150_000, "the diagrams are embedded in notebooks: keep each PNG small"


def test_the_committed_diagrams_are_current():
    stale = stale_diagrams()
    assert not stale, f"Stale {stale} in docs/figures/: run `make diagrams` and commit docs/figures/ and notebooks/."


def test_check_names_a_modified_or_missing_png(figures, tmp_path, capsys):
    folder = tmp_path / "figures"
    folder.mkdir()
    for name in NAMES:
        (folder / f"{name}.png").write_bytes((figures / f"{name}.png").read_bytes())
    assert stale_diagrams(folder) == []
    assert diagrams.main(["--check", "--figures", str(folder)]) == 0

    image = Image.open(folder / "lora.png").convert("RGB")
    image.putpixel((5, 5), (255, 0, 0))
    image.save(folder / "lora.png")
    (folder / "cnn.png").unlink()
    assert stale_diagrams(folder) == ["cnn.png", "lora.png"]
    capsys.readouterr()
    assert diagrams.main(["--check", "--figures", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "cnn.png, lora.png" in out and "make diagrams" in out

    assert diagrams.main(["--figures", str(folder)]) == 0     # redraws exactly the two
    assert stale_diagrams(folder) == []
    assert (folder / "lora.png").read_bytes() == (figures / "lora.png").read_bytes()


def test_the_same_pixels_from_another_png_encoder_are_current(figures, tmp_path):
    path = tmp_path / "side_by_side.png"
    Image.open(figures / "side_by_side.png").convert("RGB").save(path, compress_level=1)
    assert path.read_bytes() != (figures / "side_by_side.png").read_bytes()
    assert diagrams.is_current(path, "side_by_side")
    path.write_bytes(b"not a png")
    assert not diagrams.is_current(path, "side_by_side")


def test_embedding_sets_the_attachment_and_nothing_else(figures, tmp_path):
    code = nbformat.v4.new_code_cell("x = 1")
    path = _notebook(tmp_path / "lesson.ipynb", "# A lesson", "Some text, no picture.",
                     "LoRA in one picture:\n\n![The LoRA update](attachment:lora.png)\n", code,
                     "Both: ![a](attachment:cnn.png) and ![b](attachment:rag_pipeline.png)")
    before = path.read_text()
    problems = attachment_problems([path], figures)
    assert len(problems) == 3 and all("does not carry it" in p for p in problems), problems

    assert embed_diagrams([path], figures) == [path]
    after = path.read_text()
    assert after.endswith("}\n")
    old, new = json.loads(before), json.loads(after)
    encoded = {n: base64.b64encode((figures / f"{n}.png").read_bytes()).decode() for n in ("lora", "cnn", "rag_pipeline")}
    assert new["cells"][2]["attachments"] == {"lora.png": {"image/png": encoded["lora"]}}
    assert new["cells"][4]["attachments"] == {"cnn.png": {"image/png": encoded["cnn"]},
                                              "rag_pipeline.png": {"image/png": encoded["rag_pipeline"]}}
    for cell in new["cells"]:
        cell.pop("attachments", None)
    assert new == old, "embedding changed more than the attachments"
    assert attachment_problems([path], figures) == []

    assert embed_diagrams([path], figures) == [], "a current notebook is not rewritten"
    assert path.read_text() == after

    modified = tmp_path / "modified"
    modified.mkdir()
    for name in NAMES:
        (modified / f"{name}.png").write_bytes((figures / f"{name}.png").read_bytes())
    image = Image.open(modified / "lora.png").convert("RGB")
    image.putpixel((0, 0), (0, 0, 0))
    image.save(modified / "lora.png")
    problems = attachment_problems([path], modified)
    assert len(problems) == 1 and "lesson.ipynb cell 2 (cell-2)" in problems[0] and "differs" in problems[0]


def test_an_unknown_attachment_name_is_an_error(figures, tmp_path, capsys):
    path = _notebook(tmp_path / "typo.ipynb", "# Typo", "![LoRA](attachment:lora_update.png)")
    before = path.read_text()
    problems = attachment_problems([path], figures)
    assert len(problems) == 1 and "No diagram called 'lora_update.png'" in problems[0]
    assert "lora.png" in problems[0], "the error lists the names that exist"
    with pytest.raises(DiagramError, match="lora_update.png"):
        embed_diagrams([path], figures)
    assert path.read_text() == before, "nothing is written when a name is wrong"
    assert diagrams.main(["--embed", "--figures", str(figures), "--notebooks", str(path)]) == 2
    assert "No diagram called" in capsys.readouterr().err


def test_a_missing_figure_says_what_to_run(tmp_path):
    path = _notebook(tmp_path / "early.ipynb", "# Early", "![CNN](attachment:cnn.png)")
    (problem,) = attachment_problems([path], tmp_path / "empty")
    assert "missing" in problem and "make diagrams" in problem
    with pytest.raises(DiagramError, match="make diagrams"):
        embed_diagrams([path], tmp_path / "empty")
    with pytest.raises(DiagramError, match="No diagram called 'flowchart'"):
        render("flowchart")


def test_every_diagram_the_notebooks_show_is_embedded_and_current():
    """Passes while no notebook shows a diagram yet, and once they do: each reference names one of the five,
    and carries the committed PNG."""
    problems = attachment_problems(sorted(NOTEBOOKS_DIR.glob("*.ipynb")), FIGURES_DIR)
    assert not problems, "\n".join(problems)


def test_the_drawn_numbers_match_the_code():
    from utils.finetune.lora import DEFAULT_TARGET_MODULES
    from utils.vision.cnn import TinyCNN, describe_layers

    lora = diagrams.lora_numbers()
    assert lora.targets == DEFAULT_TARGET_MODULES
    assert lora.trainable == sum(lora.rank * (d + k) for d, k in diagrams.lora_layer_shapes().values()) * 30
    assert 1.5 < lora.percent < 2.0, "notebook 03 says LoRA trains under 2 % of the weights"
    channels = tuple(diagrams.notebook_parameters("02_custom_cnn")["CHANNELS"])
    assert describe_layers(TinyCNN(4, channels=channels), (1, 32, 32))[-1] == ("classifier", (4,), 260)


def test_smollm2_and_minilm_shapes_match_the_model_files():
    models = pytest.importorskip("utils.core.models")
    try:
        smollm2, minilm = models.model_folder("smollm2"), models.model_folder("minilm")
    except models.ModelUnavailableError:
        pytest.skip("the embedded models are not installed")
    from gguf import GGUFReader

    (gguf,) = smollm2.glob("*.gguf")
    reader = GGUFReader(gguf)

    def field(key):
        f = reader.fields[key]
        return int(f.parts[f.data[0]][0])

    expected = diagrams.SMOLLM2
    assert field("llama.embedding_length") == expected["hidden"]
    assert field("llama.feed_forward_length") == expected["intermediate"]
    assert field("llama.block_count") == expected["layers"]
    assert field("llama.attention.head_count") == expected["heads"]
    assert field("llama.attention.head_count_kv") == expected["kv_heads"]
    assert sum(int(t.n_elements) for t in reader.tensors) == expected["parameters"]
    assert json.loads((minilm / "config.json").read_text())["hidden_size"] == diagrams.MINILM_DIM
