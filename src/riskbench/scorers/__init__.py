"""Scorers: turn raw generations into per-item metrics a ScoreTable can hold.

- ``ifeval``: IFEval's verifiable instructions (Zhou et al. 2023), strict and loose;
- ``toxicity``: offensive-language probability, offline (alt-profanity-check, or local weights);
- ``length``: characters, words, and tokens when tiktoken's encoding is already cached.
"""

from riskbench.scorers.core import SCORERS, Generation, read_generations, score

__all__ = ["SCORERS", "Generation", "read_generations", "score"]
