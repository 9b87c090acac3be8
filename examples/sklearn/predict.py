#!/usr/bin/env python3
"""Re-scores a model saved by train.py: mlgate's `model.predict.command`.

`mlgate evaluate --baseline DIR` runs this when DIR holds an external champion, so the
champion is scored on exactly the candidate's evaluation rows (docs/external-trainers.md):

  MLGATE_MODEL_DIR         the champion's model directory (model.joblib)
  MLGATE_INPUT_PATH        rows to score (CSV: id, target, features, all as text)
  MLGATE_PREDICTIONS_PATH  where to write predictions.csv
  MLGATE_TARGET, MLGATE_ID the target and id columns of the input

The features scored are the ones the champion was trained on (saved in model.joblib),
not necessarily today's MLGATE_FEATURES.
"""

from __future__ import annotations

import sys
from pathlib import Path

from train import MODEL_FILE, env, fail, read_rows, score, write_predictions

import joblib  # noqa: E402 - train has already reported a missing package clearly


def main() -> int:
    model_dir = env("MLGATE_MODEL_DIR")
    input_path = env("MLGATE_INPUT_PATH")
    predictions_path = env("MLGATE_PREDICTIONS_PATH")
    target = env("MLGATE_TARGET")
    id_column = env("MLGATE_ID")

    model_path = Path(model_dir) / MODEL_FILE
    if not model_path.is_file():
        fail(f"no `{MODEL_FILE}` in `{model_dir}`; was this model trained by train.py?")
    try:
        bundle = joblib.load(model_path)
    except Exception as exc:  # unpickling raises anything at all
        fail(f"cannot load `{model_path}`: {type(exc).__name__}: {exc}")
    if bundle.get("target") != target:
        fail(f"`{model_path}` predicts `{bundle.get('target')}`, but MLGATE_TARGET is `{target}`")

    rows = read_rows(input_path, [id_column, target, *bundle["features"]])
    write_predictions(predictions_path, rows[id_column], rows[target], score(bundle, rows))
    print(f"{Path(sys.argv[0]).name}: scored {len(rows)} rows with `{model_path}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
