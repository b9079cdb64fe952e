"""Layout checks of matplotlib figures: every text inside the figure, no two texts overlapping.

Drawn with the Agg renderer (the same text metrics as the SVG the report embeds); used by the
plot tests at 2 to 227 models, and mirrored in the browser test on the rendered SVG.
"""

from __future__ import annotations

from itertools import combinations


def texts(fig) -> list:
    """(text, bbox) of every text the figure actually draws, in display pixels (tick labels
    outside the view limits are not drawn, so they are not counted)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    drawn = {}  # one entry per Text artist: a multi-line text is drawn line by line

    class Recorder(RendererAgg):
        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if mtext is not None and s.strip():
                drawn[id(mtext)] = (mtext.get_text(), mtext.get_window_extent(self))
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    FigureCanvasAgg(fig)
    width, height = fig.canvas.get_width_height(physical=True)
    renderer = Recorder(width, height, fig.dpi)
    fig.draw(renderer)  # the layout engine runs first, so these are the final positions
    return [(s, box) for s, box in drawn.values() if box.width > 0 and box.height > 0]


def problems(fig, *, tolerance: float = 0.5) -> list[str]:
    """What is clipped or overlapping; empty when the layout is clean."""
    found = []
    items = texts(fig)
    frame = fig.bbox
    for text, box in items:
        if (box.x0 < frame.x0 - tolerance or box.y0 < frame.y0 - tolerance
                or box.x1 > frame.x1 + tolerance or box.y1 > frame.y1 + tolerance):
            found.append(f"clipped: {text!r} {tuple(round(v) for v in box.extents)} outside "
                         f"{tuple(round(v) for v in frame.extents)}")
    for (a, p), (b, q) in combinations(items, 2):
        dx = min(p.x1, q.x1) - max(p.x0, q.x0)
        dy = min(p.y1, q.y1) - max(p.y0, q.y0)
        if dx > tolerance and dy > tolerance:
            found.append(f"overlap: {a!r} and {b!r} ({dx:.1f} x {dy:.1f} px)")
    return found


# --- the tables the plot and browser tests draw ------------------------------------------------

def long_name_table(k: int = 9):
    """k demo models (real AlpacaEval scores) under 60-character names, as harness logs name
    runs: an organisation, the model, a timestamp that differs in its last digit only."""
    import riskbench

    demo = riskbench.load_demo()
    models = demo.models[:k]
    frame = demo.to_frame()
    frame = frame[frame["model"].isin(models) & (frame["metric"] == "win")]
    rename = {m: (f"research-lab/{m}-instruct-chat-preview")[:33]
              + f"@2024-08-21T03-40-10.80267{a}" for a, m in enumerate(models)}
    frame = frame.assign(model=frame["model"].map(rename))
    assert all(len(n) == 60 for n in rename.values())
    return riskbench.read_scores(frame, item="item", align="intersect")


def binary_log_table():
    """A real lm-evaluation-harness log folder: winogrande exact match (0/1) of 5 runs whose
    names are long paths and timestamps (tests/data/formats/lm_eval/kt_lm_eval_fork)."""
    from pathlib import Path

    import riskbench

    folder = Path(__file__).parent / "data" / "formats" / "lm_eval" / "kt_lm_eval_fork"
    return riskbench.read_scores(folder, metrics=["winogrande/exact_match,get-answer"])
