#!/usr/bin/env python3
"""A scikit-learn trainer for `mlgate train` (`model.kind: external`).

mlgate splits the data itself and runs this script with the paths in environment
variables (docs/external-trainers.md):

  MLGATE_TRAIN_PATH        training rows (CSV: id, target, features, all as text)
  MLGATE_EVAL_PATH         evaluation rows, same columns
  MLGATE_PREDICTIONS_PATH  where to write predictions.csv for the evaluation rows
  MLGATE_MODEL_DIR         where to save the model (mlgate lists its files with sha256)
  MLGATE_TARGET, MLGATE_ID, MLGATE_TASK, MLGATE_SEED, MLGATE_FEATURES

The model is a Pipeline: median imputation and scaling of numeric columns,
most-frequent imputation and one-hot encoding (unknown categories ignored) of the
others, then a random forest seeded from MLGATE_SEED. The pipeline is saved with
joblib as model.joblib; predict.py loads it to re-score this model when it is the
champion. The helpers here (env, read_rows, score, write_predictions) are shared
with predict.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

MODEL_FILE = "model.joblib"
PROG = Path(sys.argv[0]).name or "train.py"


def fail(message: str) -> NoReturn:
    """Exits with status 2 and one clear line on stderr (mlgate shows stderr's last lines)."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def env(name: str) -> str:
    """A required MLGATE_* variable, or a clear failure."""
    value = os.environ.get(name, "")
    if not value:
        fail(
            f"environment variable {name} is not set; this script is run by "
            "`mlgate train` / `mlgate evaluate --baseline` (model.kind: external), "
            "which sets it - see docs/external-trainers.md"
        )
    return value


# Imported after the helpers so that a missing package is reported as clearly as a missing
# variable.
try:
    import joblib
    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
except ImportError as exc:  # pragma: no cover - depends on the environment
    fail(f"{exc}; install the pinned requirements: pip install -r requirements.txt")


def read_rows(path: str, columns: list[str]) -> "pd.DataFrame":
    """Reads one of mlgate's CSV files as text; an empty cell is missing, nothing else is.

    Everything stays a string so that ids and labels are written back exactly as mlgate
    wrote them (mlgate compares labels as text for classification).
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:
        fail(f"cannot read `{path}`: {exc}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        fail(f"`{path}` has no column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}")
    return frame


def numeric_columns(frame: "pd.DataFrame", features: list[str]) -> list[str]:
    """Features whose every present value parses as a number."""
    out = []
    for name in features:
        present = frame[name].dropna()
        if len(present) and pd.to_numeric(present, errors="coerce").notna().all():
            out.append(name)
    return out


def feature_frame(frame: "pd.DataFrame", numeric: list[str], features: list[str]) -> "pd.DataFrame":
    """The feature columns, numbers as float64 and the rest as text (missing = NaN)."""
    x = frame[features].copy()
    for name in numeric:
        x[name] = pd.to_numeric(x[name], errors="coerce").astype("float64")
    for name in features:
        if name not in numeric:
            x[name] = x[name].astype(object)
    return x


def build_pipeline(numeric: list[str], categorical: list[str], task: str, seed: int) -> "Pipeline":
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            ),
        ]
    )
    if task == "classification":
        model = RandomForestClassifier(n_estimators=300, random_state=seed)
    else:
        model = RandomForestRegressor(n_estimators=300, random_state=seed)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def score(bundle: dict, frame: "pd.DataFrame") -> "pd.DataFrame":
    """Predictions for `frame` as mlgate's predictions.csv columns, minus id and label."""
    x = feature_frame(frame, bundle["numeric"], bundle["features"])
    pipeline = bundle["pipeline"]
    out = pd.DataFrame({"prediction": pipeline.predict(x)})
    if bundle["task"] == "classification":
        # One score_<class> column per class, in the model's class order; mlgate matches them
        # to labels by name, and needs them for roc_auc and log_loss.
        proba = np.clip(pipeline.predict_proba(x), 0.0, 1.0)
        for i, cls in enumerate(pipeline.classes_):
            out[f"score_{cls}"] = proba[:, i]
    else:
        out["prediction"] = out["prediction"].astype("float64")
    return out


def write_predictions(path: str, ids: "pd.Series", labels: "pd.Series", scored: "pd.DataFrame") -> None:
    """Writes id,label,prediction[,score_...] through a temporary file and a rename."""
    out = pd.concat(
        [pd.DataFrame({"id": ids.to_numpy(), "label": labels.to_numpy()}), scored], axis=1
    )
    tmp = f"{path}.tmp-{os.getpid()}"
    out.to_csv(tmp, index=False)
    os.replace(tmp, path)


def main() -> int:
    train_path = env("MLGATE_TRAIN_PATH")
    eval_path = env("MLGATE_EVAL_PATH")
    predictions_path = env("MLGATE_PREDICTIONS_PATH")
    model_dir = env("MLGATE_MODEL_DIR")
    target = env("MLGATE_TARGET")
    id_column = env("MLGATE_ID")
    task = env("MLGATE_TASK")
    seed_text = env("MLGATE_SEED")
    features = [f for f in env("MLGATE_FEATURES").split(",") if f]
    if task not in ("classification", "regression"):
        fail(f"MLGATE_TASK is `{task}`; expected classification or regression")
    try:
        # scikit-learn's random_state must fit in 32 bits; mlgate's seed is 64-bit.
        seed = int(seed_text) % 2**32
    except ValueError:
        fail(f"MLGATE_SEED is `{seed_text}`, not an integer")

    needed = [id_column, target, *features]
    train = read_rows(train_path, needed)
    evaluation = read_rows(eval_path, needed)
    if train[target].isna().any():
        fail(f"`{train_path}` has rows without a target `{target}`")

    numeric = numeric_columns(train, features)
    categorical = [f for f in features if f not in numeric]
    y = train[target] if task == "classification" else train[target].astype("float64")
    pipeline = build_pipeline(numeric, categorical, task, seed)
    pipeline.fit(feature_frame(train, numeric, features), y)

    bundle = {
        "pipeline": pipeline,
        "task": task,
        "target": target,
        "features": features,
        "numeric": numeric,
        "sklearn_version": sklearn.__version__,
    }
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle, Path(model_dir) / MODEL_FILE)

    write_predictions(
        predictions_path, evaluation[id_column], evaluation[target], score(bundle, evaluation)
    )
    print(
        f"{PROG}: {type(pipeline[-1]).__name__} on {len(train)} rows, "
        f"{len(numeric)} numeric + {len(categorical)} categorical features; "
        f"scored {len(evaluation)} evaluation rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
