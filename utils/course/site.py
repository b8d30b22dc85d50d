"""The course as a static website: every executed notebook and worked lab as a page, offline, in one folder.

    python -m utils.course.site                                  # from build/executed/ (make course) into build/site/
    python -m utils.course.site --from build/smoke/executed      # from a smoke run (make smoke)
    python -m utils.course.site --from build/test/test-executed/notebooks   # the smoke copies `make test` leaves
    make site FROM=build/smoke/executed                          # the same through make

It reads notebooks that were already executed (it never runs one) and writes ``index.html`` (the course map: each
notebook's number, title, what it teaches, its lab, its measured run time and a reading time), one page per
notebook (``00_environment_check.html``, ...), one per worked lab (``lab_01_choosing.html``, ...; the executed copy
when the source has one, e.g. ``build/test/test-executed/solutions/``, else the committed solution without
outputs), one per ``docs/*.md`` (the glossary is ``glossary.html``, headings with GitHub-style ids), and the run's
``report.html``. Notebook and lab pages link to the previous and next page in teaching order and to the map.

The site needs no network and no server: figures are inline (outputs and cell attachments are data URIs), math is
MathML (drawn by the browser), and no page loads a script. Links are rewritten: ``02_custom_cnn.ipynb`` →
``02_custom_cnn.html``, ``../labs/lab_02_custom_cnn.ipynb`` → the lab page, ``../docs/glossary.md#lora`` →
``glossary.html#lora``, ``../docs/figures/x.png`` → ``figures/x.png`` (copied), ``../build/report.html`` →
``report.html``; any other repository file a page links to is copied under ``source/`` (text files as a page with
line anchors ``#L12``, markdown rendered). At the end the builder checks every local ``href`` and ``src`` of every
page, fragments included, and fails with the list of broken ones. The same input gives the same bytes.
"""

import argparse
import copy
import html
import json
import math
import os
import posixpath
import re
import shutil
import sys
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import nbformat

from utils.core.paths import REPO_ROOT, build_dir
from utils.course.glossary import TERM_LEVEL, github_slug, markdown_headings

TEMPLATE_DIR = Path(__file__).with_name("site_template")
MARKER = ".crossroads-site"          # written into every site folder; only such a folder is ever replaced
WORDS_PER_MINUTE = 200               # reading speed for the reading-time estimate
TEXT_PAGE_LIMIT = 1_000_000          # bytes: a larger linked file is copied as it is instead of shown as a page
RAW_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".pdf"}   # always copied as they are
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SITE_SCHEME = "site:"                # marks the builder's own links, which the link rewriter passes through as they are
WIDGET_NOTE = ("<p class=\"site-widget-note\">An interactive control was here: it needs a running kernel. Open the "
               "notebook in JupyterLab (<code>make lab</code>) to use it.</p>")


class SiteError(RuntimeError):
    """What is missing or broken, in words a learner can act on."""


# ----------------------------------------------------------------------------------------------------------- sources

@dataclass(frozen=True)
class Sources:
    """Where a run left its outputs: the executed notebooks and what lies beside them."""
    notebooks: Path                  # NN_name.ipynb, executed
    solutions: Path | None           # lab_*.ipynb, executed (make test's copies), if the run has them
    report: Path | None              # the run's report.html, if any
    results: Path                    # NN_name.json with "seconds" (utils.course.results)


def locate_sources(source: Path) -> Sources:
    """The folders beside ``source``, for the three layouts the course writes.

    ``make course``: build/executed/ (report and results in build/); ``make smoke``: build/smoke/executed/ (in
    build/smoke/); ``make test``: build/test/test-executed/notebooks/ with solutions/ beside it (results in
    build/test/results/, no report).
    """
    source = Path(source)
    if source.parent.name == "test-executed":
        root, solutions = source.parent.parent, source.parent / "solutions"
    else:
        root, solutions = source.parent, source
    report = root / "report.html"
    has_labs = solutions.is_dir() and any(solutions.glob("lab_*.ipynb"))
    return Sources(source, solutions if has_labs else None, report if report.is_file() else None, root / "results")


def missing_notebooks(source: Path, notebooks: list[Path]) -> list[str]:
    """Names of the course notebooks with no executed copy in ``source`` that ran to the end."""
    missing = []
    for notebook in notebooks:
        executed = Path(source) / notebook.name
        if not executed.is_file():
            missing.append(notebook.name)
            continue
        try:
            papermill = nbformat.read(executed, as_version=4).metadata.get("papermill", {})
        except Exception:  # noqa: BLE001 - any unreadable file is "not there" for the site
            missing.append(f"{notebook.name} (unreadable)")
            continue
        if papermill and not papermill.get("end_time"):
            missing.append(f"{notebook.name} (not run to the end: still running, or interrupted)")
    return missing


def _shown(path: Path, repo: Path) -> str:
    """A path as the site and its messages show it: relative to the repository, never a machine's absolute path."""
    path = Path(os.path.abspath(path))
    for root in (Path(os.path.abspath(repo)), REPO_ROOT):
        try:
            return path.relative_to(root).as_posix() or "."
        except ValueError:
            pass
    return "…/" + "/".join(path.parts[-2:])


def _missing_source_message(source: Path, missing: list[str], repo: Path) -> str:
    where = _shown(source, repo)
    what = (f"{where}/ does not exist" if not Path(source).is_dir()
            else f"{where}/ lacks {len(missing)} executed notebook(s): {', '.join(missing)}")
    return (f"Cannot build the site: {what}. The site shows notebooks that were already executed; it runs none. "
            f"Run `make course` (executes every notebook in full mode into build/executed/), or build from a smoke "
            f"run: `make smoke`, then `make site FROM=build/smoke/executed` (python -m utils.course.site --from "
            f"build/smoke/executed); `make test` leaves smoke copies in build/test/test-executed/notebooks.")


# ------------------------------------------------------------------------------------------------- TeX to MathML

_GREEK = {name: chr(code) for name, code in [
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3F5),
    ("varepsilon", 0x3B5), ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8), ("iota", 0x3B9), ("kappa", 0x3BA),
    ("lambda", 0x3BB), ("mu", 0x3BC), ("nu", 0x3BD), ("xi", 0x3BE), ("pi", 0x3C0), ("rho", 0x3C1),
    ("sigma", 0x3C3), ("tau", 0x3C4), ("phi", 0x3D5), ("varphi", 0x3C6), ("chi", 0x3C7), ("psi", 0x3C8),
    ("omega", 0x3C9), ("Gamma", 0x393), ("Delta", 0x394), ("Theta", 0x398), ("Lambda", 0x39B), ("Pi", 0x3A0),
    ("Sigma", 0x3A3), ("Phi", 0x3A6), ("Psi", 0x3A8), ("Omega", 0x3A9), ("infty", 0x221E), ("partial", 0x2202),
    ("nabla", 0x2207), ("ell", 0x2113)]}
_OPERATORS = {
    "times": "×", "cdot": "⋅", "pm": "±", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠",
    "approx": "≈", "sim": "∼", "propto": "∝", "to": "→", "rightarrow": "→",
    "longrightarrow": "⟶", "mapsto": "↦", "leftarrow": "←", "Rightarrow": "⇒",
    "in": "∈", "sum": "∑", "prod": "∏", "int": "∫", "cdots": "⋯", "ldots": "…", "dots": "…", "mid": "∣",
    "lvert": "|", "rvert": "|", "{": "{", "}": "}", "%": "%", "#": "#", "&": "&", "langle": "⟨", "rangle": "⟩",
    "ll": "≪", "gg": "≫", "equiv": "≡", "circ": "∘"}
_FUNCTIONS = {"log", "ln", "exp", "min", "max", "arg", "sin", "cos", "tan", "tanh", "lim", "det", "dim", "Pr"}
_DOUBLE_STRUCK = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
_SPACES = {",": "0.1667em", ":": "0.2222em", ";": "0.2778em", " ": "0.25em", "quad": "1em", "qquad": "2em"}
_ACCENTS = {"hat": "^", "bar": "‾", "tilde": "~", "vec": "→", "dot": "˙", "overline": "‾"}
_MO_CHARACTERS = {"-": "−", "*": "∗", "'": "′"}
_TEX_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([A-Za-z])|([0-9]+(?:\.[0-9]+)?)|(\s+)|(.)", re.S)


class _TexUnsupported(ValueError):
    pass


class _TexToMathML:
    """The small part of TeX the course's markdown uses (letters, numbers, sub/superscripts, fractions, Greek,
    common operators and functions) as MathML Core; anything else raises, and the caller shows the TeX."""

    def __init__(self, tex: str):
        self.tokens = [m for m in _TEX_TOKEN.finditer(tex) if not m.group(4)]
        self.i = 0

    def convert(self) -> str:
        row = self.row(closing=False)
        if self.i != len(self.tokens):
            raise _TexUnsupported("unbalanced braces")
        return row

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise _TexUnsupported("ends too early")
        self.i += 1
        return token

    def row(self, closing: bool) -> str:
        items = []
        while (token := self.peek()) is not None:
            if token.group(0) == "}":
                if not closing:
                    raise _TexUnsupported("unbalanced braces")
                self.i += 1
                return _mrow(items)
            base = "<mrow></mrow>" if token.group(0) in "_^" else self.atom()
            sub = sup = None
            while (after := self.peek()) is not None and after.group(0) in ("_", "^"):
                self.i += 1
                if after.group(0) == "_":
                    sub = self.argument()
                else:
                    sup = self.argument()
            if sub and sup:
                base = f"<msubsup>{base}{sub}{sup}</msubsup>"
            elif sub:
                base = f"<msub>{base}{sub}</msub>"
            elif sup:
                base = f"<msup>{base}{sup}</msup>"
            items.append(base)
        if closing:
            raise _TexUnsupported("unbalanced braces")
        return _mrow(items)

    def argument(self) -> str:
        token = self.peek()
        if token is not None and token.group(0) == "{":
            self.i += 1
            return self.row(closing=True)
        return self.atom()

    def raw_group(self) -> str:
        if self.take().group(0) != "{":
            raise _TexUnsupported("expected {")
        depth, text = 1, []
        while True:
            token = self.take()
            depth += {"{": 1, "}": -1}.get(token.group(0), 0)
            if depth == 0:
                return "".join(text)
            text.append(token.group(0))

    def atom(self) -> str:
        token = self.take()
        command, letter, number, _, other = token.groups()
        if letter:
            return f"<mi>{letter}</mi>"
        if number:
            return f"<mn>{number}</mn>"
        if other is not None:
            if other == "{":
                return self.row(closing=True)
            if other == "~":
                return '<mspace width="0.25em"></mspace>'
            if other in "&\\$":
                raise _TexUnsupported(other)
            return f"<mo>{html.escape(_MO_CHARACTERS.get(other, other))}</mo>"
        if command in ("frac", "tfrac", "dfrac"):
            return f"<mfrac>{self.argument()}{self.argument()}</mfrac>"
        if command == "sqrt":
            return f"<msqrt>{self.argument()}</msqrt>"
        if command in _GREEK:
            return f"<mi>{_GREEK[command]}</mi>"
        if command in _OPERATORS:
            return f"<mo>{html.escape(_OPERATORS[command])}</mo>"
        if command in _FUNCTIONS:
            return f'<mi mathvariant="normal">{command}</mi>' if len(command) == 1 else f"<mi>{command}</mi>"
        if command in _SPACES:
            return f'<mspace width="{_SPACES[command]}"></mspace>'
        if command == "!":
            return ""
        if command in ("text", "mathrm", "operatorname", "textrm", "mathit", "mathbf", "textbf"):
            text = html.escape(self.raw_group())
            if command.startswith("text"):
                return f"<mtext>{text}</mtext>"
            if command in ("mathbf",):
                return f'<mi style="font-weight: bold">{text}</mi>'
            return f'<mi mathvariant="normal">{text}</mi>' if len(text) == 1 and command != "mathit" else \
                f"<mi>{text}</mi>"
        if command == "mathbb":
            letters = self.raw_group()
            if not all(letter in _DOUBLE_STRUCK for letter in letters):
                raise _TexUnsupported(f"\\mathbb{{{letters}}}")
            return "".join(f"<mi>{_DOUBLE_STRUCK[letter]}</mi>" for letter in letters)
        if command in _ACCENTS:
            return f'<mover accent="true">{self.argument()}<mo>{_ACCENTS[command]}</mo></mover>'
        if command in ("left", "right", "big", "Big", "displaystyle", "textstyle"):
            return ""
        raise _TexUnsupported(f"\\{command}")


def _mrow(items: list[str]) -> str:
    items = [item for item in items if item]
    return items[0] if len(items) == 1 else f"<mrow>{''.join(items)}</mrow>"


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """``$...$`` as MathML the browser draws itself; TeX outside the supported subset is shown as TeX code."""
    delimiter = "$$" if display else "$"
    try:
        body = _TexToMathML(tex).convert()
    except _TexUnsupported:
        block = ' style="display: block"' if display else ""
        return f'<code class="site-tex"{block}>{html.escape(delimiter + tex + delimiter)}</code>'

    annotation = f'<annotation encoding="application/x-tex">{html.escape(tex)}</annotation>'
    return (f'<math display="{"block" if display else "inline"}"><semantics>{body}{annotation}</semantics></math>')


# ---------------------------------------------------------------------------------------------------- the exporter

_EXPORTER = None
_ATTACHMENT_SRC = re.compile(r"""(\bsrc\s*=\s*(["']))(attachment:[^"']*)\2""")


def _exporter():
    """nbconvert's HTMLExporter with the site template and MathML for ``$...$`` (built once per process)."""
    global _EXPORTER
    if _EXPORTER is None:
        from jinja2 import pass_context
        from nbconvert import HTMLExporter
        from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

        class SiteRenderer(IPythonRenderer):
            missing: list[str]           # names of attachments the cell refers to but does not carry

            def _embed_image_or_attachment(self, src: str) -> str:
                name = src.removeprefix("attachment:")
                if src.startswith("attachment:") and name not in self.attachments:
                    self.missing.append(name)  # reported by the builder (nbconvert would raise on the first)
                    return src
                return super()._embed_image_or_attachment(src)

            def _attachments_in_html(self, text: str) -> str:  # <img src="attachment:..."> written as HTML
                return _ATTACHMENT_SRC.sub(lambda m: m.group(1) + self._embed_image_or_attachment(m.group(3))
                                           + m.group(2), text)

            def block_html(self, text: str) -> str:
                return super().block_html(self._attachments_in_html(text))

            def inline_html(self, text: str) -> str:
                return super().inline_html(self._attachments_in_html(text))

            def inline_math(self, body: str) -> str:
                return tex_to_mathml(body)

            def block_math(self, body: str) -> str:
                return tex_to_mathml(body, display=True)

            def latex_environment(self, name: str, body: str) -> str:
                source = f"\\begin{{{name}}}{body}\\end{{{name}}}"
                return f'<pre><code class="site-tex">{html.escape(source)}</code></pre>'

        class SiteExporter(HTMLExporter):
            @pass_context
            def markdown2html(self, context, source):
                cell = context.get("cell", {})
                renderer = SiteRenderer(escape=False, attachments=cell.get("attachments", {}),
                                        embed_images=False, anchor_link_text=self.anchor_link_text,
                                        exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
                renderer.missing = context.get("resources", {}).get("site_missing_attachments", [])
                return MarkdownWithMath(renderer=renderer).render(source)

        _EXPORTER = SiteExporter(template_name=TEMPLATE_DIR.name, extra_template_basedirs=[str(TEMPLATE_DIR.parent)])
    return _EXPORTER


def _widget_html(model_id: str, state: dict) -> str:
    """A widget output as static HTML: a tqdm progress bar as its final text and bar, anything else as a note."""
    def model(ref: str) -> dict:
        return state.get(ref.removeprefix("IPY_MODEL_"), {})

    box = model(model_id)
    children = [model(ref) for ref in box.get("state", {}).get("children", [])]
    names = [child.get("model_name") for child in children]
    if box.get("model_name") == "HBoxModel" and names[:1] == ["HTMLModel"] and len(names) == 3 \
            and names[1] in ("FloatProgressModel", "IntProgressModel") and names[2] == "HTMLModel":
        left, bar, right = (child.get("state", {}) for child in children)

        def text(widget_state):
            return html.escape(html.unescape(re.sub(r"<[^>]*>", "", str(widget_state.get("value", "")))))

        value, maximum = bar.get("value", 0) or 0, bar.get("max", 0) or 0
        maximum = maximum if isinstance(maximum, (int, float)) and math.isfinite(maximum) and maximum > 0 else 1
        return (f'<div class="site-progress"><span>{text(left)}</span>'
                f'<progress value="{value:g}" max="{maximum:g}"></progress><span>{text(right)}</span></div>')
    return WIDGET_NOTE


def _static_widgets(nb) -> None:
    """Replace widget views (which need a kernel and a widget manager) by static HTML, and drop the widget state."""
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                output["data"] = {"text/html": _widget_html(data[WIDGET_VIEW].get("model_id", ""), state)}


# -------------------------------------------------------------------------------------------------- page parts

_HEADING = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)<a class="anchor-link" href="#([^"]*)">(.*?)</a></h\1>', re.S)


def _heading_ids(page_html: str, github_only: bool) -> str:
    """Docs pages get GitHub's heading ids (as links from the README and notebooks expect); notebook pages keep
    JupyterLab's ids and get GitHub's beside them, so both kinds of link land."""
    seen: dict[str, int] = {}
    taken = set(re.findall(r'\sid="([^"]*)"', page_html))

    def replace(match: re.Match) -> str:
        level, old, inner, _, mark = match.groups()
        slug = github_slug(html.unescape(re.sub(r"<[^>]*>", "", inner)), seen)
        if github_only:
            return f'<h{level} id="{slug}">{inner}<a class="anchor-link" href="#{slug}">{mark}</a></h{level}>'
        if slug == old or slug in taken or not slug:
            return match.group(0)
        taken.add(slug)
        return (f'<h{level} id="{old}"><span id="{slug}"></span>{inner}<a class="anchor-link" href="#{old}">{mark}'
                f'</a></h{level}>')

    return _HEADING.sub(replace, page_html)


def first_heading(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def markdown_words(nb) -> int:
    return sum(len(re.findall(r"[\w'’-]+", cell.source)) for cell in nb.cells if cell.cell_type == "markdown")


def _inline(text: str) -> str:
    """README-style inline markdown (`code`, **bold**, *italic*, links as text) as HTML."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
            continue
        part = html.escape(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", part), quote=False)
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        out.append(re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part))
    return "".join(out)


def readme_course_table(readme: Path) -> dict[str, tuple[str, str | None]]:
    """The README's table of the course: notebook stem → (what you do, lab stem or None)."""
    rows = {}
    if not readme.is_file():
        return rows
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 3 and re.fullmatch(r"`\d\d_\w+`", cells[0]):
            lab = re.fullmatch(r"`(lab_\w+)`", cells[2])
            rows[cells[0].strip("`")] = (cells[1], lab.group(1) if lab else None)
    return rows


def first_paragraph(nb) -> str:
    """What a notebook is about, from its first markdown cell: the first paragraph that is not a heading or the
    italic time line."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for block in re.split(r"\n\s*\n", cell.source):
            block = " ".join(block.split())
            if block and not block.startswith(("#", "*", "_", "-", "|", "<", "!")):
                return block if len(block) <= 320 else block[:317].rsplit(" ", 1)[0] + " …"
        return ""
    return ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _run_time(results: Path, stem: str) -> str:
    path = results / f"{stem}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        seconds = float(record["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return '<span class="site-muted">none measured</span>'
    mode = {True: " (smoke mode)", False: " (full mode)"}.get(record.get("smoke"), "")
    return f"{_duration(seconds)} measured{mode}"


def _reading_time(words: int) -> str:
    return f"~{max(1, math.ceil(words / WORDS_PER_MINUTE))} min ({words:,} words)"


def _mode(nb) -> bool | None:
    """True for a smoke run, False for a full run, None when the notebook does not say (not run by papermill)."""
    parameters = nb.metadata.get("papermill", {}).get("parameters", {})
    return parameters.get("SMOKE") if isinstance(parameters.get("SMOKE"), bool) else None


# -------------------------------------------------------------------------------------------------- links

_ATTRIBUTE = re.compile(r"""\s*([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINK_ATTRIBUTES = ("href", "src")


class _Tags(HTMLParser):
    """Every start tag's position and text, every id, and every href/src, from real tags only (never from code text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[tuple[int, int], str]] = []
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []    # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        self.tags.append((self.getpos(), self.get_starttag_text() or ""))
        for name, value in attrs:
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value or "")
            if name in LINK_ATTRIBUTES and value is not None:
                self.refs.append((tag, name, value))

    handle_startendtag = handle_starttag


def parse_page(page_html: str) -> _Tags:
    parser = _Tags()
    parser.feed(page_html)
    parser.close()
    return parser


def rewrite_attributes(page_html: str, rewrite) -> str:
    """``rewrite(tag, attribute, value) -> new value or None`` applied to every href and src of every real tag."""
    parsed = parse_page(page_html)
    line_starts = [0] + [m.end() for m in re.finditer("\n", page_html)]
    pieces, done = [], 0
    for (line, column), text in parsed.tags:
        start = line_starts[line - 1] + column
        if page_html[start:start + len(text)] != text:  # cannot happen with well-formed positions; stay safe
            continue
        tag = re.match(r"<([^\s/>]+)", text).group(1).lower()
        new_text, position, changed = [], len(tag) + 1, False
        new_text.append(text[:position])
        while (match := _ATTRIBUTE.match(text, position)) and match.end() > position:
            name, quoted = match.group(1).lower(), match.group(2)
            piece = match.group(0)
            if name in LINK_ATTRIBUTES and quoted is not None:
                value = html.unescape(quoted[1:-1] if quoted[0] in "\"'" else quoted)
                replacement = rewrite(tag, name, value)
                if replacement is not None and replacement != value:
                    piece = piece[:match.start(2) - match.start()] + f'"{html.escape(replacement)}"'
                    changed = True
            new_text.append(piece)
            position = match.end()
        new_text.append(text[position:])
        if changed:
            pieces += [page_html[done:start], "".join(new_text)]
            done = start + len(text)
    pieces.append(page_html[done:])
    return "".join(pieces)


def is_external(url: str) -> bool:
    return bool(_SCHEME.match(url)) or url.startswith("//")


def check_site(out: Path) -> list[str]:
    """Every local href/src of every HTML page in ``out`` points to a file there (and its #fragment to an id on
    that page); every http(s) link is well formed; nothing is loaded from the network. Returns the problems."""
    return [problem for _, _, problem in _check_site(Path(out))]


def _check_site(out: Path) -> list[tuple[str, str, str]]:
    """(page, href or src, problem) for every problem check_site reports."""
    pages = {path.relative_to(out).as_posix(): path for path in sorted(out.rglob("*.html"))}
    parsed = {name: parse_page(path.read_text(encoding="utf-8")) for name, path in pages.items()}
    problems = []
    for name, page in parsed.items():
        for tag, attribute, value in page.refs:
            value = value.strip()

            def problem(why: str) -> None:
                problems.append((name, value, f"{name}: {why}"))  # noqa: B023 - called at once, in this iteration

            if not value or value.startswith(("data:", "mailto:")):
                continue
            if is_external(value):
                parts = urllib.parse.urlsplit(value if not value.startswith("//") else "https:" + value)
                if attribute == "src" or tag in ("link", "script") or value.startswith("//"):
                    problem(f'<{tag} {attribute}="{value}"> loads from the network')
                elif parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", value):
                    problem(f"malformed external link {value!r}")
                continue
            path, _, fragment = value.partition("#")
            path = urllib.parse.unquote(path.partition("?")[0])
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), path)) if path else name
            if path.startswith("/"):
                problem(f"{value!r} is an absolute path; the site must work from any folder")
            elif target == ".." or target.startswith("../"):
                problem(f"{value!r} points outside the site")
            elif not (out / target).is_file():
                problem(f"{value!r} → {target} does not exist in the site")
            elif fragment and target in parsed:
                ids = parsed[target].ids
                if fragment not in ids and urllib.parse.unquote(fragment) not in ids:
                    problem(f"{value!r} → no id {fragment!r} on {target}")
            elif fragment and not target.endswith(".html"):
                problem(f"{value!r} has a #fragment on a file that is not a page")
    return problems


# -------------------------------------------------------------------------------------------------- the builder

@dataclass
class Page:
    site_path: str                      # "02_custom_cnn.html", "source/utils/rag/retrieval.py.html"
    title: str
    repo_dir: str = ""                  # where the page's relative links start, relative to the repository
    origin: str = ""                    # the repository file it shows, for messages


@dataclass
class CourseItem:
    stem: str
    kind: str                           # "notebook" or "lab"
    nb: object                          # the notebook shown (executed, or the committed solution)
    executed: bool
    title: str
    page: Page = field(init=False)

    def __post_init__(self):
        folder = "notebooks" if self.kind == "notebook" else "solutions"
        self.page = Page(f"{self.stem}.html", self.title, folder, f"{folder}/{self.stem}.ipynb")


class SiteBuilder:
    def __init__(self, source: Path, out: Path, repo: Path = REPO_ROOT, sources: Sources | None = None):
        self.repo, self.out = Path(repo), Path(out)
        self.sources = sources or locate_sources(Path(source))
        self.problems: list[str] = []
        self.reported: set[tuple[str, str]] = set()  # (page, link) the builder already explained in its own words
        self.targets: dict[str, str] = {}            # repository path → its page (notebooks, labs, docs)
        self.copies: dict[tuple[str, bool], str] = {}  # (repository path, raw) → where the site shows or copies it
        self.queue: deque[tuple[str, str]] = deque()  # (repository path, site path) still to write
        self.reserved = {"index.html", "report.html"}
        notebooks = sorted((self.repo / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        missing = missing_notebooks(self.sources.notebooks, notebooks) if notebooks else ["no notebooks/NN_*.ipynb"]
        if missing:
            raise SiteError(_missing_source_message(self.sources.notebooks, missing, self.repo))
        self.items: list[CourseItem] = []
        for notebook in notebooks:
            nb = nbformat.read(self.sources.notebooks / notebook.name, as_version=4)
            self.items.append(CourseItem(notebook.stem, "notebook", nb, True, first_heading(nb) or notebook.stem))
        for solution in sorted((self.repo / "solutions").glob("lab_*.ipynb")):
            executed = self.sources.solutions / solution.name if self.sources.solutions else None
            shown = executed if executed and executed.is_file() else solution
            nb = nbformat.read(shown, as_version=4)
            title = first_heading(nb) or solution.stem
            self.items.append(CourseItem(solution.stem, "lab", nb, shown != solution, title))
        for item in self.items:
            self.targets[f"{item.page.repo_dir}/{item.stem}.ipynb"] = item.page.site_path
            if item.kind == "lab":
                self.targets[f"labs/{item.stem}.ipynb"] = item.page.site_path
        self.docs: list[Page] = []
        for doc in sorted((self.repo / "docs").glob("*.md")):
            name = "docs" if doc.stem.lower() == "readme" else doc.stem
            if f"{name}.html" in self.reserved or any(item.stem == name for item in self.items):
                name = f"doc-{name}"
            page = Page(f"{name}.html", self._markdown_title(doc), "docs", f"docs/{doc.name}")
            self.docs.append(page)
            self.targets[page.origin] = page.site_path

    # --- helpers

    def _markdown_title(self, path: Path) -> str:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return path.name

    @staticmethod
    def _relative(target: str, page: Page) -> str:
        return posixpath.relpath(target, posixpath.dirname(page.site_path) or ".")

    def _site_link(self, target: str, page: Page | None = None) -> str:
        """A link the builder writes itself, from ``page`` (default: a page at the site's root) to ``target``."""
        relative = self._relative(target, page) if page else target
        return SITE_SCHEME + urllib.parse.quote(relative, safe="/-._~#")

    def _write(self, site_path: str, text: str) -> None:
        path = self.out / site_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)

    def _render(self, nb, page: Page, prev: Page | None = None, next_: Page | None = None, banner: str = "",
                content: str = "", github_ids: bool = False) -> None:
        nb = copy.deepcopy(nb)
        nb.metadata["title"] = page.title
        _static_widgets(nb)

        def link(target: Page | None):
            return {"href": self._site_link(target.site_path, page), "title": html.escape(target.title)} \
                if target else None

        site = {"index": self._site_link("index.html", page), "banner": banner, "content": content,
                "prev": link(prev), "next": link(next_)}
        body, resources = _exporter().from_notebook_node(
            nb, resources={"metadata": {"name": page.title}, "site": site, "site_missing_attachments": []})
        for name in dict.fromkeys(resources["site_missing_attachments"]):  # nbconvert copies resources: read back
            self._broken(page, f"attachment:{name}", "names an attachment its markdown cell does not carry (attach "
                                                     "the image to that cell in JupyterLab, or fix the name)")
        body = _heading_ids(body, github_only=github_ids)
        self._write(page.site_path, rewrite_attributes(body, lambda tag, attribute, value:
                                                       self._link(page, value, raw=attribute == "src")))

    @staticmethod
    def _page_notebook(cells=()) -> object:
        """A notebook of markdown cells (a docs page), or of none (a page whose content the builder writes)."""
        nb = nbformat.v4.new_notebook()
        for number, source in enumerate(cells):
            cell = nbformat.v4.new_markdown_cell(source)
            cell.id = f"site-{number}"   # fixed ids: the same input gives the same bytes
            nb.cells.append(cell)
        nb.metadata["language_info"] = {"name": "markdown"}
        return nb

    # --- links

    def _link(self, page: Page, url: str, raw: bool = False) -> str | None:
        """The site's URL for a link written in ``page``'s source, or None to keep it (external, or broken).
        ``raw``: the file itself is wanted (an ``src``: an image, say), never a page showing it."""
        url = url.strip()
        if url.startswith(SITE_SCHEME):   # the builder's own links (navigation, the map) are site paths already
            return url[len(SITE_SCHEME):]
        if not url or url.startswith("#") or is_external(url):
            return None
        path, hash_, fragment = url.partition("#")
        path = urllib.parse.unquote(path.partition("?")[0])
        if path.startswith("/"):
            self._broken(page, url, "is an absolute path")
            return None
        repo_path = posixpath.normpath(posixpath.join(page.repo_dir, path))
        target = self._target(repo_path, page, url, raw or PurePosixPath(path).suffix.lower() in RAW_SUFFIXES)
        if target is None:
            return None
        return urllib.parse.quote(self._relative(target, page), safe="/-._~") + (hash_ + fragment)

    def _broken(self, page: Page, url: str, why: str) -> None:
        self.problems.append(f"{page.origin or page.site_path}: link {url!r} {why}")
        self.reported.add((page.site_path, url))

    def _target(self, repo_path: str, page: Page, url: str, raw: bool) -> str | None:
        if repo_path in self.targets:                   # the course's notebooks, labs and docs
            return self.targets[repo_path]
        if (repo_path, raw) in self.copies:
            return self.copies[repo_path, raw]
        if repo_path == ".." or repo_path.startswith("../"):
            self._broken(page, url, "points outside the repository")
            return None
        parts = PurePosixPath(repo_path).parts
        if parts and parts[0] == "build":
            name = PurePosixPath(repo_path)
            if name.name in ("report.html", "report.md"):
                return "report.html"
            stem_page = f"{name.stem}.html"
            if name.suffix == ".ipynb" and any(item.page.site_path == stem_page for item in self.items):
                return stem_page
            self._broken(page, url, "points into build/, which the site does not carry "
                                 "(only build/report.html and executed notebooks map to pages)")
            return None
        file = self.repo / repo_path
        if repo_path in (".", "") or not file.exists():
            self._broken(page, url, f"→ {repo_path} does not exist in the repository")
            return None
        if parts[:2] == ("docs", "figures") and file.is_file():
            target = "figures/" + "/".join(parts[2:])
        elif file.is_dir():
            target = f"source/{repo_path}/index.html"
        elif not raw and (file.suffix == ".md" or self._is_text(file)):
            target = f"source/{repo_path}.html"
        else:
            target = f"source/{repo_path}"
        self.copies[repo_path, raw] = target
        self.queue.append((repo_path, target))
        return target

    @staticmethod
    def _is_text(file: Path) -> bool:
        if file.stat().st_size > TEXT_PAGE_LIMIT:
            return False
        data = file.read_bytes()
        if b"\0" in data:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def _write_linked(self, repo_path: str, target: str) -> None:
        file = self.repo / repo_path
        page = Page(target, repo_path, posixpath.dirname(repo_path), repo_path)
        if file.is_dir():
            entries = sorted(child.name + ("/" if child.is_dir() else "") for child in file.iterdir()
                             if not child.name.startswith(".") and child.name != "__pycache__")
            listing = "".join(f"<li><code>{html.escape(entry)}</code></li>" for entry in entries)
            content = (f"<h1><code>{html.escape(repo_path)}/</code></h1><p class=\"site-muted\">A folder of the "
                       f"repository; open it there to see its files.</p><ul>{listing}</ul>")
            self._render(self._page_notebook(), page, content=content)
        elif target.endswith(".html") and file.suffix == ".md":
            page.title = self._markdown_title(file)
            self._render(self._page_notebook([file.read_text(encoding="utf-8")]), page, github_ids=True)
        elif target.endswith(".html"):
            lines = file.read_text(encoding="utf-8").splitlines()
            numbered = "".join(f'<span id="L{number}">{html.escape(line)}\n</span>'
                               for number, line in enumerate(lines, start=1))
            content = (f"<h1><code>{html.escape(repo_path)}</code></h1><p class=\"site-muted\">A file of the "
                       f"repository, shown as text.</p><div class=\"site-source\">{numbered}</div>")
            self._render(self._page_notebook(), page, content=content)
        else:
            (self.out / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, self.out / target)

    # --- pages

    def _banner(self, item: CourseItem) -> str:
        if not item.executed:
            return ("Shown without outputs: this is the committed solution notebook, not an executed copy. Run it "
                    "in JupyterLab (<code>make lab</code>) to see its outputs.")
        mode = _mode(item.nb)
        text = {True: "Outputs from a smoke run (<code>SMOKE = True</code>: small data, few steps); "
                      "<code>make course</code> gives the full figures.",
                False: "Outputs from a full run (<code>make course</code>).",
                None: "Outputs as executed."}[mode]
        if item.nb.metadata.get("papermill", {}).get("exception"):
            text += " <strong>This run stopped with an error</strong>: the traceback is in the failing cell below."
        return text

    def _index(self) -> str:
        readme = readme_course_table(self.repo / "README.md")
        labs = {item.stem: item for item in self.items if item.kind == "lab"}
        lab_for: dict[str, str] = {}
        rows = []
        for item in (i for i in self.items if i.kind == "notebook"):
            summary, lab = readme.get(item.stem, (None, None))
            if lab is None or lab not in labs:
                lab = next((name for name in labs if name.startswith(f"lab_{item.stem[:2]}_")), None)
            if lab:
                lab_for[lab] = item.stem
            what = _inline(summary) if summary else _inline(first_paragraph(item.nb))
            lab_cell = (f'<a href="{self._site_link(labs[lab].page.site_path)}">{html.escape(labs[lab].title)}</a>'
                        if lab else "–")
            rows.append(f"<tr><td>{html.escape(item.stem[:2])}</td>"
                        f"<td><a href=\"{self._site_link(item.page.site_path)}\">"
                        f"{html.escape(item.title)}</a></td><td>{what}</td><td>{lab_cell}</td>"
                        f"<td>{_run_time(self.sources.results, item.stem)}</td>"
                        f"<td>{_reading_time(markdown_words(item.nb))}</td></tr>")
        lab_rows = []
        for item in labs.values():
            notebook = lab_for.get(item.stem)
            outputs = "executed" + {True: " (smoke mode)", False: " (full mode)"}.get(_mode(item.nb), "") \
                if item.executed else '<span class="site-muted">shown without outputs</span>'
            lab_rows.append(f"<tr><td><a href=\"{self._site_link(item.page.site_path)}\">"
                            f"{html.escape(item.title)}</a></td>"
                            f"<td>{html.escape(notebook[:2]) if notebook else '–'}</td><td>{outputs}</td>"
                            f"<td>{_run_time(self.sources.results, item.stem)}</td>"
                            f"<td>{_reading_time(markdown_words(item.nb))}</td></tr>")
        modes = {_mode(item.nb) for item in self.items if item.kind == "notebook"}
        run = {frozenset({True}): "a smoke run (<code>SMOKE = True</code>: small data, few steps)",
               frozenset({False}): "a full run (<code>make course</code>)"}.get(frozenset(modes), "executed notebooks")
        glossary = next((doc for doc in self.docs if doc.origin == "docs/glossary.md"), None)
        if glossary:
            terms = len(markdown_headings((self.repo / glossary.origin).read_text(encoding="utf-8"), TERM_LEVEL))
            glossary_line = f'<a href="{self._site_link(glossary.site_path)}">Glossary</a> ({terms} terms)'
        else:
            glossary_line = 'Glossary: <span class="site-muted">none yet (docs/glossary.md does not exist)</span>'
        if self.sources.report:
            report_line = (f'<a href="{self._site_link("report.html")}">The run\'s report</a>: every notebook\'s '
                           f'headline figures, wall time and peak memory '
                           f'({html.escape(_shown(self.sources.report, self.repo))})')
        else:
            report_line = ('Report: <span class="site-muted">none for this run (no report.html next to '
                           f'{html.escape(_shown(self.sources.notebooks, self.repo))}/); <code>make course</code> '
                           'writes build/report.html, <code>make smoke</code> build/smoke/report.html</span>')
        guides = "".join(f'<li><a href="{self._site_link(doc.site_path)}">{html.escape(doc.title)}</a> '
                         f'<span class="site-muted">({html.escape(doc.origin)})</span></li>'
                         for doc in self.docs if doc is not glossary)
        return (
            "<h1>AI Crossroads: custom model, fine-tune, or RAG?</h1>"
            f"<p>The course as executed pages, from {run} in "
            f"<code>{html.escape(_shown(self.sources.notebooks, self.repo))}/</code>. Every page works offline. To run "
            "the notebooks yourself: <code>make lab</code>.</p>"
            "<h2>Course map</h2><table><thead><tr><th>#</th><th>notebook</th><th>what you do</th><th>lab</th>"
            "<th>run time</th><th>reading</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            "<h2>Labs</h2><table><thead><tr><th>lab</th><th>after notebook</th><th>outputs</th><th>run time</th>"
            "<th>reading</th></tr></thead><tbody>" + "".join(lab_rows) + "</tbody></table>"
            f"<p class=\"site-muted\">Run times are measured (results/NN_name.json beside the executed notebooks); "
            f"reading times assume {WORDS_PER_MINUTE} words a minute of the notebook's text.</p>"
            f"<h2>Reference</h2><ul><li>{glossary_line}</li><li>{report_line}</li>{guides}</ul>")

    def build(self) -> list[str]:
        """Write the site; returns the pages written. Raises SiteError listing broken links."""
        ordered = [item.page for item in self.items]
        for number, item in enumerate(self.items):
            self._render(item.nb, item.page, ordered[number - 1] if number else None,
                         ordered[number + 1] if number + 1 < len(ordered) else None, banner=self._banner(item))
        for doc in self.docs:
            self._render(self._page_notebook([(self.repo / doc.origin).read_text(encoding="utf-8")]), doc,
                         github_ids=True)
        index = Page("index.html", "AI Crossroads: the course")
        self._render(self._page_notebook(), index, content=self._index())
        if self.sources.report:
            shutil.copyfile(self.sources.report, self.out / "report.html")
        else:
            self._render(self._page_notebook(), Page("report.html", "No report for this run"),
                         content="<h1>No report for this run</h1><p>The site was built from notebooks whose run "
                                 "left no report.html. <code>make course</code> writes build/report.html (and "
                                 "<code>make smoke</code> build/smoke/report.html); build the site from that run.</p>")
        while self.queue:
            self._write_linked(*self.queue.popleft())
        found = [problem for page, link, problem in _check_site(self.out) if (page, link) not in self.reported]
        problems = list(dict.fromkeys(self.problems + found))
        if problems:
            raise SiteError(f"The site in {_shown(self.out, self.repo)}/ has {len(problems)} broken link(s):\n  - "
                            + "\n  - ".join(problems))
        return sorted(path.relative_to(self.out).as_posix() for path in self.out.rglob("*.html"))


def _prepare_output(out: Path) -> None:
    """Empty ``out`` for a fresh build, but only if it is empty or a site this module wrote."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file()):
            raise SiteError(f"Refusing to replace {out}: it is not empty and not a site written by "
                            f"utils.course.site (no {MARKER} file). Pick another --out.")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by python -m utils.course.site; replaced on every build\n")


def build_site(source: Path | None = None, out: Path | None = None, repo: Path = REPO_ROOT,
               sources: Sources | None = None) -> list[str]:
    """Build the site from executed notebooks in ``source`` into ``out``; returns the pages (relative paths)."""
    source = Path(source) if source else build_dir() / "executed"
    out = Path(out) if out else build_dir() / "site"
    builder = SiteBuilder(source, out, repo, sources)  # checks the source before anything is deleted
    _prepare_output(out)
    return builder.build()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the course's static, offline HTML site from executed "
                                                 "notebooks (make course or make smoke first).")
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="executed notebooks (default: build/executed/, from make course; or "
                             "build/smoke/executed after make smoke; or build/test/test-executed/notebooks)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the site (default: build/site/)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = args.out or build_dir() / "site"
    try:
        pages = build_site(args.source, out)
    except SiteError as error:
        print(error, file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    print(f"Site: {out / 'index.html'} ({len(pages)} pages, {size / 2**20:.1f} MiB) in "
          f"{time.perf_counter() - started:.1f} s; open it in any browser, it works offline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
