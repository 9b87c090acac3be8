#!/usr/bin/env python3
"""Re-scores a model saved by train.py: mlgate's `model.predict.command`.

`mlgate evaluate --baseline DIR` runs this when DIR holds this trainer's champion, so the
champion is scored on exactly the candidate's evaluation rows (docs/external-trainers.md):
MLGATE_MODEL_DIR (model.pt, preprocess.json), MLGATE_INPUT_PATH, MLGATE_PREDICTIONS_PATH,
MLGATE_TARGET, MLGATE_ID. The features scored are the ones the champion was trained on.
"""

from __future__ import annotations

import sys
from pathlib import Path

from train import device, env, load, read_rows, score, write_predictions


def main() -> int:
    model_dir = env("MLGATE_MODEL_DIR")
    input_path = env("MLGATE_INPUT_PATH")
    predictions_path = env("MLGATE_PREDICTIONS_PATH")
    target = env("MLGATE_TARGET")
    id_column = env("MLGATE_ID")

    where = device()
    model, preprocess = load(model_dir, where)
    rows = read_rows(input_path, [id_column, target, *preprocess["features"]])
    write_predictions(predictions_path, preprocess, rows, id_column, target, score(model, preprocess, rows, where))
    print(f"{Path(sys.argv[0]).name}: scored {len(rows)} rows with `{model_dir}` on {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
