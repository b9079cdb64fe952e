"""Realistic synthetic score tables for the benchmarks: bounded, skewed and tied metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_cube(k: int = 12, n: int = 5000, n_metrics: int = 8, seed: int = 0) -> np.ndarray:
    """Scores (k, n, N): each metric has its own shape; models differ by a quality effect.

    Kinds, cycled over the metrics: judge preference in [0, 1] (bimodal beta), binary accuracy,
    5-point Likert, answer length (lognormal, lower is better in use), toxicity (heavy right
    tail in [0, 1]), a score rounded to 0.1, exact match with item difficulty, BLEU-like skewed.
    """
    rng = np.random.default_rng(seed)
    skill = np.linspace(-1, 1, k)[:, None]  # (k, 1)
    difficulty = rng.normal(0, 1, n)[None, :]  # (1, n): items shared by all models
    cols = []
    for u in range(n_metrics):
        kind = u % 8
        z = skill + 0.7 * difficulty + rng.normal(0, 1, (k, n))
        if kind == 0:
            p = 1 / (1 + np.exp(-2 * z))
            cols.append(rng.beta(0.5 + 2 * p, 2.5 - 2 * p))
        elif kind == 1:
            cols.append((z > 0.3).astype(float))
        elif kind == 2:
            cols.append(np.clip(np.round(3 + z), 1, 5))
        elif kind == 3:
            cols.append(np.round(np.exp(6 + 0.5 * z)))
        elif kind == 4:
            cols.append(rng.beta(0.3, 8 + 3 * (skill + 1), (k, n)))
        elif kind == 5:
            cols.append(np.round(np.clip(0.5 + 0.2 * z, 0, 1), 1))
        elif kind == 6:
            cols.append((z + rng.normal(0, 0.5, (k, n)) > 0).astype(float))
        else:
            cols.append(np.clip(rng.gamma(1 + 0.3 * (skill + 1), 0.15, (k, n)), 0, 1))
    return np.stack(cols, axis=-1)


def synthetic_table(k: int = 12, n: int = 5000, n_metrics: int = 8, seed: int = 0):
    """The same data as a riskbench ScoreTable (metric 'm3' is lower-is-better length,
    'm4' lower-is-better toxicity)."""
    import riskbench

    cube = synthetic_cube(k, n, n_metrics, seed)
    models = np.repeat([f"model{a:02d}" for a in range(k)], n * n_metrics)
    items = np.tile(np.repeat(np.arange(n), n_metrics), k)
    metrics = np.tile([f"m{u}" for u in range(n_metrics)], k * n)
    frame = pd.DataFrame({"model": models, "item": items, "metric": metrics,
                          "value": cube.reshape(-1)})
    lower = {m: False for m in ("m3", "m4") if int(m[1]) < n_metrics}
    return riskbench.read_scores(frame, higher_is_better=lower or None)
