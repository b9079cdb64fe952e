"""The vectorised algorithm on a torch device (CUDA when available, else CPU), float64."""

from __future__ import annotations

import numpy as np
import torch


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _segment_sum(d: torch.Tensor) -> torch.Tensor:
    """3n times the integral of the square of the interpolant of (0, d_1, ..., d_n)."""
    return 2.0 * (d * d).sum(-1) - d[..., -1] ** 2 + (d[..., :-1] * d[..., 1:]).sum(-1)


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


def _pairwise(values: torch.Tensor, order: int, chunk: int) -> np.ndarray:
    b, k, n = values.shape
    q = torch.cumsum(values, dim=-1) if order == 2 else values
    out = torch.full((b, k, k), float("nan"), dtype=torch.float64, device=values.device)
    for i in range(k - 1):
        step = max(1, chunk // ((k - 1 - i) * n))
        for r0 in range(0, b, step):
            blk = q[r0:r0 + step]
            d = blk[:, i + 1:, :] - blk[:, i:i + 1, :]  # (b', p, n)
            if order == 1:
                den = (d * d).sum(-1)
                pd = torch.clamp(d, min=0.0)
                num = (pd * pd).sum(-1)
            else:
                den = _segment_sum(d)
                num = _segment_sum(torch.clamp(d, min=0.0))
                a, z = d[..., :-1], d[..., 1:]
                cross = ((a > 0) & (z < 0)) | ((a < 0) & (z > 0))
                if bool(cross.any()):
                    safe = torch.where(cross, a - z, torch.ones_like(a))
                    corr = torch.where(a > 0, a * a * z / safe, z * z * a / (-safe))
                    num = num + torch.where(cross, corr, torch.zeros_like(corr)).sum(-1)
            eps = torch.where(den > 0, torch.clamp(num / torch.where(den > 0, den, 1.0), 0, 1),
                              torch.full_like(den, 0.5))
            out[r0:r0 + step, i, i + 1:] = eps
            out[r0:r0 + step, i + 1:, i] = 1.0 - eps
    return out.cpu().numpy()
