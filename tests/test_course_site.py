"""The course site (utils.course.site), built from a tiny synthetic course in a temporary folder: no kernel, no browser.

The browser check of the real site (every page loaded in Chromium) is tests/test_browser_site.py.
"""

import base64
import json
import re
import struct
import zlib
from pathlib import Path

import nbformat
import pytest

from utils.course import site

# A 2×2 red PNG, made here so the test needs no file.
_PIXELS = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))


def _png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(_PIXELS)) + chunk(b"IEND", b""))


PNG = _png()
PNG_B64 = base64.b64encode(PNG).decode("ascii")

FIRST = """# 01 · Alpha: the first step

*About 10 seconds in full mode.*

Alpha teaches the first thing, with $W + \\tfrac{\\alpha}{r} BA$ in it.

Next: [notebook 02](02_beta.ipynb#Part-two), the [lab](../labs/lab_01_alpha.ipynb), the
[glossary's LoRA](../docs/glossary.md#lora), [top-k](../docs/glossary.md#top-k-retrieval),
[the report](../build/report.html), [the retriever](../utils/retrieval.py#L2),
[the workshop](../docs/workshop.md#one-server), [a site](https://example.com/page?x=1#y),
[the utils folder](../utils/), [the README](../README.md).

![a figure](../docs/figures/curve.png), ![a diagram](../utils/diagram.svg) and an attachment:
![pasted](attachment:pasted.png) <img alt="as HTML" src="attachment:pasted.png">
"""


def _notebook(markdown: str, executed: bool, smoke: bool = True, extra_markdown: str = "") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python"}
    cell = nbformat.v4.new_markdown_cell(markdown)
    cell.id = "intro"
    if "attachment:pasted.png" in markdown:
        cell.attachments = {"pasted.png": {"image/png": PNG_B64}}
    code = nbformat.v4.new_code_cell("print('hello')")
    code.id = "code"
    nb.cells = [cell, code]
    if extra_markdown:
        more = nbformat.v4.new_markdown_cell(extra_markdown)
        more.id = "more"
        nb.cells.append(more)
    if executed:
        code.execution_count = 1
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
                        nbformat.v4.new_output("display_data", data={"image/png": PNG_B64, "text/plain": "<Figure>"})]
        nb.metadata["papermill"] = {"parameters": {"SMOKE": smoke}, "end_time": "2026-01-01T00:00:00",
                                    "exception": None}
    return nb


@pytest.fixture
def course(tmp_path) -> dict[str, Path]:
    """A repository with two notebooks, one lab, docs, a figure and a source file; executed copies in build/."""
    repo, build = tmp_path / "repo", tmp_path / "repo" / "build"
    for folder in ("notebooks", "solutions", "labs", "docs/figures", "utils", "executed"):
        (repo / folder if folder != "executed" else build / folder).mkdir(parents=True)
    second = "# 02 · Beta\n\nBeta builds on alpha.\n\n## Part two\n\nBack to [alpha](01_alpha.ipynb)."
    lab = "# Lab 01 · Alpha by hand\n\nWrite alpha yourself; see [notebook 01](../notebooks/01_alpha.ipynb)."
    for name, text in [("01_alpha", FIRST), ("02_beta", second)]:
        nbformat.write(_notebook(text, executed=False), repo / "notebooks" / f"{name}.ipynb")
        nbformat.write(_notebook(text, executed=True), build / "executed" / f"{name}.ipynb")
    nbformat.write(_notebook(lab, executed=False), repo / "solutions" / "lab_01_alpha.ipynb")
    nbformat.write(_notebook(lab, executed=False), repo / "labs" / "lab_01_alpha.ipynb")
    (repo / "docs" / "glossary.md").write_text(
        "# Glossary\n\n### LoRA\n\nLow-rank adapters; see [notebook 02](../notebooks/02_beta.ipynb).\n\n"
        "### Top-k (retrieval)\n\nThe k best passages.\n")
    (repo / "docs" / "workshop.md").write_text("# Workshop\n\n## One server\n\nFor the room.\n")
    (repo / "docs" / "figures" / "curve.png").write_bytes(PNG)
    (repo / "utils" / "retrieval.py").write_text("def retrieve():\n    return []\n")
    (repo / "utils" / "diagram.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    (repo / "README.md").write_text("| notebook | what you do | lab |\n|---|---|---|\n"
                                    "| `01_alpha` | the first step, with `code` | `lab_01_alpha` |\n")
    (build / "report.html").write_text("<!DOCTYPE html><html><body><h1>Report</h1></body></html>\n")
    (build / "results").mkdir()
    (build / "results" / "01_alpha.json").write_text(json.dumps({"notebook": "01_alpha", "smoke": True,
                                                                 "seconds": 72.4}))
    return {"repo": repo, "source": build / "executed", "out": tmp_path / "site", "build": build}


def _build(course) -> list[str]:
    return site.build_site(course["source"], course["out"], repo=course["repo"])


def _page(course, name: str) -> str:
    return (course["out"] / name).read_text(encoding="utf-8")


def _hrefs(page: str) -> list[str]:
    return [value for tag, attribute, value in site.parse_page(page).refs if attribute == "href"]


def test_index_lists_notebooks_then_labs_in_teaching_order_with_times(course):
    pages = _build(course)
    assert {"index.html", "01_alpha.html", "02_beta.html", "lab_01_alpha.html", "glossary.html",
            "workshop.html", "report.html"} <= set(pages)
    index = _page(course, "index.html")
    order = [index.index(f'href="{name}.html"') for name in ("01_alpha", "02_beta")]
    assert order == sorted(order) and index.index('href="lab_01_alpha.html"') > order[0]
    assert "01 · Alpha: the first step" in index and "02 · Beta" in index
    assert "the first step, with <code>code</code>" in index          # from the README's table
    assert "Beta builds on alpha." in index                           # from the notebook, where README has no row
    assert "1 min 12 s measured (smoke mode)" in index and "none measured" in index
    assert re.search(r"~1 min \(\d+ words\)", index)
    assert 'href="glossary.html"' in index and 'href="report.html"' in index


def test_every_notebook_and_lab_page_has_previous_next_and_the_map(course):
    _build(course)
    first, second, lab = (_hrefs(_page(course, name)) for name in ("01_alpha.html", "02_beta.html",
                                                                    "lab_01_alpha.html"))
    assert "index.html" in first and "02_beta.html" in first
    assert {"index.html", "01_alpha.html", "lab_01_alpha.html"} <= set(second)
    assert "index.html" in lab and "02_beta.html" in lab
    assert 'rel="next"' not in _page(course, "lab_01_alpha.html")     # the last page has no next


def test_links_are_rewritten_to_site_pages_and_copies(course):
    _build(course)
    hrefs = _hrefs(_page(course, "01_alpha.html"))
    for expected in ("02_beta.html#Part-two", "lab_01_alpha.html", "glossary.html#lora",
                     "glossary.html#top-k-retrieval", "report.html", "source/utils/retrieval.py.html#L2",
                     "workshop.html#one-server", "https://example.com/page?x=1#y"):
        assert expected in hrefs, (expected, hrefs)
    assert not [h for h in hrefs if h.endswith((".ipynb", ".md")) or ".ipynb#" in h or ".md#" in h]
    assert (course["out"] / "figures" / "curve.png").read_bytes() == PNG
    assert 'src="figures/curve.png"' in _page(course, "01_alpha.html")
    assert 'src="source/utils/diagram.svg"' in _page(course, "01_alpha.html")      # an image is copied as it is
    assert (course["out"] / "source" / "utils" / "diagram.svg").read_text().startswith("<svg")
    glossary = _page(course, "glossary.html")
    assert 'id="lora"' in glossary and 'id="top-k-retrieval"' in glossary
    assert 'href="02_beta.html"' in glossary                          # docs links are rewritten too
    assert 'id="L2"' in _page(course, "source/utils/retrieval.py.html")
    assert "source/utils/index.html" in hrefs
    assert "<code>retrieval.py</code>" in _page(course, "source/utils/index.html")
    assert "source/README.md.html" in hrefs and "<table>" in _page(course, "source/README.md.html")  # rendered


def test_widgets_become_static_progress_bars_or_a_note(course):
    nb = _notebook("# 02 · Beta\n\n## Part two", executed=True)
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    nb.cells[1].outputs += [
        nbformat.v4.new_output("display_data", data={site.WIDGET_VIEW: view, "text/plain": "training:   0%|"}),
        nbformat.v4.new_output("display_data", data={site.WIDGET_VIEW: {**view, "model_id": "panel"},
                                                     "text/plain": "HBox(children=(Dropdown(...),))"})]
    models = {"box": ("HBoxModel", {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]}),
              "left": ("HTMLModel", {"value": "training:\u2007100%"}),
              "bar": ("FloatProgressModel", {"value": 4.0, "max": 4.0}),
              "right": ("HTMLModel", {"value": "\u20074/4\u2007[00:11&lt;00:00]"}),
              "panel": ("HBoxModel", {"children": []})}
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": {key: {"model_name": name, "state": state}
                                                            for key, (name, state) in models.items()}}}
    nbformat.write(nb, course["source"] / "02_beta.ipynb")
    _build(course)
    page = _page(course, "02_beta.html")
    assert '<progress max="4" value="4"></progress>' in page and "training:\u2007100%" in page
    assert "4/4\u2007[00:11&lt;00:00]" in page and "0%|" not in page
    assert "An interactive control was here" in page and "HBox(children" not in page


def test_attachments_and_figures_are_inline_and_no_page_loads_a_script(course):
    _build(course)
    page = _page(course, "01_alpha.html")
    assert f'src="data:image/png;base64,{PNG_B64}"' in page           # the markdown cell's attachment
    assert "attachment:pasted" not in page
    assert page.count(f"data:image/png;base64,{PNG_B64}") >= 3        # markdown, <img> in the markdown, output
    assert "<math" in page and "<mfrac>" in page                      # $...$ is MathML, no MathJax
    for path in sorted(course["out"].rglob("*.html")):
        text, name = path.read_text(encoding="utf-8"), path.name
        assert not re.search(r"<script[^>]*\bsrc=", text), name
        assert not re.search(r"<(script|link)[^>]*https?://", text), name
        assert "cdnjs" not in text and "require.js" not in text, name


def test_a_lab_without_an_executed_copy_says_so_and_an_executed_one_is_used(course, tmp_path):
    _build(course)
    assert "Shown without outputs" in _page(course, "lab_01_alpha.html")
    solutions = tmp_path / "executed-solutions"
    solutions.mkdir()
    nbformat.write(_notebook("# Lab 01 · Alpha by hand\n\nDone.", executed=True), solutions / "lab_01_alpha.ipynb")
    sources = site.Sources(course["source"], solutions, None, course["build"] / "results")
    site.build_site(course["source"], course["out"], repo=course["repo"], sources=sources)
    lab = _page(course, "lab_01_alpha.html")
    assert "Shown without outputs" not in lab and "smoke run" in lab and "hello" in lab
    assert "none for this run" in _page(course, "index.html")         # no report: the index says so, no link
    assert 'href="report.html"' not in _page(course, "index.html")


def test_the_layouts_of_make_course_smoke_and_test(tmp_path):
    full = site.locate_sources(tmp_path / "build" / "executed")
    assert full.results == tmp_path / "build" / "results" and full.solutions is None and full.report is None
    tested = tmp_path / "build" / "test" / "test-executed"
    (tested / "solutions").mkdir(parents=True)
    (tested / "solutions" / "lab_01_x.ipynb").write_text("{}")
    (tmp_path / "build" / "test" / "report.html").write_text("<html></html>")
    layout = site.locate_sources(tested / "notebooks")
    assert layout.solutions == tested / "solutions" and layout.results == tmp_path / "build" / "test" / "results"
    assert layout.report == tmp_path / "build" / "test" / "report.html"


def test_the_same_input_gives_the_same_bytes(course, tmp_path):
    _build(course)
    first = {p.relative_to(course["out"]): p.read_bytes() for p in course["out"].rglob("*") if p.is_file()}
    site.build_site(course["source"], tmp_path / "again", repo=course["repo"])
    again = {p.relative_to(tmp_path / "again"): p.read_bytes() for p in (tmp_path / "again").rglob("*")
             if p.is_file()}
    assert first == again


def test_a_missing_or_incomplete_source_names_what_is_missing_and_what_to_run(course):
    (course["source"] / "02_beta.ipynb").unlink()
    with pytest.raises(site.SiteError) as error:
        _build(course)
    message = str(error.value)
    assert "02_beta.ipynb" in message and "01_alpha" not in message
    assert "make course" in message and "--from build/smoke/executed" in message
    with pytest.raises(site.SiteError, match="does not exist.*make course"):
        site.build_site(course["repo"] / "nowhere", course["out"], repo=course["repo"])
    running = _notebook("# 02 · Beta", executed=True)
    running.metadata["papermill"]["end_time"] = None               # papermill is still writing it
    nbformat.write(running, course["source"] / "02_beta.ipynb")
    with pytest.raises(site.SiteError, match="02_beta.ipynb .not run to the end"):
        _build(course)


def test_a_broken_relative_link_fails_the_build_with_the_list(course):
    broken = _notebook("# 02 · Beta\n\n## Part two\n\nSee [nothing](03_missing.ipynb) and "
                       "![gone](../docs/figures/gone.png).", executed=True)
    nbformat.write(broken, course["source"] / "02_beta.ipynb")
    with pytest.raises(site.SiteError) as error:
        _build(course)
    message = str(error.value)
    assert "03_missing.ipynb" in message and "gone.png" in message and "2 broken link" in message, message
    no_part_two = _notebook("# 02 · Beta\n\nNo part two any more.", executed=True)
    nbformat.write(no_part_two, course["source"] / "02_beta.ipynb")
    with pytest.raises(site.SiteError, match="no id 'Part-two' on 02_beta.html"):  # 01 links to 02's heading
        _build(course)


def test_a_missing_attachment_is_reported_not_a_traceback(course):
    nbformat.write(_notebook("# 02 · Beta\n\n## Part two\n\n![flow](attachment:flow.png)", executed=True),
                   course["source"] / "02_beta.ipynb")
    with pytest.raises(site.SiteError, match="'attachment:flow.png' names an attachment its markdown cell does not"):
        _build(course)


def test_the_link_checker_finds_missing_files_fragments_and_network_loads(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a><a href="b.html#nowhere">b</a>'
                                     '<a href="c.html">c</a><img src="https://cdn.example/x.png">'
                                     '<a href="https://ok.example/">ok</a><a href="http://">bad</a>'
                                     '<pre>href="not-a-tag.html"</pre>')
    (tmp_path / "b.html").write_text('<h2 id="there">There</h2>')
    problems = "\n".join(site.check_site(tmp_path))
    assert "nowhere" in problems and "c.html" in problems and "loads from the network" in problems
    assert "malformed external link 'http://'" in problems
    assert "#there" not in problems and "ok.example" not in problems and "not-a-tag" not in problems


def test_an_unknown_folder_is_never_replaced(course, tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "thesis.txt").write_text("do not delete")
    with pytest.raises(site.SiteError, match="Refusing to replace"):
        site.build_site(course["source"], keep, repo=course["repo"])
    assert (keep / "thesis.txt").exists()


def test_github_slugs_and_tex():
    seen = {}
    assert site.github_slug("Top-k (retrieval)", seen) == "top-k-retrieval"
    assert site.github_slug("One server for the room (JupyterHub)", seen) == "one-server-for-the-room-jupyterhub"
    assert site.github_slug("Top-k (retrieval)", seen) == "top-k-retrieval-1"
    assert "<msub><mi>d</mi>" in site.tex_to_mathml(r"d_{out} \times d_{in}")
    assert site.tex_to_mathml(r"\unknowncommand x") == '<code class="site-tex">$\\unknowncommand x$</code>'
