#!/usr/bin/env python3
"""How far the quantile sketches of an mlgate profile are from the raw columns.

For each numeric column of the CSV that the profile has a sketch for, takes the
true values at percentiles 1..99 (numpy on the raw column, nulls dropped) and
prints the worst and mean absolute rank error of the sketch there: the share of
the sketch's weight at or below the value, against the share of raw values.

  bench/.venv/bin/python bench/sketch_accuracy.py --csv data.csv --profile out/profile.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd


def sketch_points(sketch: dict) -> tuple[np.ndarray, np.ndarray]:
    """The sketch's stored values, sorted, with their weights (2^level)."""
    values, weights = [], []
    for level, items in enumerate(sketch["levels"]):
        values.extend(float(v) for v in items)
        weights.extend([2.0**level] * len(items))
    order = np.argsort(values, kind="stable")
    return np.asarray(values)[order], np.asarray(weights)[order]


def rank_errors(raw: np.ndarray, sketch: dict) -> np.ndarray:
    raw = np.sort(raw)
    values, weights = sketch_points(sketch)
    cumulative = np.cumsum(weights) / weights.sum()
    errors = []
    for p in range(1, 100):
        x = raw[p * len(raw) // 100]
        true = np.searchsorted(raw, x, side="right") / len(raw)
        at = np.searchsorted(values, x, side="right")
        estimate = cumulative[at - 1] if at > 0 else 0.0
        errors.append(abs(estimate - true))
    return np.asarray(errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--profile", required=True)
    args = ap.parse_args()
    profile = json.load(open(args.profile, encoding="utf-8"))
    sketched = {
        c["name"]: c["numeric"]["sketch"]
        for c in profile["columns"]
        if c.get("type") in ("int", "float") and c.get("numeric", {}).get("sketch")
    }
    frame = pd.read_csv(args.csv, usecols=list(sketched))
    print(f"{'column':<12} {'worst':>8} {'mean':>8}  (rank error over percentiles 1-99)")
    for name, sketch in sketched.items():
        errors = rank_errors(frame[name].dropna().to_numpy(dtype=float), sketch)
        print(f"{name:<12} {errors.max():8.4%} {errors.mean():8.4%}")


if __name__ == "__main__":
    main()
