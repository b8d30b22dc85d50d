"""Pictures of a recommendation: score bars, the gallery heat map, and the live ipywidgets panel.

All three draw what ``utils.decide.rules.recommend`` returns; none of them decides anything, so the
panel a learner drags and the tables the tests check can never disagree.

    from utils.decide.widgets import DecisionPanel
    panel = DecisionPanel()            # display(panel) in a notebook
    panel.set(needs_sources=True)      # what dragging a control does, from code
    panel.recommendation().approach
"""

import html

from utils.decide.rules import Recommendation, recommend, score_range
from utils.decide.scenarios import GALLERY, GalleryResult
from utils.decide.situation import APPROACHES, FIELD_HELP, KNOWLEDGE_CHANGE, PRETRAINED_FIT, Situation

COLORS = {"custom": "#4C72B0", "fine-tune": "#DD8452", "rag": "#55A868"}  # one colour per approach, everywhere

# Slider stops: values a business reader thinks in (a log-like scale), not every integer.
STOPS = {
    "labelled_examples": (0, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000,
                         500_000, 1_000_000, 2_000_000),
    "latency_budget_ms": (10, 20, 30, 50, 80, 100, 200, 300, 500, 1_000, 2_000, 3_000, 5_000, 10_000),
    "budget_usd": (0, 2_000, 5_000, 8_000, 10_000, 12_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000,
                   60_000, 80_000, 100_000, 150_000, 200_000, 300_000, 400_000, 1_000_000),
}
OWN = "(your own)"  # the picker's entry for a situation that is not a gallery scenario
DEFAULT = Situation(labelled_examples=2_000, knowledge_change="static", latency_budget_ms=500,
                    budget_usd=20_000, pretrained_fit="partial", needs_sources=False)


def plot_scores(rec: Recommendation, ax=None, title: str | None = None):
    """Horizontal score bars, the winner solid and the others faded. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 1.9))
    low, high = score_range()  # fixed axes, so bars can be compared between situations
    values = [rec.scores[a] for a in APPROACHES]
    bars = ax.barh(APPROACHES, values, color=[COLORS[a] for a in APPROACHES])
    for bar, value, approach in zip(bars, values, APPROACHES):
        bar.set_alpha(1.0 if approach == rec.approach else 0.35)
        ax.text(value + (0.3 if value >= 0 else -0.3), bar.get_y() + bar.get_height() / 2, f"{value:+d}",
                va="center", ha="left" if value >= 0 else "right", fontsize=9)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlim(low - 1, high + 1)
    ax.invert_yaxis()  # custom on top, as in the tables
    ax.set_xlabel("score (sum of points over the criteria)")
    ax.set_title(title or f"Recommendation: {rec.approach}", fontsize=10)
    return ax.figure


def plot_gallery(results: list[GalleryResult], ax=None):
    """Heat map of scenario × approach scores; a black box marks the recommendation, ✓/✗ the agreement."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.42 * len(results) + 1.2))
    grid = np.array([[r.recommendation.scores[a] for a in APPROACHES] for r in results])  # (S, 3)
    limit = max(abs(v) for v in score_range())
    ax.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for row, r in enumerate(results):
        for col, approach in enumerate(APPROACHES):
            ax.text(col, row, f"{grid[row, col]:+d}", ha="center", va="center", fontsize=9)
            if approach == r.recommendation.approach:
                ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=2.2, color="black"))
    ax.set_xticks(range(len(APPROACHES)), APPROACHES)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(results)),
                  [f"{r.scenario.name}  (expected {r.scenario.expected}) {'✓' if r.agrees else '✗'}"
                   for r in results])
    ax.set_title("Scores per scenario (box = recommended)", fontsize=10, pad=24)
    return ax.figure


def _reasons_html(rec: Recommendation) -> str:
    items = "".join(f"<li>{html.escape(r)}</li>" for r in rec.reasons)
    notes = "".join(f"<li><i>Note:</i> {html.escape(n)}</li>" for n in rec.notes)
    return f"<ul style='margin:0'>{items}{notes}</ul>"


class DecisionPanel:
    """Sliders and dropdowns for every Situation field; the recommendation, bars and reasons follow live.

    ``set(...)`` and ``load(name)`` change the controls from code, exactly as a learner's
    mouse would, so a headless run (CI, papermill) exercises the same callbacks.
    """

    def __init__(self, start: Situation = DEFAULT, scenarios=GALLERY):
        import ipywidgets as w

        if not isinstance(start, Situation):
            raise ValueError(f"start must be a Situation, got {type(start).__name__}.")
        # Every control fills its column (one shared layout), and the columns stretch and wrap with the notebook,
        # so the readouts stay in sight beside JupyterLab's file browser. Fixed widths (a 520 px control
        # column beside a 560 px result column) overflowed any notebook narrower than about 1,100 px.
        style, layout = {"description_width": "140px"}, w.Layout(width="auto")
        self.controls = {}
        for name, stops in STOPS.items():
            self.controls[name] = w.SelectionSlider(
                options=self._options(stops, getattr(start, name)), value=getattr(start, name),
                description=name, continuous_update=False, style=style, layout=layout)
        self.controls["knowledge_change"] = w.Dropdown(options=KNOWLEDGE_CHANGE, value=start.knowledge_change,
                                                       description="knowledge_change", style=style, layout=layout)
        self.controls["pretrained_fit"] = w.Dropdown(options=PRETRAINED_FIT, value=start.pretrained_fit,
                                                     description="pretrained_fit", style=style, layout=layout)
        self.controls["needs_sources"] = w.Checkbox(value=start.needs_sources, description="needs_sources",
                                                    style=style, layout=layout)
        for name, control in self.controls.items():
            control.tooltip = FIELD_HELP[name]
        self.scenarios = tuple(scenarios)
        self.picker = w.Dropdown(options=[OWN] + [s.name for s in self.scenarios],
                                 description="start from", style=style, layout=layout)
        self.headline, self.reasons, self.chart = w.HTML(), w.HTML(), w.Output()
        self._loading = False
        self.picker.observe(self._on_pick, names="value")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        order = ["labelled_examples", "knowledge_change", "latency_budget_ms", "budget_usd", "pretrained_fit",
                 "needs_sources"]
        # Side by side while both columns get their basis (340 + 380 px), one under the other when narrower.
        # min_width 0 lets a column shrink below its content's natural width instead of pushing it out of view.
        controls = w.VBox([self.picker, *(self.controls[n] for n in order)],
                          layout=w.Layout(flex="1 1 340px", min_width="0", max_width="520px"))
        results = w.VBox([self.headline, self.chart, self.reasons],
                         layout=w.Layout(flex="1 1 380px", min_width="0", max_width="560px"))
        self.widget = w.HBox([controls, results], layout=w.Layout(flex_flow="row wrap", width="100%",
                                                                  align_items="flex-start", grid_gap="4px 16px"))
        self.updates = 0  # how many times the outputs were redrawn (lets tests see the callbacks ran)
        self._redraw()

    @staticmethod
    def _options(stops, value) -> list[tuple[str, float]]:
        """(label, value) pairs: the stops plus ``value``, labelled with thousands separators."""
        return [(f"{v:,}", v) for v in sorted(set(stops) | {value})]

    def slider_values(self, name: str) -> list:
        """The values a slider can take (the stops, plus any value set from code)."""
        return [value for _, value in self.controls[name].options]

    def situation(self) -> Situation:
        return Situation(**{name: control.value for name, control in self.controls.items()})

    def recommendation(self) -> Recommendation:
        return recommend(self.situation())

    def set(self, **values) -> Recommendation:
        """Move controls to new values (validated as a Situation first) and return the new recommendation."""
        wanted = Situation(**{**{n: c.value for n, c in self.controls.items()}, **values})
        self._loading = True  # one redraw at the end, not one per control
        try:
            for name in values:
                control, value = self.controls[name], getattr(wanted, name)
                if name in STOPS and value not in self.slider_values(name):
                    control.options = self._options(STOPS[name], value)
                control.value = value
            self.picker.value = OWN
        finally:
            self._loading = False
        self._redraw()
        return self.recommendation()

    def load(self, name: str) -> Recommendation:
        """Copy a gallery scenario's situation into the controls."""
        found = {s.name.lower(): s for s in self.scenarios}.get(str(name).lower())
        if found is None:
            raise ValueError(f"No scenario called {name!r} in this panel; choose one of: "
                             f"{', '.join(s.name for s in self.scenarios)}.")
        rec = self.set(**{n: getattr(found.situation, n) for n in self.controls})
        self._loading = True  # show which scenario the controls came from, without reloading it
        self.picker.value = found.name
        self._loading = False
        return rec

    def _on_pick(self, change) -> None:
        if not self._loading and change["new"] != OWN:
            self.load(change["new"])

    def _on_change(self, change) -> None:
        if not self._loading:  # a learner moved one control: it is no longer the gallery scenario
            self._loading = True
            self.picker.value = OWN
            self._loading = False
            self._redraw()

    def _redraw(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        rec = self.recommendation()
        runner_up = f"runner-up {rec.runner_up}, {rec.margin} point{'s' if rec.margin != 1 else ''} behind"
        self.headline.value = (f"<h3 style='margin:4px 0'>Recommendation: "
                               f"<span style='color:{COLORS[rec.approach]}'>{rec.approach}</span></h3>"
                               f"<span>{runner_up}</span>")
        self.reasons.value = _reasons_html(rec)
        fig = plot_scores(rec, title=" ")
        with self.chart:
            self.chart.clear_output(wait=True)
            display(fig)
        plt.close(fig)  # the Output widget keeps the rendered image; free the figure
        self.updates += 1

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
