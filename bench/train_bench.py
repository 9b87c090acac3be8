#!/usr/bin/env python3
"""Training benchmark: mlgate's built-in models vs scikit-learn on the same rows.

Driven by bench/train_bench.sh (which builds mlgate and the venv); can be run directly:

  train_bench.py --mlgate target/release/mlgate [--sets 100k,1m,penguins] [--seed 42]
                 [--rf-timeout 300] [--resamples 1000] [--data-dir bench/data/train]

For each data set:

1. Synthetic sets (100k, 1m) are generated once into DATA_DIR/<set>/data.csv (reused while
   the generator, size and seed are unchanged): an `id`, 10 numeric features (x0..x4 with ~2%
   missing cells), 2 categorical features (cat_a: 5 values, ~1% missing; cat_b: 30 values) and
   a binary `label` from a logistic model with an interaction and a nonlinearity. The bundled
   penguins example is used as it is (no id column: mlgate numbers the rows).
2. `mlgate validate --infer` writes the schema once (untimed; the penguins set uses its
   committed schema), then `mlgate train` runs with `kind: logistic_regression` and
   `kind: random_forest` (default hyperparameters: C=1; 100 trees, sqrt features). Fit and
   predict seconds come from the model's manifest.json (`training_seconds`; eval rows /
   `prediction_rows_per_second`), accuracy from `mlgate evaluate`'s evaluation.json, and the
   whole `mlgate train` process is timed with GNU time. A run past --rf-timeout seconds is
   stopped with `timeout` and reported as skipped.
3. scikit-learn fits on exactly mlgate's training rows and predicts exactly its evaluation
   rows (the ids in mlgate's predictions.csv), with equivalent preprocessing - median
   imputation with a missing indicator and standard scaling of numeric columns, one-hot
   encoding of the others with missing as its own category and unknown values ignored - and
   LogisticRegression(C=1.0, max_iter=1000) / RandomForestClassifier(n_estimators=100,
   n_jobs=2, random_state=0). Column types come from the mlgate schema. Its predictions are
   written in mlgate's predictions.csv format.
4. `mlgate evaluate --baseline` is timed with mlgate's logistic regression as the candidate
   and a second model's predictions file as the champion (mlgate's random forest, or
   scikit-learn's when mlgate's was skipped), under `gate.bootstrap.resamples` = --resamples
   and rules on accuracy and roc_auc.

Prints markdown tables on stdout and writes them to DATA_DIR/results.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PENGUINS_DIR = REPO_ROOT / "examples" / "penguins"
GNU_TIME = "/usr/bin/time"
CHUNK_ROWS = 250_000
SYNTHETIC = {"100k": 100_000, "1m": 1_000_000}
MODELS = {"logistic_regression": "LR", "random_forest": "RF"}
# mlgate's default null tokens (docs/config.md), so pandas reads the same cells as missing.
NULL_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A"]
CAT_A = np.array(["north", "south", "east", "west", "central"], dtype=object)
CAT_B = np.array([f"b{i:02d}" for i in range(30)], dtype=object)


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- data
def make_chunk(seed: int, chunk_idx: int, start_id: int, n: int) -> pa.Table:
    """One chunk of the synthetic set, a pure function of (seed, chunk index)."""
    rng = np.random.default_rng([seed, 0x7124, chunk_idx])
    x = rng.normal(size=(n, 10))
    x[:, 5] = rng.lognormal(mean=0.0, sigma=0.8, size=n)  # skewed
    x[:, 6] = rng.uniform(-2.0, 2.0, size=n)
    a = rng.choice(len(CAT_A), size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    b = rng.integers(0, len(CAT_B), size=n)
    a_effect = np.array([0.0, 0.4, -0.3, 0.2, -0.5])[a]
    b_effect = np.linspace(-0.6, 0.6, len(CAT_B))[b]
    logit = (
        -0.2
        + x[:, :10] @ np.array([0.9, -0.7, 0.5, 0.0, 0.3, -0.4, 0.6, 0.0, 0.2, -0.1])
        + 0.5 * x[:, 0] * x[:, 1]
        - 0.3 * x[:, 2] ** 2
        + a_effect
        + b_effect
    )
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    columns: dict[str, pa.Array] = {"id": pa.array(np.arange(start_id, start_id + n, dtype=np.int64))}
    for j in range(10):
        values = np.round(x[:, j], 4)
        mask = rng.random(n) < 0.02 if j < 5 else None
        columns[f"x{j}"] = pa.array(values, mask=mask)
    columns["cat_a"] = pa.array(CAT_A[a], mask=rng.random(n) < 0.01, type=pa.string())
    columns["cat_b"] = pa.array(CAT_B[b], type=pa.string())
    columns["label"] = pa.array(label)
    return pa.table(columns)


def generate(path: Path, rows: int, seed: int) -> None:
    """Writes the synthetic set unless the same generator, size and seed already wrote it."""
    stamp = path.with_name("data.stamp")
    want = f"rows={rows} seed={seed} gen={hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"
    if path.exists() and stamp.exists() and stamp.read_text().strip() == want:
        log(f"reusing {path}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    log(f"generating {path} ({rows} rows)")
    tmp = path.with_suffix(".csv.tmp")
    options = pacsv.WriteOptions(include_header=True, quoting_style="none")
    writer = None
    written = 0
    for chunk_idx in range((rows + CHUNK_ROWS - 1) // CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - written)
        table = make_chunk(seed, chunk_idx, written + 1, CHUNK_ROWS).slice(0, n)
        if writer is None:
            writer = pacsv.CSVWriter(str(tmp), table.schema, write_options=options)
        writer.write_table(table)
        written += n
    assert writer is not None
    writer.close()
    tmp.replace(path)
    stamp.write_text(want + "\n")


# ----------------------------------------------------------------------------- mlgate
def write_config(path: Path, data: str, target: str, id_column: str | None, schema: str, kind: str, resamples: int) -> None:
    data_section = {"path": data, "target": target}
    if id_column:
        data_section["id"] = id_column
    config = {
        "data": data_section,
        "schema": schema,
        "model": {"kind": kind, "seed": 0},
        "gate": {
            "primary": "accuracy",
            "bootstrap": {"resamples": resamples},
            "rules": [
                {"metric": "accuracy", "max_regression": 0.01},
                {"metric": "roc_auc", "max_regression": 0.01},
            ],
        },
    }
    path.write_text("# Written by bench/train_bench.py.\n" + yaml.safe_dump(config, sort_keys=False))


def timed(cmd: list[str], log_path: Path, limit: int | None = None) -> tuple[int, float, int]:
    """Runs cmd under GNU time (and `timeout` when limit is set); (rc, wall s, peak KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [GNU_TIME, "-f", "%e %M", "-o", tf.name, *cmd]
        if limit:
            full = ["timeout", str(limit), *full]
        with open(log_path, "w") as out:
            rc = subprocess.run(full, stdout=out, stderr=subprocess.STDOUT).returncode
        lines = [l for l in Path(tf.name).read_text().splitlines() if l.strip()]
    if rc in (124, 137) or not lines:  # timeout stopped it (GNU time is killed with it)
        return rc, float("nan"), 0
    wall, rss = lines[-1].split()
    return rc, float(wall), int(rss)


def accuracy_from(evaluation: Path) -> float:
    doc = json.loads(evaluation.read_text())
    for m in doc.get("metrics", []):
        if m.get("metric") == "accuracy":
            value = m.get("candidate")
            return float(value["value"] if isinstance(value, dict) else value)
    raise KeyError(f"no accuracy in {evaluation}")


def run_mlgate(mlgate: str, config: Path, out: Path, limit: int) -> dict | None:
    """mlgate train + evaluate (no baseline); None when the train ran past the limit."""
    out.mkdir(parents=True, exist_ok=True)
    rc, wall, rss = timed([mlgate, "train", "-c", str(config), "--out", str(out)], out / "train.log", limit)
    if rc in (124, 137):
        return None
    if rc != 0:
        sys.exit(f"train_bench.py: mlgate train failed (exit {rc}):\n{(out / 'train.log').read_text()[-3000:]}")
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    eval_rows = manifest["split"]["eval_rows"]
    rps = manifest.get("prediction_rows_per_second")
    rc_e = subprocess.run(
        [mlgate, "evaluate", "-c", str(config), "--out", str(out)],
        stdout=open(out / "evaluate.log", "w"), stderr=subprocess.STDOUT,
    ).returncode
    if rc_e not in (0, 1):
        sys.exit(f"train_bench.py: mlgate evaluate failed (exit {rc_e}):\n{(out / 'evaluate.log').read_text()[-3000:]}")
    return {
        "fit": manifest["training_seconds"],
        "predict": eval_rows / rps if rps else float("nan"),
        "accuracy": accuracy_from(out / "evaluation.json"),
        "wall": wall,
        "rss_mib": rss / 1024,
        "train_rows": manifest["split"]["train_rows"],
        "eval_rows": eval_rows,
    }


# ---------------------------------------------------------------------------- sklearn
def sklearn_side(csv: Path, schema: Path, target: str, id_column: str | None, eval_ids: set[str], outdir: Path) -> dict:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = yaml.safe_load(schema.read_text())["columns"]
    types = {c["name"]: c["type"] for c in columns}
    features = [n for n in types if n not in (target, id_column)]
    numeric = [n for n in features if types[n] in ("int", "float")]
    categorical = [n for n in features if n not in numeric]
    dtypes = {n: ("float64" if n in numeric else "string") for n in features}
    dtypes[target] = "string"
    if id_column:
        dtypes[id_column] = "string"

    started = time.perf_counter()
    frame = pd.read_csv(csv, dtype=dtypes, keep_default_na=False, na_values=NULL_VALUES, engine="pyarrow")
    ids = frame[id_column] if id_column else pd.Series(np.arange(1, len(frame) + 1).astype(str))
    frame = frame.assign(_id=ids.astype(str).to_numpy())
    frame = frame[frame[target].notna()]
    is_eval = frame["_id"].isin(eval_ids).to_numpy()
    train, evaluation = frame[~is_eval], frame[is_eval]
    if len(evaluation) != len(eval_ids):
        sys.exit(f"train_bench.py: {len(eval_ids)} eval ids from mlgate, {len(evaluation)} found in {csv}")
    def feature_frame(part: pd.DataFrame) -> pd.DataFrame:
        x = part[features].copy()
        for c in categorical:  # object columns with np.nan for missing, as SimpleImputer expects
            x[c] = x[c].astype(object).where(x[c].notna(), np.nan)
        return x

    x_train, x_eval = feature_frame(train), feature_frame(evaluation)
    y_train = train[target].astype(str).to_numpy()
    y_eval = evaluation[target].astype(str).to_numpy()
    load_s = time.perf_counter() - started

    def preprocess() -> ColumnTransformer:
        return ColumnTransformer(
            [
                ("num", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                                  ("scale", StandardScaler())]), numeric),
                ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                                  ("onehot", OneHotEncoder(handle_unknown="ignore"))]), categorical),
            ]
        )

    models = {
        "logistic_regression": LogisticRegression(C=1.0, max_iter=1000),
        "random_forest": RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=0),
    }
    results = {}
    for kind, model in models.items():
        pipeline = Pipeline([("pre", preprocess()), ("model", model)])
        t0 = time.perf_counter()
        pipeline.fit(x_train, y_train)
        t1 = time.perf_counter()
        proba = pipeline.predict_proba(x_eval)
        predicted = pipeline.classes_[proba.argmax(axis=1)]
        t2 = time.perf_counter()
        out = pd.DataFrame({"id": evaluation["_id"].to_numpy(), "label": y_eval, "prediction": predicted})
        for i, cls in enumerate(pipeline.classes_):
            out[f"score_{cls}"] = np.clip(proba[:, i], 0.0, 1.0)
        path = outdir / f"sklearn-{kind}.predictions.csv"
        out.to_csv(path, index=False)
        results[kind] = {
            "fit": t1 - t0,
            "predict": t2 - t1,
            "accuracy": float((predicted == y_eval).mean()),
            "wall": load_s + (t2 - t0),
            "predictions": path,
        }
    return results


# ------------------------------------------------------------------------------- main
def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mlgate", required=True)
    ap.add_argument("--sets", default="penguins,100k", help="comma-separated: penguins,100k,1m")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rf-timeout", type=int, default=300, help="seconds before an mlgate train is stopped")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--data-dir", default=str(BENCH_DIR / "data" / "train"))
    args = ap.parse_args(argv)
    mlgate = str(Path(args.mlgate).resolve())
    data_dir = Path(args.data_dir).resolve()
    sets = [s for s in args.sets.split(",") if s]
    for s in sets:
        if s != "penguins" and s not in SYNTHETIC:
            ap.error(f"unknown set `{s}` (penguins, {', '.join(SYNTHETIC)})")

    rows_out: list[str] = []
    eval_rows_out: list[str] = []
    notes: list[str] = []
    for name in sets:
        work = data_dir / name
        work.mkdir(parents=True, exist_ok=True)
        if name == "penguins":
            csv, target, id_column = PENGUINS_DIR / "data" / "penguins.csv", "species", None
            schema = PENGUINS_DIR / "mlgate.schema.yml"
        else:
            csv, target, id_column = work / "data.csv", "label", "id"
            schema = work / "mlgate.schema.yml"
            generate(csv, SYNTHETIC[name], args.seed)
        configs = {}
        for kind in MODELS:
            configs[kind] = work / f"mlgate.{kind}.yml"
            write_config(configs[kind], str(csv), target, id_column, str(schema), kind, args.resamples)
        if name != "penguins":
            log(f"[{name}] mlgate validate --infer (untimed)")
            subprocess.run(
                [mlgate, "validate", "-c", str(configs["logistic_regression"]), "--infer", "--force",
                 "--out", str(work / "validate")],
                check=True, stdout=subprocess.DEVNULL,
            )

        mg: dict[str, dict | None] = {}
        for kind in MODELS:
            log(f"[{name}] mlgate train {kind}")
            mg[kind] = run_mlgate(mlgate, configs[kind], work / f"out-{kind}", args.rf_timeout)
            if mg[kind] is None:
                note = f"{name}: mlgate {kind} skipped, `mlgate train` ran past {args.rf_timeout} s"
                log(note)
                notes.append(note)
            else:
                log(f"[{name}] mlgate {kind}: fit {mg[kind]['fit']:.2f}s, accuracy {mg[kind]['accuracy']:.4f}")
        done = [k for k in MODELS if mg[k] is not None]
        if not done:
            sys.exit(f"train_bench.py: [{name}] no mlgate model finished, so there is no split to reuse")
        split_ids = []
        for kind in done:
            p = pd.read_csv(work / f"out-{kind}" / "predictions.csv", usecols=["id"], dtype=str)
            split_ids.append(set(p["id"]))
        if any(s != split_ids[0] for s in split_ids):
            sys.exit(f"train_bench.py: [{name}] mlgate's models saw different evaluation rows")

        log(f"[{name}] scikit-learn on mlgate's split")
        sk = sklearn_side(csv, schema, target, id_column, split_ids[0], work)
        first = mg[done[0]]
        label = f"{name} ({first['train_rows']} train / {first['eval_rows']} eval)"
        for kind, short in MODELS.items():
            m = mg[kind]
            if m is None:
                rows_out.append(f"| {label} | {short} | mlgate | skipped (> {args.rf_timeout} s) | | | |")
            else:
                rows_out.append(
                    f"| {label} | {short} | mlgate | {fmt(m['fit'])} | {fmt(m['predict'], 3)} | "
                    f"{m['accuracy']:.4f} | {fmt(m['wall'])} |"
                )
            s = sk[kind]
            rows_out.append(
                f"| {label} | {short} | scikit-learn | {fmt(s['fit'])} | {fmt(s['predict'], 3)} | "
                f"{s['accuracy']:.4f} | {fmt(s['wall'])} |"
            )

        if mg["logistic_regression"] is not None and name != "penguins":
            if mg["random_forest"] is not None:
                champion, who = work / "out-random_forest" / "predictions.csv", "mlgate random_forest"
            else:
                champion, who = sk["random_forest"]["predictions"], "scikit-learn random_forest"
            out = work / "out-logistic_regression"
            log(f"[{name}] mlgate evaluate --baseline ({who}), {args.resamples} resamples")
            rc, wall, rss = timed(
                [mlgate, "evaluate", "-c", str(configs["logistic_regression"]), "--out", str(out),
                 "--baseline", str(champion)],
                out / "evaluate-baseline.log",
            )
            if rc not in (0, 1):
                sys.exit(f"train_bench.py: mlgate evaluate --baseline failed (exit {rc}):\n"
                         f"{(out / 'evaluate-baseline.log').read_text()[-3000:]}")
            doc = json.loads((out / "evaluation.json").read_text())
            eval_rows_out.append(
                f"| {label} | mlgate LR | {who} | {args.resamples} | {fmt(wall)} | {rss / 1024:.0f} | "
                f"{doc.get('verdict', '?')} (exit {rc}) |"
            )

    import sklearn

    versions = (
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"pandas {pd.__version__}, numpy {np.__version__}"
    )
    mlgate_version = subprocess.run([mlgate, "--version"], capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(": ", 1)[1] for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "unknown CPU")
    table = "\n".join(
        ["| dataset | model | tool | fit s | predict s | accuracy | end-to-end s |",
         "|---|---|---|---:|---:|---:|---:|", *rows_out]
    )
    parts = [
        "# mlgate train vs scikit-learn",
        "",
        f"Generated by bench/train_bench.py on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"- Machine: {os.cpu_count()} cores, {cpu}",
        f"- {mlgate_version}; {versions}; data seed {args.seed}",
        "",
        table,
        "",
        "fit s: mlgate `training_seconds` from manifest.json / scikit-learn `Pipeline.fit` "
        "(preprocessing included on both sides). predict s: mlgate eval rows / "
        "`prediction_rows_per_second` / scikit-learn `predict_proba` + argmax on the same "
        "evaluation rows. end-to-end s: the whole `mlgate train` process (GNU time: read, split, "
        "fit, predict, write) / scikit-learn read_csv + split + fit + predict in process "
        "(interpreter start-up and imports excluded). Single runs.",
    ]
    if eval_rows_out:
        parts += [
            "",
            "## mlgate evaluate with a baseline",
            "",
            "| dataset | candidate | champion (predictions file) | bootstrap resamples | wall s | peak MiB | verdict |",
            "|---|---|---|---:|---:|---:|---|",
            *eval_rows_out,
            "",
            "Rules: accuracy and roc_auc, `max_regression: 0.01` each; the whole "
            "`mlgate evaluate --baseline FILE` process under GNU time.",
        ]
    if notes:
        parts += ["", *[f"- Note: {n}" for n in notes]]
    text = "\n".join(parts) + "\n"
    (data_dir / "results.md").write_text(text)
    print("\n" + text)
    print(f"Written to {data_dir / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
