"""The course's five diagrams, drawn from the code they explain, and kept in the notebooks as attachments.

    python -m utils.course.diagrams            # (re)draw docs/figures/NAME.png for all five
    python -m utils.course.diagrams --check    # fail, naming them, if a committed PNG is not what is drawn now
    python -m utils.course.diagrams --embed    # copy each PNG into the notebook cells that show it

``make diagrams`` runs the first and the last. Every number in a diagram comes from the code or from the
notebook's ``parameters`` cell (the rules and a worked recommendation, the CNN's layer shapes, the LoRA rank
and target layers, the RAG pipeline's k values and budgets, the capstone's data counts), so when the code changes
the drawing changes, and ``--check`` (a test) says which PNG to redraw. The exceptions are SmolLM2's shape and
MiniLM's embedding size, written below and checked against the model files by a test.

A notebook shows a diagram as a Markdown *attachment*, so that it appears in JupyterLab, on GitHub's notebook
preview and on the static site alike: the cell's source says ``![alt text](attachment:lora.png)`` and its
``attachments`` hold the PNG's bytes. ``--embed`` writes them; ``attachment_problems`` lists the cells whose
attachment is missing, stale or names no diagram.

The PNGs are byte-for-byte reproducible with the locked matplotlib and Pillow: fixed size and resolution,
matplotlib's default style, DejaVu Sans (shipped with matplotlib), a fixed palette and no ``Software`` stamp.
``--check`` also accepts a file with the same pixels, so that another build of the PNG compressor is not "stale".
"""

import argparse
import ast
import base64
import functools
import io
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from utils.core.paths import NOTEBOOKS_DIR, REPO_ROOT

FIGURES_DIR = REPO_ROOT / "docs" / "figures"
NAMES = ("decision_flow", "cnn", "lora", "rag_pipeline", "side_by_side")
DPI = 120
ATTACHMENT = re.compile(r"attachment:([^\s)\"'>]+)")
FIX = "run `make diagrams` (python -m utils.course.diagrams, then --embed)"

# SmolLM2-135M-Instruct, the course's LLM (the embedded GGUF file's header; a test reads it and compares).
SMOLLM2 = {"hidden": 576, "intermediate": 1536, "layers": 30, "heads": 9, "kv_heads": 3, "vocab": 49152,
           "parameters": 134_515_008}

# Okabe & Ito's colour-blind-safe palette; each approach keeps its hue in every diagram.
INK, GREY, LIGHT = "#222222", "#666666", "#F2F2F2"
BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
APPROACH_COLOURS = {"custom": BLUE, "fine-tune": ORANGE, "rag": GREEN}
MONO = "DejaVu Sans Mono"


class DiagramError(ValueError):
    """An unknown diagram name, or a diagram file that has not been drawn yet."""


def tint(colour: str, share: float = 0.18) -> str:
    """``colour`` mixed with white: ``share`` of the colour, the rest white (box fills)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * share):02X}" for c in rgb)


def check_name(name: str) -> str:
    """``name`` (with or without ``.png``) if it is one of the five diagrams, else a DiagramError saying which are."""
    stem = str(name).removesuffix(".png")
    if stem not in NAMES:
        raise DiagramError(f"No diagram called {name!r}: the diagrams are {', '.join(n + '.png' for n in NAMES)} "
                           f"(drawn by utils/course/diagrams.py).")
    return stem


# ---------------------------------------------------------------------------------------------
# What the diagrams read from the notebooks and the code
# ---------------------------------------------------------------------------------------------

def notebook_parameters(notebook: str) -> dict:
    """The plain values assigned in a notebook's ``parameters`` cell, e.g. ``{"LORA_RANK": 8, ...}``."""
    import nbformat

    path = NOTEBOOKS_DIR / f"{notebook}.ipynb"
    cells = [c for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise DiagramError(f"{path.name} has no cell tagged `parameters` to read the diagram's settings from.")
    values = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return values


def _defaults(function) -> dict:
    import inspect

    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def lora_layer_shapes(model: dict = SMOLLM2) -> dict[str, tuple[int, int]]:
    """(d_out, d_in) of each linear layer LoRA adapts in one transformer block (``DEFAULT_TARGET_MODULES``)."""
    d, ff = model["hidden"], model["intermediate"]
    kv = d // model["heads"] * model["kv_heads"]
    return {"q_proj": (d, d), "k_proj": (kv, d), "v_proj": (kv, d), "o_proj": (d, d),
            "gate_proj": (ff, d), "up_proj": (ff, d), "down_proj": (d, ff)}


@dataclass(frozen=True)
class LoraNumbers:
    rank: int
    alpha: int
    targets: tuple[str, ...]
    per_block: int          # trainable weights in one block
    trainable: int
    total: int              # base model + adapters, what PEFT reports as "all params"

    @property
    def percent(self) -> float:
        return 100 * self.trainable / self.total


def lora_numbers() -> LoraNumbers:
    """Notebook 03's adapter: its rank and alpha, ``lora_config``'s target layers, and the weights they train."""
    from utils.finetune.lora import lora_config

    parameters = notebook_parameters("03_lora_finetuning")
    rank, alpha = parameters["LORA_RANK"], parameters["LORA_ALPHA"]
    targets = tuple(_defaults(lora_config)["target_modules"])
    shapes = lora_layer_shapes()
    unknown = [t for t in targets if t not in shapes]
    if unknown:
        raise DiagramError(f"lora_layer_shapes does not know the target layers {unknown}: add their shapes.")
    per_block = sum(rank * (shapes[t][0] + shapes[t][1]) for t in targets)
    trainable = per_block * SMOLLM2["layers"]
    return LoraNumbers(rank, alpha, targets, per_block, trainable, SMOLLM2["parameters"] + trainable)


# ---------------------------------------------------------------------------------------------
# Drawing helpers: a canvas in inches, boxes, arrows
# ---------------------------------------------------------------------------------------------

RC = {"font.family": "DejaVu Sans", "font.size": 10, "text.color": INK, "hatch.linewidth": 0.8,
      "text.parse_math": False,   # "$10k to $49,999" is money, not mathematics (LoRA's formula opts back in)
      "figure.facecolor": "white", "savefig.facecolor": "white"}


def _canvas(width: float, height: float):
    """A white figure whose one axes spans it, in inch coordinates (0..width, 0..height)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def _box(ax, x, y, w, h, text="", *, face="white", edge=INK, lw=1.2, size=10, weight="normal", color=INK,
         align="center", family=None, rounding=0.06, hatch=None, style="-", pad=0.1, spacing=1.3, zorder=2):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={rounding}", facecolor=face,
                                edgecolor=edge, linewidth=lw, hatch=hatch, linestyle=style, zorder=zorder))
    if text:
        tx = {"center": x + w / 2, "left": x + pad, "right": x + w - pad}[align]
        ax.text(tx, y + h / 2, text, ha=align, va="center", fontsize=size, fontweight=weight, color=color,
                family=family or "DejaVu Sans", linespacing=spacing, zorder=zorder + 1)


def _text(ax, x, y, text, *, size=10, weight="normal", color=INK, ha="left", va="center", family=None,
          spacing=1.3, style="normal", zorder=4, math=False, backdrop=None):
    bbox = None if backdrop is None else {"facecolor": backdrop, "edgecolor": "none", "pad": 1.5}
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, fontweight=weight, color=color, family=family or "DejaVu Sans",
            linespacing=spacing, fontstyle=style, zorder=zorder, parse_math=math, bbox=bbox)


def _arrow(ax, start, end, *, color=INK, lw=1.3, style="-|>", bend=0.0, dashed=False, zorder=1):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=13, linewidth=lw, color=color,
                                 shrinkA=0, shrinkB=0, connectionstyle=f"arc3,rad={bend}",
                                 linestyle="--" if dashed else "-", zorder=zorder))


def _elbow(ax, points, *, color=INK, lw=1.3, dashed=False):
    """A polyline through ``points`` whose last segment ends in an arrow head."""
    ls = "--" if dashed else "-"
    for (x0, y0), (x1, y1) in zip(points[:-2], points[1:-1]):
        ax.plot([x0, x1], [y0, y1], color=color, linewidth=lw, linestyle=ls, solid_capstyle="butt", zorder=1)
    _arrow(ax, points[-2], points[-1], color=color, lw=lw, dashed=dashed)


def _title(ax, width, height, title, subtitle):
    _text(ax, 0.25, height - 0.28, title, size=13, weight="bold")
    _text(ax, 0.25, height - 0.58, subtitle, size=10, color=GREY)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(part, width) for part in text.split("\n"))


def _signed(n: int) -> str:
    """+3, −2 (a true minus sign) and 0."""
    return f"{n:+d}".replace("-", "\u2212") if n else "0"


# ---------------------------------------------------------------------------------------------
# 1. Notebook 01: a situation becomes a recommendation
# ---------------------------------------------------------------------------------------------

def draw_decision_flow():
    from utils.core.tables import show_value
    from utils.decide.rules import RULES, TIE_ORDER, recommend
    from utils.decide.scenarios import scenario
    from utils.decide.situation import APPROACHES

    example = scenario(notebook_parameters("01_choosing_an_approach")["EXAMPLE_SCENARIO"])
    situation, rec = example.situation, recommend(example.situation)
    W, H = 10.0, 6.3
    fig, ax = _canvas(W, H)
    _title(ax, W, H, "Notebook 01 · From a situation to a recommendation",
           f"utils.decide.rules.recommend, worked on the gallery's “{example.name}” scenario")

    fx, fw = 0.25, 2.0             # facts
    bx, bw = 2.55, 1.8             # criterion and band
    px, pw, pg = 4.7, 0.74, 0.08   # points: three cells
    rx, rw = 7.4, 2.3              # recommendation
    top, rh, gap = 4.95, 0.48, 0.1
    header_y = top + 0.3
    for x, label in ((fx, "1 · the Situation: six facts"), (bx, "2 · criterion → band"),
                     (px, "3 · points each band gives"), (rx, "4 · the recommendation")):
        _text(ax, x, header_y + 0.05, label, weight="bold")
    for i, approach in enumerate(APPROACHES):
        _text(ax, px + i * (pw + pg) + pw / 2, top + 0.06, approach, ha="center", va="baseline", weight="bold",
              color=APPROACH_COLOURS[approach])

    for row, criterion in enumerate(RULES):
        y = top - (row + 1) * (rh + gap) + gap
        value = getattr(situation, criterion.field)
        shown = repr(value) if isinstance(value, str) else show_value(value)
        _box(ax, fx, y, fw, rh, f"{criterion.field}\n= {shown}", face=LIGHT, edge=GREY, size=10, family=MONO,
             align="left", spacing=1.15)
        _arrow(ax, (fx + fw + 0.03, y + rh / 2), (bx - 0.03, y + rh / 2), color=GREY)
        _box(ax, bx, y, bw, rh, f"{criterion.name}\n{rec.bands[criterion.field]}", edge=GREY, align="left",
             spacing=1.15)
        _arrow(ax, (bx + bw + 0.03, y + rh / 2), (px - 0.03, y + rh / 2), color=GREY)
        for i, approach in enumerate(APPROACHES):
            points = rec.points[criterion.field][approach]
            _box(ax, px + i * (pw + pg), y, pw, rh, _signed(points), edge="#BBBBBB", lw=0.8,
                 weight="bold" if points else "normal", color=INK if points else "#999999", size=11)
    last_y = top - len(RULES) * (rh + gap) + gap
    total_y = last_y - 0.22 - rh
    ax.plot([px, px + 3 * pw + 2 * pg], [last_y - 0.11] * 2, color=INK, lw=1.0)
    _text(ax, px - 0.1, total_y + rh / 2, "sum = score", ha="right", weight="bold")
    for i, approach in enumerate(APPROACHES):
        win = approach == rec.approach
        _box(ax, px + i * (pw + pg), total_y, pw, rh, _signed(rec.scores[approach]), size=12, weight="bold",
             face=tint(APPROACH_COLOURS[approach], 0.25), edge=APPROACH_COLOURS[approach], lw=2.6 if win else 1.0)

    # 4: the recommendation, then how to read it
    colour = APPROACH_COLOURS[rec.approach]
    win_y = top - 0.95
    _box(ax, rx, win_y, rw, 0.95, f"approach = {rec.approach!r}\nscore {_signed(rec.scores[rec.approach])}",
         face=tint(colour, 0.3), edge=colour, lw=2.2, size=12, weight="bold")
    lead = {f: rec.points[f][rec.approach] - rec.points[f][rec.runner_up] for f in rec.points}
    deciding = sorted((f for f in lead if lead[f] > 0), key=lambda f: -lead[f])[:3]
    names = {c.field: c.name.lower() for c in RULES}
    lines = [(f"runner_up = {rec.runner_up!r} ({_signed(rec.scores[rec.runner_up])})", "bold"),
             (f"margin = {rec.margin} points", "bold"),
             (_wrap("reasons: the criteria with the biggest lead over the runner-up (" +
                    ", ".join(f"{names[f]} {_signed(lead[f])}" for f in deciding) +
                    "), what works against the winner, then its main risk", 31), "normal"),
             (_wrap("notes: fine-tune + RAG combinations, a close call (margin ≤ 1), or no score above 0"
                    + (f" — here: {len(rec.notes)}" if rec.notes else " — none here"), 31), "normal")]
    y = win_y - 0.2
    for text, weight in lines:
        n = text.count("\n") + 1
        _text(ax, rx + 0.05, y, text, weight=weight, va="top", spacing=1.25)
        y -= 0.175 * n + 0.14
    _elbow(ax, [(px + 3 * pw + 2 * pg + 0.05, total_y + rh / 2), (rx - 0.25, total_y + rh / 2),
                (rx - 0.25, win_y + 0.47), (rx - 0.03, win_y + 0.47)], color=colour, lw=1.8)
    order = " → ".join(TIE_ORDER)
    _text(ax, 0.25, 0.4, _wrap(f"Each criterion of RULES puts one fact into a band, and each band gives (custom, "
                               f"fine-tune, rag) a few points. The most points win; a tie goes to the quickest to "
                               f"prototype ({order}).", 128), size=10, color=GREY, va="center")
    return fig


# ---------------------------------------------------------------------------------------------
# 2. Notebook 02: the TinyCNN's layers and tensor shapes
# ---------------------------------------------------------------------------------------------

def _cuboid(ax, x, y_mid, side, depth, *, face, edge):
    """A feature map as a box: the front face is H×W (``side``), the oblique depth the channels.

    Returns (left, right, bottom, top) of the whole drawing."""
    from matplotlib.patches import Polygon, Rectangle

    d = depth * 0.7   # the depth runs up and to the right at 45°
    bottom = y_mid - side / 2
    ax.add_patch(Polygon([(x, bottom + side), (x + d, bottom + side + d), (x + side + d, bottom + side + d),
                          (x + side, bottom + side)], closed=True, facecolor=tint(edge, 0.45), edgecolor=edge,
                         linewidth=1.0, zorder=3))
    ax.add_patch(Polygon([(x + side, bottom), (x + side + d, bottom + d), (x + side + d, bottom + side + d),
                          (x + side, bottom + side)], closed=True, facecolor=tint(edge, 0.6), edgecolor=edge,
                         linewidth=1.0, zorder=3))
    ax.add_patch(Rectangle((x, bottom), side, side, facecolor=face, edgecolor=edge, linewidth=1.0, zorder=4))
    return x, x + side + d, bottom, bottom + side + d


def draw_cnn():
    from utils.core.training import count_parameters
    from utils.vision.cnn import TinyCNN, describe_layers
    from utils.vision.data import PART_CLASSES, PART_SIZE, make_parts

    channels = tuple(notebook_parameters("02_custom_cnn")["CHANNELS"])
    model = TinyCNN(num_classes=len(PART_CLASSES), channels=channels)
    config = model.config
    input_shape = (config["in_channels"], PART_SIZE, PART_SIZE)
    rows = describe_layers(model, input_shape)
    blocks = [r for r in rows if r[0].startswith("block")]
    (_, pooled, _), (_, logits, head) = rows[-2], rows[-1]
    W, H = 10.0, 5.3
    fig, ax = _canvas(W, H)
    _title(ax, W, H, "Notebook 02 · TinyCNN on Northwind's part images",
           f"TinyCNN(num_classes={config['num_classes']}, channels={channels}): the shapes (channels×height×width) "
           f"that describe_layers traces")
    y_mid = 2.95
    shapes = [input_shape] + [shape for _, shape, _ in blocks]

    def side(pixels):   # spatial size, compressed so that a 4×4 map stays visible
        return 0.3 + 0.9 * (pixels / PART_SIZE) ** 0.7

    def depth(c):
        return 0.03 + 0.06 * c ** 0.5

    x, spans = 0.35, []
    for i, (c, h, _) in enumerate(shapes):
        spans.append(_cuboid(ax, x, y_mid, side(h), depth(c), face="white" if i == 0 else tint(BLUE, 0.2),
                             edge=GREY if i == 0 else BLUE))
        x = spans[-1][1] + 0.75
    left, _, bottom, _ = spans[0]
    images, labels = make_parts(1, seed=0)
    part = images[list(labels).index(PART_CLASSES.index("scratch"))]
    ax.imshow(part, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto", zorder=5,
              extent=(left, left + side(PART_SIZE), bottom, bottom + side(PART_SIZE)))
    ax.set_xlim(0, W)
    ax.set_ylim(0, H)

    # the pooled vector and the logits: columns of cells
    vec_x = spans[-1][1] + 0.8
    for j in range(8):
        _box(ax, vec_x, y_mid - 0.8 + j * 0.2, 0.2, 0.2, face=tint(BLUE, 0.5), edge=BLUE, lw=0.8, rounding=0.0)
    out_x = vec_x + 1.05
    for j, name in enumerate(reversed(PART_CLASSES)):
        yy = y_mid - 0.52 + j * 0.26
        _box(ax, out_x, yy, 0.22, 0.22, face=tint(BLUE, 0.8), edge=BLUE, lw=0.8, rounding=0.0)
        _text(ax, out_x + 0.32, yy + 0.11, name)

    names = ["input"] + [name for name, _, _ in blocks]
    for (left, right, bottom, top), shape, label in zip(spans, shapes, names):
        centre = (left + right) / 2
        _text(ax, centre, top + 0.08, label, ha="center", va="bottom", weight="bold")
        _text(ax, centre, bottom - 0.12, "×".join(map(str, shape)), ha="center", va="top", family=MONO)
    _text(ax, vec_x + 0.1, y_mid + 0.88, f"global\n{config['pool']} pool", ha="center", va="bottom", weight="bold")
    _text(ax, vec_x + 0.1, y_mid - 0.92, "×".join(map(str, pooled)), ha="center", va="top", family=MONO)
    _text(ax, out_x + 0.11, y_mid + 0.6, "logits", ha="center", va="bottom", weight="bold")
    _text(ax, out_x + 0.11, y_mid - 0.64, "×".join(map(str, logits)), ha="center", va="top", family=MONO)

    def step(start, end, above, weights):
        _arrow(ax, (start, y_mid), (end, y_mid), color=BLUE, lw=1.6)
        if above:
            _text(ax, (start + end) / 2, y_mid + 0.1, above, ha="center", va="bottom")
        _text(ax, (start + end) / 2, y_mid - 0.1, f"{weights:,}", ha="center", va="top", color=GREY)

    for i, (_, shape, n) in enumerate(blocks):
        step(spans[i][1] + 0.08, spans[i + 1][0] - 0.08, f"{shapes[i][0]}→{shape[0]}", n)
    step(spans[-1][1] + 0.08, vec_x - 0.08, "", 0)
    step(vec_x + 0.28, out_x - 0.08, f"{pooled[0]}→{logits[0]}", head)

    # what a block is, the head, the totals
    ly = 0.3
    _box(ax, 0.35, ly, 5.0, 0.95, face=tint(BLUE, 0.08), edge=BLUE, lw=1.0)
    _text(ax, 0.5, ly + 0.72, "each block (conv_block)", weight="bold")
    _text(ax, 0.5, ly + 0.33, "conv 3×3, padding 1, no bias → batch norm → ReLU\n→ max pool 2×2: "
          "more channels, half the height and width", spacing=1.25)
    _box(ax, 5.55, ly, 4.1, 0.95, face=LIGHT, edge=GREY, lw=1.0)
    _text(ax, 5.7, ly + 0.72, "the head", weight="bold")
    _text(ax, 5.7, ly + 0.33, f"global {config['pool']} pool: each channel's strongest\nresponse anywhere → "
          f"dropout {config['dropout']} → linear", spacing=1.25)
    _text(ax, 0.35, ly + 1.25, f"blue: channels in → out of each step;  grey: its weights, "
          f"{count_parameters(model):,} in all", color=GREY)
    return fig


# ---------------------------------------------------------------------------------------------
# 3. Notebook 03: LoRA's low-rank update
# ---------------------------------------------------------------------------------------------

def _node(ax, x, y, text, *, colour=INK, radius=0.2, size=12):
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor=colour, linewidth=1.5, zorder=3))
    _text(ax, x, y, text, ha="center", size=size, weight="bold", color=colour)


def draw_lora():
    lora = lora_numbers()
    shapes = lora_layer_shapes()
    d, k = shapes["q_proj"]
    r, alpha = lora.rank, lora.alpha
    W_, H = 10.0, 6.2
    fig, ax = _canvas(W_, H)
    _title(ax, W_, H, "Notebook 03 · LoRA: a frozen weight plus a trained low-rank update",
           f"SmolLM2-135M-Instruct (hidden size {SMOLLM2['hidden']}), lora_config(r={r}, alpha={alpha}); "
           f"drawn for one q_proj layer (d = d_out, k = d_in)")
    frozen, trained = GREY, ORANGE
    # x, the frozen path on top, the adapter below, the sum and h
    side, thin = 1.6, 0.24            # d and k drawn to scale (576 = 1.6 in); r is widened to be seen
    top_y, low_y = 4.05, 1.85         # the centres of the two paths
    x0, wx, branch = 0.35, 1.15, 0.8      # the x vector, W and A, where x splits
    x_bottom = (top_y + low_y) / 2 - side / 2
    _box(ax, x0, x_bottom, 0.2, side, face=tint(INK, 0.1), edge=INK, lw=1.0, rounding=0.0)
    _text(ax, x0 + 0.1, x_bottom - 0.1, f"x\nk = {k}", ha="center", va="top")
    _box(ax, wx, top_y - side / 2, side, side, face=tint(frozen, 0.25), edge=frozen, lw=1.5, rounding=0.0,
         hatch="//")
    _text(ax, wx + side / 2, top_y + 0.2, "W", ha="center", size=14, weight="bold", backdrop="white")
    _text(ax, wx + side / 2, top_y - 0.22, f"d × k\n{d} × {k}", ha="center", backdrop="white", spacing=1.15)
    _text(ax, wx + side / 2, top_y + side / 2 + 0.08, "frozen", ha="center", va="bottom", weight="bold",
          color=frozen)
    # A: r × k (wide and short), B: d × r (tall and thin)
    _box(ax, wx, low_y - thin / 2, side, thin, face=tint(trained, 0.45), edge=trained, lw=1.5, rounding=0.0)
    _text(ax, wx + side / 2, low_y + thin / 2 + 0.08, f"A: r × k = {r} × {k}", ha="center", va="bottom",
          weight="bold")
    _text(ax, wx + side / 2, low_y - thin / 2 - 0.08, "random start", ha="center", va="top", color=GREY)
    bx = wx + side + 0.5
    _box(ax, bx, low_y - side / 2, thin, side, face=tint(trained, 0.45), edge=trained, lw=1.5, rounding=0.0)
    _text(ax, bx + thin / 2, low_y + side / 2 + 0.08, f"B: d × r = {d} × {r}", ha="center", va="bottom",
          weight="bold")
    _text(ax, bx + thin / 2, low_y - side / 2 - 0.08, "starts at 0", ha="center", va="top", color=GREY)
    _text(ax, wx + side / 2, low_y - 0.6, "trained", ha="center", va="top", weight="bold", color=trained, size=11)
    sx, px_, hx = bx + 1.0, bx + 1.65, bx + 2.05
    _node(ax, sx, low_y, f"× {alpha / r:g}", colour=trained, radius=0.27, size=11)
    _text(ax, sx, low_y - 0.36, f"α / r = {alpha}/{r}", ha="center", va="top")
    _node(ax, px_, top_y, "+")
    _box(ax, hx, top_y - side / 2, 0.2, side, face=tint(INK, 0.1), edge=INK, lw=1.0, rounding=0.0)
    _text(ax, hx + 0.1, top_y - side / 2 - 0.1, f"h\nd = {d}", ha="center", va="top")
    # arrows
    mid = x_bottom + side / 2
    _elbow(ax, [(x0 + 0.2, mid), (branch, mid), (branch, top_y), (wx - 0.05, top_y)])
    _elbow(ax, [(branch, mid), (branch, low_y), (wx - 0.05, low_y)])
    _arrow(ax, (wx + side + 0.05, top_y), (px_ - 0.22, top_y))
    _text(ax, (wx + side + px_) / 2, top_y + 0.08, "W x", ha="center", va="bottom")
    _arrow(ax, (wx + side + 0.05, low_y), (bx - 0.05, low_y), color=trained)
    _text(ax, (wx + side + bx) / 2, low_y + 0.08, "A x", ha="center", va="bottom")
    _arrow(ax, (bx + thin + 0.05, low_y), (sx - 0.29, low_y), color=trained)
    _text(ax, (bx + thin + sx - 0.27) / 2, low_y + 0.08, "BAx", ha="center", va="bottom")
    _elbow(ax, [(sx + 0.27, low_y), (px_, low_y), (px_, top_y - 0.22)], color=trained)
    _arrow(ax, (px_ + 0.22, top_y), (hx - 0.05, top_y))
    _text(ax, 0.35, 0.5, r"$h = Wx + (\alpha/r)\,BAx$", size=15, math=True)
    _text(ax, 3.15, 0.5, f"merge_adapter adds {alpha / r:g}·BA into W\nonce: no extra cost per answer", color=GREY)

    # the numbers, on the right
    tx = 6.2
    _text(ax, tx, 5.3, "weights in this one layer", weight="bold")
    _text(ax, tx, 4.95, f"full update  d·k      = {d * k:>9,}", family=MONO)
    _text(ax, tx, 4.68, f"LoRA         r·(d+k)  = {r * (d + k):>9,}", family=MONO, color="#8A5A00")
    _text(ax, tx, 4.41, f"             {100 * r * (d + k) / (d * k):.1f} % of the full update", family=MONO,
          color=GREY)
    _text(ax, tx, 3.95, f"the {len(lora.targets)} adapted layers of a block", weight="bold")
    _text(ax, tx, 3.68, f"{'layer':<10}{'d':>5} × {'k':<5}{'r·(d+k)':>9}", family=MONO, color=GREY)
    y = 3.42
    for name in lora.targets:
        out, inp = shapes[name]
        _text(ax, tx, y, f"{name:<10}{out:>5} × {inp:<5}{r * (out + inp):>9,}", family=MONO)
        y -= 0.24
    ax.plot([tx, tx + 2.75], [y + 0.1] * 2, color=GREY, lw=0.8)
    _text(ax, tx, y - 0.1, f"{'one block':<23}{lora.per_block:>9,}", family=MONO)
    _text(ax, tx, y - 0.37, f"× {SMOLLM2['layers']} blocks = {lora.trainable:,} trained", family=MONO,
          weight="bold", color="#8A5A00")
    _text(ax, tx, y - 0.64, f"of {lora.total:,} = {lora.percent:.2f} %", family=MONO, weight="bold")
    _text(ax, tx, y - 0.95, "embeddings, norms and the output\nlayer stay frozen too", color=GREY, va="top")
    return fig


# ---------------------------------------------------------------------------------------------
# 4. Notebook 04: the RAG pipeline
# ---------------------------------------------------------------------------------------------

MINILM_DIM = 384   # all-MiniLM-L6-v2's embedding size (a test reads the model's config and compares)


def _lane(ax, x, y, w, h, label, *, face):
    _box(ax, x, y, w, h, face=face, edge="#BBBBBB", lw=1.0, rounding=0.1, zorder=0)
    _text(ax, x + 0.12, y + h - 0.2, label, weight="bold", color=GREY, zorder=1)


def draw_rag_pipeline():
    from utils.rag.abstention import ABSTAIN_TEXT
    from utils.rag.documents import chunk_documents, load_knowledge_base
    from utils.rag.focus import focus_many
    from utils.rag.pipeline import RagPipeline
    from utils.rag.retrieval import BM25Retriever, HybridRetriever
    from utils.rag.system import DEFAULT_OPTIONS

    nb = notebook_parameters("04_rag_pipeline")
    hybrid, bm25 = _defaults(HybridRetriever), _defaults(BM25Retriever)
    coverage_weight = RagPipeline.coverage_weight
    focus_weight = _defaults(focus_many)["lexical_weight"]
    chunk_default = _defaults(chunk_documents)
    documents = load_knowledge_base()
    W, H = 10.0, 7.4
    fig, ax = _canvas(W, H)
    _title(ax, W, H, "Notebook 04 · The RAG pipeline: index once, answer from the documents",
           f"utils.rag with notebook 04's settings: TOP_K {nb['TOP_K']}, FOCUS_UNITS {nb['FOCUS_UNITS']}, "
           f"BUDGET_TOKENS {nb['BUDGET_TOKENS']}; every choice made on dev")
    rag = GREEN
    face, edge = tint(rag, 0.12), rag

    # offline lane
    _lane(ax, 0.15, 4.4, 9.7, 2.1, "OFFLINE · build_rag indexes the documents; after a policy update, sync "
          "re-embeds only the documents that changed", face="#F7F7F7")
    ya, h = 5.75, 0.68
    boxes = {"docs": (0.3, 1.55), "chunks": (2.2, 2.0), "embed": (4.55, 1.9), "faiss": (6.8, 2.0)}
    texts = {"docs": f"{len(documents)} documents\nmanuals, policies, …",
             "chunks": f"chunk_documents\n{nb['CHUNK_TOKENS']} tokens, {nb['CHUNK_OVERLAP']} overlap,\n"
                       f"{'by heading' if chunk_default['by_heading'] else 'fixed windows'}",
             "embed": f"all-MiniLM-L6-v2\n{MINILM_DIM}-d unit vectors",
             "faiss": "FAISS IndexFlatIP\ninner product = cosine"}
    for key, (x, w) in boxes.items():
        _box(ax, x, ya - h / 2, w, h, texts[key], face="white", edge=GREY if key == "docs" else edge,
             lw=1.6 if key == "faiss" else 1.2)
    for a, b in (("docs", "chunks"), ("chunks", "embed"), ("embed", "faiss")):
        _arrow(ax, (sum(boxes[a]) + 0.04, ya), (boxes[b][0] - 0.04, ya))
    yb, hb = 4.55, 0.5
    bm_x, bm_w = boxes["chunks"]
    _box(ax, bm_x, yb, bm_w, hb, f"BM25 index\nrank-bm25, k1 {bm25['k1']}, b {bm25['b']}", face="white",
         edge=edge, lw=1.6, spacing=1.15)
    _arrow(ax, (bm_x + 0.5, ya - h / 2 - 0.03), (bm_x + 0.5, yb + hb + 0.03))

    # online lane, row 1: question -> hybrid retrieval -> focus -> confidence
    _lane(ax, 0.15, 0.15, 9.7, 4.15, "ONLINE · RagPipeline.answer, one question", face="white")
    y1, h1 = 3.1, 0.95
    q = (0.3, 1.55)
    hyb = (2.2, 2.9)
    foc = (5.4, 2.0)
    conf = (7.7, 2.0)
    _box(ax, *q[:1], y1 - h1 / 2, q[1], h1, "question\n“How heavy is the\nAeroBrew 500?”", face=LIGHT, edge=GREY)
    _box(ax, hyb[0], y1 - h1 / 2, hyb[1], h1,
         f"hybrid retrieval\ndense top {hybrid['depth']} + BM25 top {hybrid['depth']}\n"
         f"fused: Σ 1/({hybrid['k_rrf']} + rank) → top {nb['TOP_K']}", face=face, edge=edge, lw=1.6)
    _box(ax, foc[0], y1 - h1 / 2, foc[1], h1, f"focus\nthe {nb['FOCUS_UNITS']} sentences or table\n"
         f"rows that match best:\ncosine + {focus_weight} × overlap", face=face, edge=edge)
    _box(ax, conf[0], y1 - h1 / 2, conf[1], h1, f"confidence\nbest cosine\n+ {coverage_weight} × "
         f"coverage of\nthe question's words", face=face, edge=edge)
    for a, b in ((q, hyb), (hyb, foc), (foc, conf)):
        _arrow(ax, (sum(a) + 0.04, y1), (b[0] - 0.04, y1))
    # the indexes feed the retrieval
    fx = boxes["faiss"][0] + 0.5
    _elbow(ax, [(fx, ya - h / 2 - 0.03), (fx, 4.05), (hyb[0] + hyb[1] - 0.35, 4.05),
                (hyb[0] + hyb[1] - 0.35, y1 + h1 / 2 + 0.03)], color=edge, dashed=True)
    _arrow(ax, (bm_x + 1.85, yb - 0.03), (bm_x + 1.85, y1 + h1 / 2 + 0.03), color=edge, dashed=True)

    # the wrap to row 2
    y2, h2 = 1.55, 0.95
    gate = (0.3, 2.0)
    prm = (2.75, 2.35)
    llm = (5.45, 1.8)
    chk = (7.6, 2.1)
    _elbow(ax, [(conf[0] + conf[1] / 2, y1 - h1 / 2 - 0.03), (conf[0] + conf[1] / 2, 2.3), (gate[0] + 1.0, 2.3),
                (gate[0] + 1.0, y2 + h2 / 2 + 0.03)])
    _box(ax, gate[0], y2 - h2 / 2, gate[1], h2, "abstain?\nconfidence below the\ndev-calibrated threshold,\n"
         "or an unknown product", face="white", edge=INK, lw=1.4, size=10)
    _box(ax, prm[0], y2 - h2 / 2, prm[1], h2, f"generate: build_prompt\nnumbered sources, best last,\n"
         f"≤ {nb['BUDGET_TOKENS']} LLM tokens with\none worked example", face=face, edge=edge)
    _box(ax, llm[0], y2 - h2 / 2, llm[1], h2, f"SmolLM2-135M\n-Instruct writes\n≤ {nb['MAX_NEW_TOKENS']} new tokens",
         face=tint(ORANGE, 0.12), edge=ORANGE)
    _box(ax, chk[0], y2 - h2 / 2, chk[1], h2, "grounding check\nsupported: answer + [n]\nelse quote the best\n"
         "source (or abstain)", face=face, edge=edge, lw=1.6)
    _arrow(ax, (sum(gate) + 0.04, y2 + 0.2), (prm[0] - 0.04, y2 + 0.2))
    _text(ax, (sum(gate) + prm[0]) / 2, y2 + 0.28, "no", ha="center", va="bottom", size=10)
    _arrow(ax, (sum(prm) + 0.04, y2), (llm[0] - 0.04, y2))
    _arrow(ax, (sum(llm) + 0.04, y2), (chk[0] - 0.04, y2))

    # row 3: abstain, or quote (extract)
    y3, h3 = 0.62, 0.6
    _box(ax, gate[0], y3 - h3 / 2, gate[1], h3, f"“{ABSTAIN_TEXT}”", face=LIGHT, edge=INK, weight="bold")
    _arrow(ax, (gate[0] + 1.0, y2 - h2 / 2 - 0.03), (gate[0] + 1.0, y3 + h3 / 2 + 0.03))
    _text(ax, gate[0] + 1.08, (y2 - h2 / 2 + y3 + h3 / 2) / 2, "yes", va="center")
    ext = (2.75, 7.1 - 0.15)
    mode = DEFAULT_OPTIONS["answer_mode"]
    _box(ax, ext[0], y3 - h3 / 2, ext[1], h3,
         f"extract{' (chosen on dev; the default)' if mode == 'extract' else ''}: no LLM call, quote the best "
         f"source that\nstates the kind of value asked for, cited [1]",
         face=face, edge=edge, lw=1.6, align="left")
    _elbow(ax, [(sum(gate) + 0.04, y2 - 0.25), (2.45, y2 - 0.25), (2.45, y3), (ext[0] - 0.04, y3)])
    _text(ax, 2.5, y2 - 0.6, "no", va="center")
    return fig


# ---------------------------------------------------------------------------------------------
# 5. Notebook 05: the same task three ways, measured side by side
# ---------------------------------------------------------------------------------------------

def draw_side_by_side():
    from utils.compare import answer_cards
    from utils.compare.card_classifier import train_card_classifier
    from utils.compare.side_by_side import check_claim
    from utils.decide.situation import APPROACHES
    from utils.finetune.lora import lora_config
    from utils.rag.documents import load_knowledge_base, load_policy_update

    nb = notebook_parameters("05_side_by_side")
    lora_rank = _defaults(lora_config)["r"]   # notebook 05 calls lora_config() with its defaults
    custom = _defaults(train_card_classifier)
    claim = _defaults(check_claim)
    cards = answer_cards.load_cards()
    held_out = answer_cards.load_held_out(cards=cards)
    before = answer_cards.select_questions(held_out, cards)
    changed = answer_cards.select_questions(held_out, cards, after_update=True, changed_only=True)
    labelled = answer_cards.labelled_examples(cards)
    live = answer_cards.live_cards(cards)
    statuses = [c.status for c in cards]
    pairs = len(answer_cards.labelled_pairs(cards, "train"))
    updates = load_policy_update()
    W, H = 10.0, 7.7
    fig, ax = _canvas(W, H)
    _title(ax, W, H, "Notebook 05 · One task, three approaches, measured the same way",
           "utils.compare: the same answer cards, held-out questions, strict scorer and policy update for all three")
    cols = {"custom": 1.95, "fine-tune": 4.6, "rag": 7.25}
    cw = 2.5
    centres = {a: x + cw / 2 for a, x in cols.items()}

    def label(y, text):
        _text(ax, 0.25, y, text, weight="bold", color=GREY, spacing=1.15)

    def each(y, h, texts, *, size=10, lw=1.3, weight="normal"):
        for a in APPROACHES:
            _box(ax, cols[a], y - h / 2, cw, h, texts[a], face=tint(APPROACH_COLOURS[a], 0.14),
                 edge=APPROACH_COLOURS[a], lw=lw, size=size, weight=weight)

    def across(y, h, text, *, face=LIGHT, edge=GREY, weight="normal"):
        _box(ax, cols["custom"], y - h / 2, cols["rag"] + cw - cols["custom"], h, text, face=face, edge=edge,
             weight=weight)

    def down(y_from, y_to):
        for a in APPROACHES:
            _arrow(ax, (centres[a], y_from - 0.03), (centres[a], y_to + 0.03), color=APPROACH_COLOURS[a])

    # the task
    y = 6.55
    label(y, "the task")
    across(y, 0.62, f"answer Northwind's customer questions: {len(live)} answer cards, one fact each, from the "
                    f"{len(load_knowledge_base())}-document\nknowledge base; {labelled} labelled questions "
                    f"({labelled // len(live) - 1} paraphrases per card to train on, 1 to validate)")
    rows = [(5.55, 1.0), (4.55, 0.5), (3.8, 0.55), (3.0, 0.6), (2.2, 0.55), (1.4, 0.7), (0.55, 0.6)]
    (yb, hb), (yl, hl), (ys, hs), (ym, hm), (yu, hu), (yw, hw), (yc, hc) = rows
    down(y - 0.31, yb + hb / 2)
    label(yb, "build")
    each(yb, hb, {
        "custom": f"custom, from scratch: hashed\nn-grams → {custom['dim']}-d bag → MLP\n({custom['hidden']}) → one of "
                  f"{len(live)} cards;\nanswers with the card's text",
        "fine-tune": f"fine-tune: LoRA (r {lora_rank}) on\nSmolLM2-135M, {nb['LORA_STEPS']} steps in\n"
                     f"batches of {nb['LORA_BATCH']} of {pairs} pairs;\nanswers from its weights",
        "rag": f"RAG: {nb['RETRIEVER']} retrieval, k {nb['TOP_K']},\nanswer mode "
               f"'{nb['RAG_ANSWER_MODE']}':\nquotes the best source;\nnothing trained"})
    down(yb - hb / 2, yl + hl / 2)
    label(yl, "labels")
    each(yl, hl, {"custom": f"{labelled} labelled questions", "fine-tune": f"{labelled} labelled questions",
                  "rag": "none"}, weight="bold")
    down(yl - hl / 2, ys + hs / 2)
    label(ys, "scored on")
    across(ys, hs, f"the same {len(before)} held-out questions, worded unlike any paraphrase; the {nb['SCORER']} "
                   "scorer\n(the fact with its unit, the product asked about, no conflicting value)")
    down(ys - hs / 2, ym + hm / 2)
    label(ym, "measured")
    across(ym, hm, "accuracy with its 95 % interval · latency p50 / p95 in a fresh process, one question at a\n"
                   "time · peak memory · build and serving cost ($ = measured seconds × price per hour)",
           face="white", edge=INK)
    down(ym - hm / 2, yu + hu / 2)
    label(yu, "policy\nupdate")
    across(yu, hu, f"{len(updates)} documents change ({', '.join(d.id for d in updates)}):\n"
                   f"{statuses.count('changed')} cards change, {statuses.count('added')} is added; until its update "
                   "work each approach is stale", face=tint(VERMILLION, 0.1), edge=VERMILLION)
    down(yu - hu / 2, yw + hw / 2)
    label(yw, "update\nwork")
    each(yw, hw, {"custom": "relabel the changed cards;\nretrain for the new one",
                  "fine-tune": f"train again: {nb['UPDATE_STEPS']} steps on\nchanged + replayed pairs",
                  "rag": "re-index: sync re-embeds\nonly the changed documents"})
    down(yw - hw / 2, yc + hc / 2)
    label(yc, "compare")
    floor = claim["accuracy_floor"]
    across(yc, hc, f"the {len(changed)} changed questions, stale → after the update. The claim: RAG ≥ {floor:g} after "
                   f"the update,\nwith under 1/{claim['speedup']:g} of the fine-tune's update time; "
                   "measured_choice vs recommend()", face="white", edge=INK)
    return fig


DRAW = {"decision_flow": draw_decision_flow, "cnn": draw_cnn, "lora": draw_lora, "rag_pipeline": draw_rag_pipeline,
        "side_by_side": draw_side_by_side}


# ---------------------------------------------------------------------------------------------
# Rendering, checking and embedding
# ---------------------------------------------------------------------------------------------

COLOURS = 128   # the PNG's palette: antialiased text needs no more, and the file is a third of full colour


def render(name: str) -> bytes:
    """The PNG bytes of diagram ``name``, drawn now; the same code and libraries always give the same bytes.

    matplotlib draws in full colour; the PNG keeps a palette of ``COLOURS`` (median cut, no dithering), which
    looks the same and keeps the copies embedded in the notebooks small.
    """
    import matplotlib
    import matplotlib.style
    from PIL import Image

    stem = check_name(name)
    with matplotlib.style.context("default"), matplotlib.rc_context(RC):
        fig = DRAW[stem]()
        drawn = io.BytesIO()
        fig.savefig(drawn, format="png", dpi=DPI, metadata={"Software": None})
    image = Image.open(drawn).convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT,
                                                       dither=Image.Dither.NONE)
    png = io.BytesIO()
    image.save(png, format="PNG", optimize=True)
    return png.getvalue()


@functools.cache
def _drawn(name: str) -> bytes:
    """``render(name)`` once per process: checking and writing compare against the same drawing."""
    return render(name)


def _pixels(png: bytes):
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.size, image.tobytes()


def is_current(path: Path | str, name: str) -> bool:
    """Does ``path`` hold what diagram ``name`` draws now? The same bytes, or (from another build of the PNG
    compressor) the same pixels."""
    path = Path(path)
    if not path.is_file():
        return False
    committed, drawn = path.read_bytes(), _drawn(check_name(name))
    if committed == drawn:
        return True
    try:
        return _pixels(committed) == _pixels(drawn)
    except OSError:  # not a PNG at all
        return False


def figure_path(name: str, folder: Path | str = FIGURES_DIR) -> Path:
    return Path(folder) / f"{check_name(name)}.png"


def write_diagrams(folder: Path | str = FIGURES_DIR, names=NAMES) -> list[Path]:
    """Draw ``names`` into ``folder`` (created if needed); returns the files written (the others were current)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = figure_path(name, folder)
        if not is_current(path, name):
            path.write_bytes(_drawn(check_name(name)))
            written.append(path)
    return written


def stale_diagrams(folder: Path | str = FIGURES_DIR, names=NAMES) -> list[str]:
    """The file names among ``names`` missing from ``folder`` or different from what is drawn now."""
    return [f"{check_name(n)}.png" for n in names if not is_current(figure_path(n, folder), n)]


def committed_png(name: str, folder: Path | str = FIGURES_DIR) -> bytes:
    """The bytes of ``folder/NAME.png``; a DiagramError saying what to run if it is not there."""
    path = figure_path(name, folder)
    if not path.is_file():
        raise DiagramError(f"{path} does not exist yet: {FIX}.")
    return path.read_bytes()


def _encoded(name: str, folder) -> str:
    return base64.b64encode(committed_png(name, folder)).decode("ascii")


def _notebooks(notebooks) -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb")) if notebooks is None else [Path(p) for p in notebooks]


def _where(path: Path, index: int, cell) -> str:
    try:
        shown = path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        shown = path
    return f"{shown} cell {index}" + (f" ({cell['id']})" if cell.get("id") else "")


def attachment_problems(notebooks=None, folder: Path | str = FIGURES_DIR) -> list[str]:
    """Every markdown cell whose ``attachment:NAME.png`` names no diagram, or whose attachment is missing or
    differs from ``folder/NAME.png``, one line each. Empty: every diagram a notebook shows is current."""
    import nbformat

    problems = []
    for path in _notebooks(notebooks):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "markdown":
                continue
            for name in dict.fromkeys(ATTACHMENT.findall(cell.source)):
                where = _where(path, index, cell)
                try:
                    check_name(name)
                except DiagramError as error:
                    problems.append(f"{where}: {error}")
                    continue
                if not figure_path(name, folder).is_file():
                    problems.append(f"{where}: shows {name}, but {figure_path(name, folder)} is missing: {FIX}.")
                    continue
                held = cell.get("attachments", {}).get(name, {}).get("image/png")
                if held is None:
                    problems.append(f"{where}: shows {name} but does not carry it as an attachment: {FIX}.")
                elif held != _encoded(name, folder):
                    problems.append(f"{where}: its attachment {name} differs from {figure_path(name, folder)}: {FIX}.")
    return problems


def embed_diagrams(notebooks=None, folder: Path | str = FIGURES_DIR) -> list[Path]:
    """Set the attachments of every markdown cell that shows a diagram to the PNGs in ``folder``.

    A cell's ``attachments`` become exactly the diagrams its source names; nothing else in the notebook
    changes, and a notebook already current is not rewritten. Returns the notebooks written. A name that is no
    diagram, or a diagram not drawn yet, is a DiagramError (and nothing is written).
    """
    import nbformat

    from utils.course.labs import render as notebook_text

    plans = []
    for path in _notebooks(notebooks):
        text = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(text, as_version=4)
        for cell in notebook.cells:
            names = list(dict.fromkeys(ATTACHMENT.findall(cell.source))) if cell.cell_type == "markdown" else []
            if names:
                cell["attachments"] = {f"{check_name(n)}.png": {"image/png": _encoded(n, folder)} for n in names}
        new = notebook_text(notebook)
        if new != text:
            plans.append((path, new))
    for path, new in plans:
        path.write_text(new, encoding="utf-8")
    return [path for path, _ in plans]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true",
                        help="fail if a PNG in docs/figures/ differs from what the code draws now (writes nothing)")
    action.add_argument("--embed", action="store_true",
                        help="copy docs/figures/NAME.png into every notebook cell that shows attachment:NAME.png")
    parser.add_argument("--figures", type=Path, default=FIGURES_DIR, help="the PNG folder (default docs/figures)")
    parser.add_argument("--notebooks", type=Path, nargs="+", help="for --embed: these notebooks, not notebooks/*")
    args = parser.parse_args(argv)

    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(REPO_ROOT))
        except ValueError:
            return str(path)

    try:
        if args.check:
            stale = stale_diagrams(args.figures)
            if stale:
                print(f"Stale diagrams in {shown(args.figures)}: {', '.join(stale)}. "
                      f"{FIX[0].upper()}{FIX[1:]}, and commit them.")
                return 1
            print(f"{shown(args.figures)} holds the current {len(NAMES)} diagrams.")
            return 0
        if args.embed:
            written = embed_diagrams(args.notebooks, args.figures)
            for path in written:
                print(f"embedded the diagrams into {shown(path)}")
            if not written:
                print("every notebook already carries the current diagrams")
            return 0
        written = write_diagrams(args.figures)
        for path in written:
            print(f"wrote {shown(path)}")
        if not written:
            print(f"{shown(args.figures)} already holds the current {len(NAMES)} diagrams")
        return 0
    except DiagramError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
