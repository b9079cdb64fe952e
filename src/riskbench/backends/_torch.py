"""The vectorised algorithm on a torch device (CUDA when available, else CPU), float64.

Same per-pair form as the numpy reference (:mod:`riskbench.dominance`): differences of each
pair, scaled by a power of two, D summed per pair, so any finite scores are safe.
"""

from __future__ import annotations

import numpy as np
import torch


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def replicate_matrices(job, counts: list[np.ndarray], *, chunk: int = 1 << 22) -> np.ndarray:
    """Every model and replicate must have n draws (plain and two-stage resampling)."""
    dev = device()
    xs = torch.as_tensor(np.stack(job.values), dtype=torch.float64, device=dev)  # (k, n)
    perm = torch.as_tensor(np.stack(job.order_idx), dtype=torch.int64, device=dev)  # (k, n)
    k, n = xs.shape
    drawn = torch.tensor(np.stack(counts, axis=1), dtype=torch.int64, device=dev)  # (b, s, n)
    b = drawn.shape[0]
    if drawn.shape[1] == 1:  # shared counts: each model's sorted order
        per_sorted = drawn[:, 0][:, perm]  # (b, k, n)
    else:
        per_sorted = torch.gather(drawn, 2, perm.expand(b, k, n))
    ends = torch.cumsum(per_sorted, dim=-1)  # (b, k, n)
    ranks = torch.arange(n, device=dev).expand(b, k, n).contiguous()
    pos = torch.searchsorted(ends, ranks, right=True)  # sorted position of each rank
    values = torch.gather(xs.expand(b, k, n), 2, pos)  # sorted resamples, no sort
    return np.stack([_pairwise(values, order, chunk) for order in job.orders])





def _scale_rows(d: torch.Tensor) -> torch.Tensor:
    """Each row of d (..., n) times the power of two that brings max |d| into [1/2, 1)
    (two factors, so neither overflows; exact), as :func:`riskbench.dominance.scale_rows`."""
    peak = d.abs().amax(dim=-1, keepdim=True)
    _, e = torch.frexp(torch.where(peak > 0, peak, torch.ones_like(peak)))
    half = torch.div(-e, 2, rounding_mode="floor")
    one = torch.ones_like(peak)
    return d * torch.ldexp(one, half) * torch.ldexp(one, -e - half)


def _parts(d: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative parts of rows of scaled differences, as the numpy reference."""
    if order == 1:
        pos = torch.clamp(d, min=0.0)
        neg = torch.clamp(d, max=0.0)
        return (pos * pos).sum(-1), (neg * neg).sum(-1)
    big = torch.cumsum(d, dim=-1)  # D = G_j - G_i of the pair, summed per pair
    small = torch.nn.functional.pad(big[..., :-1], (1, 0))
    parts = []
    for sign in (1.0, -1.0):
        a, b = sign * small, sign * big
        ap, bp = torch.clamp(a, min=0.0), torch.clamp(b, min=0.0)
        seg = ap * ap + ap * bp + bp * bp
        cross = ((a > 0) & (b < 0)) | ((a < 0) & (b > 0))
        if bool(cross.any()):
            safe = torch.where(cross, a - b, torch.ones_like(a))
            exact = torch.where(a > 0, a**3 / safe, b**3 / (-safe))
            seg = torch.where(cross, exact, seg)
        parts.append(seg.sum(-1))
    return parts[0], parts[1]


def _pairwise(values: torch.Tensor, order: int, chunk: int) -> np.ndarray:
    b, k, n = values.shape
    out = torch.full((b, k, k), float("nan"), dtype=torch.float64, device=values.device)
    for i in range(k - 1):
        step = max(1, chunk // ((k - 1 - i) * n))
        for r0 in range(0, b, step):
            blk = values[r0:r0 + step]
            d = blk[:, i + 1:, :] - blk[:, i:i + 1, :]  # (b', p, n): q_j - q_i
            if not bool(torch.isfinite(d).all()):  # overflow: halves (cancels in eps)
                d = blk[:, i + 1:, :] * 0.5 - blk[:, i:i + 1, :] * 0.5
            pos, neg = _parts(_scale_rows(d), order)
            den = pos + neg
            eps = torch.where(neg <= 0, torch.ones_like(pos), pos / torch.where(den > 0, den,
                                                                              1.0))
            eps = torch.where(pos <= 0, torch.zeros_like(pos), torch.clamp(eps, 0.0, 1.0))
            eps = torch.where((pos <= 0) & (neg <= 0), torch.full_like(pos, 0.5), eps)
            out[r0:r0 + step, i, i + 1:] = eps
            out[r0:r0 + step, i + 1:, i] = 1.0 - eps
    return out.cpu().numpy()
