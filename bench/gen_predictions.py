#!/usr/bin/env python3
"""Write a candidate's and a champion's predictions.csv on the same rows, for timing
`mlgate evaluate --baseline` (the paired bootstrap) without training anything.

    bench/gen_predictions.py OUT_DIR --rows 1000000 --classes 2 [--seed 1]

Writes OUT_DIR/candidate.csv, OUT_DIR/champion.csv and OUT_DIR/mlgate.yml (primary f1_macro or
accuracy, a regression rule on it and one on roc_auc). Seeded: the same arguments give the same
files. Probabilities lean towards the true class, the candidate slightly more than the champion,
rounded to 6 decimals.
"""
import argparse
import math
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--primary", default="f1_macro")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    k = args.classes
    classes = [f"c{j}" for j in range(k)]
    labels = [rng.randrange(k) for _ in range(args.rows)]
    header = "id,label,prediction," + ",".join(f"score_{c}" for c in classes) + "\n"
    for name, skill in (("champion", 1.2), ("candidate", 1.3)):
        with open(args.out / f"{name}.csv", "w") as f:
            f.write(header)
            for i, y in enumerate(labels):
                raw = [math.exp(rng.random() * 2.0 + (skill if j == y else 0.0)) for j in range(k)]
                total = sum(raw)
                probs = [r / total for r in raw]
                top = max(range(k), key=lambda j: probs[j])
                scores = ",".join(f"{p:.6f}" for p in probs)
                f.write(f"{i},{classes[y]},{classes[top]},{scores}\n")
    (args.out / "mlgate.yml").write_text(
        "data:\n  path: candidate.csv\n  target: label\n  id: id\n"
        "model:\n  kind: logistic_regression\n"
        f"gate:\n  primary: {args.primary}\n  rules:\n"
        f"    - {{ metric: {args.primary}, max_regression: 0.01 }}\n"
        "    - { metric: roc_auc, max_regression: 0.01 }\n"
        "  bootstrap: { resamples: 1000, seed: 42 }\n"
    )


if __name__ == "__main__":
    main()
