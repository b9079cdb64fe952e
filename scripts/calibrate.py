"""Run the calibration suite of the dominance tests and write docs/calibration.md (issue 7).

    python scripts/calibrate.py                       # full suite, about 50 minutes on 2 cores
    python scripts/calibrate.py --quick -o /tmp/c.md  # a smoke run (300 datasets)
    python scripts/calibrate.py --json auto.json      # also keep the rates
    python scripts/calibrate.py --scale raw --json raw.json -o /tmp/raw.md
    python scripts/calibrate.py --rows auto.json --compare raw.json --compare-label "raw scale" \
        --notes docs/calibration_findings.md          # docs/calibration.md as committed

Scenarios, data model and verdicts are defined in :mod:`riskbench.calibration`. Scenarios run in
parallel processes (``--jobs``); each uses one thread for the compiled kernels. ``--compare``
adds the rates of an earlier ``--json`` run (e.g. with a patched riskbench on PYTHONPATH) next
to this run's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import riskbench
from riskbench import calibration as cal

ROOT = Path(__file__).resolve().parents[1]
POWER_SIZES = (100, 500, 5000)
#: Options that describe a run (stored with --json, restored with --rows).
SETTINGS = ("datasets", "power_datasets", "resamples", "seed", "alpha", "eps0", "jobs",
            "scale", "large_k_datasets", "rank_datasets")


# ----------------------------------------------------------------------------- running

def _datasets(scenario: cal.Scenario, args) -> int:
    return args.large_k_datasets if scenario.k >= 20 and args.large_k_datasets \
        else args.datasets


def _tasks(args) -> list[tuple[str, cal.Scenario, dict]]:
    def common(s: cal.Scenario) -> dict:
        return {"n_resamples": args.resamples, "alpha": args.alpha, "seed": args.seed,
                "scale": args.scale}

    tasks = [("null", s, {**common(s), "n_datasets": _datasets(s, args)})
             for s in cal.null_scenarios(n=100, eps0=args.eps0)]
    tasks += [("size", s, {**common(s), "n_datasets": args.datasets})
              for s in cal.sample_size_scenarios(eps0=args.eps0)]
    tasks += [("power", s, {**common(s), "n_datasets": args.power_datasets,
                            "sizes": POWER_SIZES}) for s in cal.power_scenarios(eps0=args.eps0)]
    tasks += [("coverage", s, {**common(s), "n_datasets": args.datasets})
              for s in cal.coverage_scenarios(eps0=args.eps0)]
    tasks += [("rank", s, {"n_resamples": args.resamples, "alpha": args.alpha,
                           "seed": args.seed, "scale": args.scale,
                           "n_datasets": args.rank_datasets, "correction": correction})
              for s in cal.rank_coverage_scenarios() for correction in ("bonferroni", "holm")]
    return tasks


def _cost(task) -> float:
    """Rough relative cost, to start the longest tasks first."""
    kind, s, kw = task
    k, n = s.k, max(s.sizes)
    if kind == "power":
        n = sum(kw["sizes"])
    return kw["n_datasets"] * (k * (k - 1) / 2 * n * len(s.orders) * kw["n_resamples"] / 200
                              + 2000 * len(s.tests))


def _run(task) -> list[dict]:
    kind, scenario, kwargs = task
    if kind in ("null", "size"):
        results = cal.type_one_error(scenario, **kwargs)
    elif kind == "power":
        sizes = kwargs.pop("sizes")
        results = cal.power_curve(scenario, sizes, **kwargs)
    elif kind == "rank":
        results = cal.rank_coverage(scenario, **kwargs)
    else:
        results = cal.coverage(scenario, **kwargs)
    rows = []
    for r in results:
        row = {"kind": kind, **asdict(r)}
        if kind in ("null", "size"):
            row["familywise_verdict"] = r.familywise_verdict
            row["pair_verdict"] = r.pair_verdict
        if kind in ("coverage", "rank"):
            row["verdict"] = r.verdict
        rows.append(row)
    return rows


def run_all(args) -> tuple[list[dict], float]:
    tasks = sorted(_tasks(args), key=_cost, reverse=True)
    start = time.perf_counter()
    rows: list[dict] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_run, t) for t in tasks]
        for done, future in enumerate(as_completed(futures), 1):
            rows += future.result()
            print(f"\r{done}/{len(tasks)} scenarios, {time.perf_counter() - start:.0f} s",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows, time.perf_counter() - start


# ----------------------------------------------------------------------------- markdown

def _key(row: dict) -> tuple:
    info = row["info"]
    return (row["kind"], info["scenario"], info["design"], info["n"], row["test"], row["order"],
            row.get("n"), row.get("correction"))


def _rate(rate: dict) -> str:
    r = rate["count"] / rate["n"]
    return f"{r:.3f} ± {math.sqrt(r * (1 - r) / rate['n']):.3f}"


def _short(verdict: str) -> str:
    return {"calibrated": "ok", "conservative (expected)": "conservative (expected)",
            "conservative": "conservative", "ANTI-CONSERVATIVE": "**FAIL** (above)"}[verdict]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _null_table(rows: list[dict], compare: dict, label: str) -> list[str]:
    head = ("| scenario | design | k | n | B | test | order | family-wise (Bonferroni) | verdict "
            "| pair, no correction | verdict | sd = 0 |")
    sep = "|---|---|---|---|---|---|---|---|---|---|---|---|"
    if compare:
        head += f" family-wise, {label} | pair, {label} |"
        sep += "---|---|"
    out = [head, sep]
    for r in rows:
        i = r["info"]
        line = (f"| {i['scenario']} | {i['design']} | {i['k']} | {i['n']} | {r['n_resamples']} "
                f"| {r['test']} | "
                f"{r['order']} | {_rate(r['familywise'])} | {_short(r['familywise_verdict'])} | "
                f"{_rate(r['pair'])} | {_short(r['pair_verdict'])} | "
                f"{r['zero_sd']['count'] / r['zero_sd']['n']:.3f} |")
        other = compare.get(_key(r))
        if compare:
            line += (f" {_rate(other['familywise'])} ({_short(other['familywise_verdict'])}, "
                     f"B = {other['n_resamples']}) | "
                     f"{_rate(other['pair'])} ({_short(other['pair_verdict'])}) |"
                     if other else " – | – |")
        out.append(line)
    return out


def _power_tables(rows: list[dict], compare: dict, label: str) -> list[str]:
    groups: dict[tuple, dict[int, dict]] = {}
    for r in rows:
        i = r["info"]
        key = (i["scenario"], i["design"], i["k"], r["test"], r["order"], r["truth"], r["h1"])
        groups.setdefault(key, {})[r["n"]] = r
    head = "| alternative | design | k | test | order | true statistic | " + " | ".join(
        f"n = {n}" for n in POWER_SIZES) + " |"
    out = [head, "|---|---|---|---|---|---|" + "---|" * len(POWER_SIZES)]
    for (name, design, k, test, order, truth, h1), by_n in groups.items():
        stat = ("E" if test == "absolute" else "Delta") + f" = {truth:.3f}"
        stat += "" if h1 else " (H0 true)"
        cells = []
        for n in POWER_SIZES:
            r = by_n.get(n)
            cell = _rate(r["rejections"]) if r else "–"
            other = compare.get(_key(r)) if r else None
            if other:
                cell += f" ({label}: {other['rejections']['count'] / other['rejections']['n']:.3f})"
            cells.append(cell)
        out.append(f"| {name} | {design} | {k} | {test} | {order} | {stat} | "
                   + " | ".join(cells) + " |")
    return out


def _coverage_table(rows: list[dict], compare: dict, label: str) -> list[str]:
    head = ("| pool | n | test | order | true value (pair 0, 1) | level | coverage of pair | "
            "verdict | all pairs at once |")
    sep = "|---|---|---|---|---|---|---|---|---|"
    if compare:
        head += f" pair, {label} | all pairs, {label} |"
        sep += "---|---|"
    out = [head, sep]
    for r in rows:
        i = r["info"]
        line = (f"| {i['scenario']} | {i['n']} | {r['test']} | {r['order']} | {r['truth']:.4f} "
                f"| {r['level']:.4f} | {_rate(r['pair'])} | "
                f"{'ok' if r['verdict'] == 'covers' else '**UNDER-COVERS**'} | "
                f"{_rate(r['simultaneous'])} |")
        other = compare.get(_key(r))
        if compare:
            line += (f" {_rate(other['pair'])} | {_rate(other['simultaneous'])} |" if other
                     else " – | – |")
        out.append(line)
    return out


def _rank_table(rows: list[dict]) -> list[str]:
    out = ["| pool | n | order | correction | true ranks | simultaneous coverage | verdict | "
           "mean width |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        i = r["info"]
        out.append(f"| {i['scenario']} | {i['n']} | {r['order']} | {r['correction']} | "
                   f"{', '.join(map(str, r['true_ranks']))} | {_rate(r['simultaneous'])} | "
                   f"{'ok' if r['verdict'] == 'covers' else '**UNDER-COVERS**'} | "
                   f"{r['width']:.2f} |")
    return out


def _catalogue_order(args) -> dict[tuple, int]:
    """Position of each scenario in the catalogue, so tables follow its order."""
    order = {}
    for kind, scenario, _ in _tasks(args):
        order.setdefault((kind, scenario.name, scenario.design, scenario.size_label),
                         len(order))
    return order


def render(rows: list[dict], seconds: float, args, compare: dict) -> str:
    label = args.compare_label
    position = _catalogue_order(args)

    def place(r: dict) -> tuple:
        i = r["info"]
        return (position.get((r["kind"], i["scenario"], i["design"], i["n"]), len(position)),
                r["test"], r["order"], r.get("n") or 0)

    by_kind: dict[str, list[dict]] = {}
    for r in sorted(rows, key=place):
        by_kind.setdefault(r["kind"], []).append(r)
    nulls = by_kind.get("null", [])
    fails = [r for r in nulls if "ANTI" in r["pair_verdict"] or "ANTI" in r["familywise_verdict"]]
    lines = [
        "# Calibration of the dominance tests",
        "",
        "Generated by `scripts/calibrate.py` (issue 7); definitions in "
        "`src/riskbench/calibration.py`. Do not edit by hand: rerun the script.",
        "",
        "## Settings",
        "",
        f"- riskbench {riskbench.__version__} (commit {args.commit}), numpy {np.__version__}, "
        f"engine `{riskbench.backends.resolve('auto')}` on one thread per process",
        f"- tests decided on the `{args.scale}` scale"
        + (" (riskbench's default: the raw statistic, Delta for the relative test and E for the "
           "absolute test, over the bootstrap upper semi-deviation of its replicates)"
           if args.scale == "auto" else f" (`scale=\"{args.scale}\"`)")
        + ", each claim gated by the equality test (intersection-union test, "
        "`src/riskbench/equality.py`)",
        f"- seed {args.seed}; B = {args.resamples} bootstrap replicates per dataset"
        + f"; {args.datasets} simulated datasets per null and coverage scenario"
        + (f" ({args.large_k_datasets} for k = 20)" if args.large_k_datasets else "")
        + f", {args.power_datasets} per power cell; alpha = {args.alpha}; eps0 = {args.eps0}",
        f"- machine: {args.machine}; {args.jobs} worker processes",
        f"- runtime: {seconds / 60:.1f} min ({datetime.now(UTC):%Y-%m-%d})",
        "",
        "Why B = 200: the type-I error of a test is a property of the bootstrap distribution "
        "it reads, and at B = 200 the Monte Carlo error of the bootstrap sd is about 5% "
        "(1/sqrt(2B)), which moves a 5% rejection rate by well under one binomial SE of 2,000 "
        "datasets (0.005). Users run B = 1000 by default.",
        "",
        "Data: model a's score on item t is `Q_a(Phi(Z[a, t]))`, "
        "`Z[a, t] = sqrt(rho) U_t + sqrt(1 - rho) e[a, t]`: exact marginal laws, items shared "
        "by all models with correlation rho = 0.5 for the paired design, rho = 0 for the "
        "independent design. True violation ratios are computed by quadrature. Clustered "
        "scenarios add a model-specific cluster effect: `e[a, t] = sqrt(rho_c) V[a, c(t)] + "
        "sqrt(1 - rho_c) e'[a, t]`.",
        "",
        "Verdicts: with D datasets the binomial SE at alpha is sqrt(alpha (1 - alpha) / D) "
        f"({math.sqrt(args.alpha * (1 - args.alpha) / args.datasets):.4f} here). "
        "**ok**: within alpha ± 2 SE; **conservative (expected)**: below, where that is the "
        "method's design (Bonferroni over several pairs; nulls that are not least "
        "favourable, such as E = 1/2 > eps0 for the absolute test at identical laws); "
        "**FAIL**: above alpha + 2 SE. `family-wise`: share of datasets with any false "
        "claim (default Bonferroni correction over the k(k-1) ordered pairs; every hypothesis "
        "is true except where a row says otherwise). `pair`: share where the raw one-sided "
        "p-value of the ordered pair (0, 1), 'model 0 beats model 1', is below alpha (one "
        "hypothesis, no correction). `sd = 0`: share of datasets whose bootstrap sd for that "
        "pair was 0. Every row, including the 'crossing' rows where Delta = 0 between "
        "distinct laws (both 'i beats j' and 'j beats i' are true nulls) and the interior "
        "second-order null, is judged against alpha.",
        "",
        "## Summary",
        "",
        f"{len(nulls)} null rows; {len(fails)} fail (type-I error above "
        "alpha + 2 SE, family-wise or for the pair).",
        "",
    ]
    if args.notes:
        lines += [args.notes.read_text().strip(), ""]
    if compare:
        lines += [f"Columns marked *{label}* come from `{args.compare}` (an earlier run of this "
                  "script with the same settings).", ""]
    lines += ["## Type-I error (n = 100 unless the row says otherwise)", ""]
    families = dict.fromkeys(r["info"]["family"] for r in nulls)
    for family in families:
        lines += [f"### {family}", ""]
        lines += _null_table([r for r in nulls if r["info"]["family"] == family], compare, label)
        notes = dict.fromkeys(f"{r['info']['scenario']}: {r['info']['note']}" for r in nulls
                              if r["info"]["family"] == family and r["info"]["note"])
        lines += ["", *[f"- {n}" for n in notes], ""]
    sizes = by_kind.get("size", [])
    if sizes:
        lines += ["## Type-I error against the number of items (paired design)", ""]
        lines += _null_table(sorted(sizes, key=lambda r: (r["info"]["scenario"], r["test"],
                                                          r["order"], int(r["info"]["n"]))),
                             compare, label)
        lines += [""]
    if by_kind.get("power"):
        lines += ["## Power", "",
                  "Share of datasets in which the test declares model 0 better than model 1 "
                  "(default Bonferroni correction), model 1 ~ N(0, 1). Power against a truth "
                  "in H0 is a type-I error.", ""]
        lines += _power_tables(by_kind["power"], compare, label) + [""]
    if by_kind.get("coverage"):
        lines += ["## Coverage of the one-sided upper bounds", "",
                  "`level` is the per-pair confidence level of `confidence_interval.high` "
                  "(1 - alpha/M with Bonferroni); the bound covers when high >= the true E "
                  "(absolute test) or Delta (relative test). `all pairs at once`: every "
                  "off-diagonal bound holds (compare with 1 - alpha).", ""]
        lines += _coverage_table(by_kind["coverage"], compare, label) + [""]
    if by_kind.get("rank"):
        lines += ["## Simultaneous rank intervals", "",
                  "Share of datasets in which every model's true rank lies in its interval "
                  "`[1 + #models that beat it, k - #models it beats]` (relative test, paired "
                  "design, all models at once), to compare with 1 - alpha; the true rank is 1 + "
                  "the number of models with a smaller population eps_i at that order. "
                  "`mean width`: mean of high - low (0 = the rank is known).", ""]
        lines += _rank_table(by_kind["rank"]) + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2000,
                        help="simulated datasets per null / coverage scenario")
    parser.add_argument("--power-datasets", type=int, default=500,
                        help="simulated datasets per power cell")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap replicates B")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--eps0", type=float, default=0.25)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rank-datasets", type=int, default=1000,
                        help="simulated datasets per rank-interval coverage scenario")
    parser.add_argument("--scale", choices=("auto", "raw", "logit", "raw_upper"), default="auto",
                        help="scale on which the tests decide (riskbench's default: auto)")
    parser.add_argument("--large-k-datasets", type=int, default=None,
                        help="datasets for the k = 20 null scenarios (default: --datasets)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 datasets, 100 per power cell")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "calibration.md")
    parser.add_argument("--json", type=Path, help="also write the raw rows here")
    parser.add_argument("--rows", type=Path,
                        help="render the rows of an earlier --json run instead of running")
    parser.add_argument("--compare", type=Path, help="rows of an earlier --json run to show")
    parser.add_argument("--compare-label", default="compared run")
    parser.add_argument("--notes", type=Path,
                        help="markdown inserted after the summary (findings of this run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.power_datasets, args.rank_datasets = 300, 100, 100
    if args.rows:
        saved = json.loads(args.rows.read_text())
        rows, seconds = saved["rows"], saved["seconds"]
        for name, value in saved["settings"].items():
            setattr(args, name, value)
        args.machine = saved["machine"]
        args.commit = saved.get("commit", "unknown")
    else:
        args.machine = _machine()
        args.commit = _commit()  # the code that produced the rows, not the one rendering them
        rows, seconds = run_all(args)
    compare = {}
    if args.compare:
        compare = {_key(r): r for r in json.loads(args.compare.read_text())["rows"]}
    args.output.write_text(render(rows, seconds, args, compare) + "\n")
    if args.json:
        settings = {name: getattr(args, name) for name in SETTINGS}
        args.json.write_text(json.dumps({"seconds": seconds, "settings": settings, "rows": rows,
                                         "machine": args.machine, "commit": args.commit},
                                        default=_plain))
    print(f"wrote {args.output} in {seconds / 60:.1f} min", file=sys.stderr)
    return 0


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    sys.exit(main())
