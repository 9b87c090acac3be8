#!/usr/bin/env python3
"""A PyTorch trainer for `mlgate train` (`model.kind: external`): a small multilayer
perceptron, on the GPU when the host has one, on the CPU otherwise.

mlgate splits the data itself and runs this script with the paths in environment
variables (docs/external-trainers.md): MLGATE_TRAIN_PATH, MLGATE_EVAL_PATH,
MLGATE_PREDICTIONS_PATH, MLGATE_MODEL_DIR, MLGATE_TARGET, MLGATE_ID, MLGATE_TASK,
MLGATE_SEED, MLGATE_FEATURES. MLGATE_TORCH_DEVICE (`auto`, `cpu`, `cuda`, `cuda:1`)
overrides the device; `auto` takes the first visible GPU.

Preprocessing is fitted on the training rows only and saved as JSON (preprocess.json):
numeric columns standardised with missing values at the mean, the others one-hot with
missing and unseen values all zero. The weights are saved as tensors only (model.pt), so
predict.py loads them with `weights_only=True` and never unpickles code. Every random
number generator is seeded from MLGATE_SEED and PyTorch runs its deterministic kernels,
so the same data, seed and device give the same model bytes.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path
from typing import NoReturn

MODEL_FILE = "model.pt"
PREPROCESS_FILE = "preprocess.json"
PROG = Path(sys.argv[0]).name or "train.py"
HIDDEN = 64
EPOCHS = 300
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-4

# cuBLAS is deterministic only with a fixed workspace, set before CUDA starts.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


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


try:
    import torch
except ImportError as exc:  # depends on the environment
    fail(f"{exc}; install the pinned requirements: pip install -r requirements.txt")


def read_rows(path: str, columns: list[str]) -> list[dict[str, str]]:
    """One of mlgate's CSV files, every value as text (an empty cell is missing)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                fail(f"`{path}` has no column(s) {', '.join(missing)}")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        fail(f"cannot read `{path}`: {exc}")


def as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def fit_preprocess(rows: list[dict[str, str]], features: list[str]) -> dict:
    """Means and spreads of numeric columns, vocabularies of the others."""
    numeric, categorical = {}, {}
    for name in features:
        present = [row[name] for row in rows if row[name] != ""]
        values = [as_number(v) for v in present]
        if present and all(v is not None for v in values):
            mean = sum(values) / len(values)
            spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
            numeric[name] = {"mean": mean, "std": spread}
        else:
            categorical[name] = sorted(set(present))
    return {"features": features, "numeric": numeric, "categorical": categorical}


def encode(preprocess: dict, rows: list[dict[str, str]]) -> "torch.Tensor":
    """The model's inputs for `rows`, with the training rows' preprocessing."""
    out = []
    for row in rows:
        encoded = []
        for name in preprocess["features"]:
            if name in preprocess["numeric"]:
                stats = preprocess["numeric"][name]
                value = as_number(row[name])
                encoded.append(0.0 if value is None else (value - stats["mean"]) / stats["std"])
            else:
                vocabulary = preprocess["categorical"][name]
                encoded.extend(1.0 if row[name] == v else 0.0 for v in vocabulary)
        out.append(encoded)
    return torch.tensor(out, dtype=torch.float32)


def network(inputs: int, outputs: int) -> "torch.nn.Module":
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, outputs),
    )


def device() -> "torch.device":
    """MLGATE_TORCH_DEVICE, else the first visible GPU, else the CPU."""
    wanted = os.environ.get("MLGATE_TORCH_DEVICE", "auto")
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        fail(f"MLGATE_TORCH_DEVICE is `{wanted}`, but PyTorch sees no CUDA GPU")
    try:
        return torch.device(wanted)
    except RuntimeError as exc:
        fail(f"MLGATE_TORCH_DEVICE is `{wanted}`: {exc}")


def device_name(where: "torch.device") -> str:
    if where.type == "cuda":
        return f"{where} ({torch.cuda.get_device_name(where)}, CUDA {torch.version.cuda})"
    return "cpu"


def score(model: "torch.nn.Module", preprocess: dict, rows: list[dict[str, str]], where) -> list[list]:
    """predictions.csv's prediction and score columns for `rows`."""
    model.eval()
    with torch.no_grad():
        outputs = model(encode(preprocess, rows).to(where)).cpu()
    if preprocess["task"] == "classification":
        classes = preprocess["classes"]
        probabilities = torch.softmax(outputs.double(), dim=1)
        return [
            [classes[int(p.argmax())], *(float(x) for x in p)] for p in probabilities
        ]
    target = preprocess["target_stats"]
    return [[float(o[0]) * target["std"] + target["mean"]] for o in outputs.double()]


def write_predictions(path: str, preprocess: dict, rows, id_column, target, scored) -> None:
    """id,label,prediction[,score_<class>...] through a temporary file and a rename."""
    header = ["id", "label", "prediction"]
    if preprocess["task"] == "classification":
        header += [f"score_{c}" for c in preprocess["classes"]]
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for row, values in zip(rows, scored):
            writer.writerow([row[id_column], row[target], *(repr(v) if isinstance(v, float) else v for v in values)])
    os.replace(tmp, path)


def load(model_dir: str, where) -> tuple["torch.nn.Module", dict]:
    """The model and preprocessing train.py saved in `model_dir`."""
    directory = Path(model_dir)
    try:
        preprocess = json.loads((directory / PREPROCESS_FILE).read_text(encoding="utf-8"))
        state = torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        fail(f"cannot load the model in `{model_dir}`: {exc}; was it trained by train.py?")
    model = network(preprocess["inputs"], preprocess["outputs"])
    model.load_state_dict(state)
    return model.to(where), preprocess


def main() -> int:
    train_path = env("MLGATE_TRAIN_PATH")
    eval_path = env("MLGATE_EVAL_PATH")
    predictions_path = env("MLGATE_PREDICTIONS_PATH")
    model_dir = env("MLGATE_MODEL_DIR")
    target = env("MLGATE_TARGET")
    id_column = env("MLGATE_ID")
    task = env("MLGATE_TASK")
    features = [f for f in env("MLGATE_FEATURES").split(",") if f]
    if task not in ("classification", "regression"):
        fail(f"MLGATE_TASK is `{task}`; expected classification or regression")
    try:
        seed = int(env("MLGATE_SEED")) % 2**63
    except ValueError:
        fail(f"MLGATE_SEED is `{os.environ['MLGATE_SEED']}`, not an integer")

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    where = device()
    needed = [id_column, target, *features]
    train = read_rows(train_path, needed)
    evaluation = read_rows(eval_path, needed)
    if any(row[target] == "" for row in train):
        fail(f"`{train_path}` has rows without a target `{target}`")

    preprocess = fit_preprocess(train, features)
    preprocess["task"] = task
    x = encode(preprocess, train).to(where)
    if task == "classification":
        classes = sorted({row[target] for row in train})
        index = {c: i for i, c in enumerate(classes)}
        y = torch.tensor([index[row[target]] for row in train], device=where)
        preprocess["classes"] = classes
        loss_fn = torch.nn.CrossEntropyLoss()
        outputs = len(classes)
    else:
        values = [as_number(row[target]) for row in train]
        if any(v is None for v in values):
            fail(f"`{train_path}` has a target `{target}` that is not a number")
        mean = sum(values) / len(values)
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
        preprocess["target_stats"] = {"mean": mean, "std": spread}
        y = torch.tensor([[(v - mean) / spread] for v in values], device=where)
        loss_fn = torch.nn.MSELoss()
        outputs = 1
    preprocess["inputs"] = x.shape[1]
    preprocess["outputs"] = outputs

    model = network(x.shape[1], outputs).to(where)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    model.train()
    for _ in range(EPOCHS):
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()

    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PREPROCESS_FILE).write_text(json.dumps(preprocess, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, directory / MODEL_FILE)

    write_predictions(predictions_path, preprocess, evaluation, id_column, target, score(model, preprocess, evaluation, where))
    print(
        f"{PROG}: MLP {x.shape[1]}-{HIDDEN}-{HIDDEN}-{outputs} on {device_name(where)}, "
        f"{len(train)} rows, {EPOCHS} epochs, final loss {float(loss):.4f}; "
        f"scored {len(evaluation)} evaluation rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
