#!/usr/bin/env python3
"""pandas + pandera baseline for the mlgate benchmark.

Mirrors what mlgate does: infer a schema once (untimed, saved to YAML), then
on each timed run load the saved schema, read the CSV and validate it.

  # once: read the CSV, infer a schema, save it (prints timings too)
  pandera_validate.py --csv data.csv --schema pandera.schema.yml --infer

  # timed run: read_csv + schema.validate(df, lazy=True)
  pandera_validate.py --csv data.csv --schema pandera.schema.yml

If --schema does not exist and --infer is not given, the schema is inferred
and saved first; that step is reported separately (infer_s) and is not part
of total_s.

Prints one JSON object on stdout:
  rows, cols, read_s, validate_s, total_s (= read_s + validate_s),
  infer_s (only when a schema was inferred in this process), passed,
  failure_cases, peak_rss_mb (ru_maxrss of this process).
Exit status: 0 = valid, 1 = validation failed, 2 = bad input.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import sys
import time
import warnings


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--csv", required=True, help="CSV file to read")
    ap.add_argument("--schema", required=True, help="pandera YAML schema path")
    ap.add_argument(
        "--infer",
        action="store_true",
        help="infer the schema from the CSV, save it to --schema, and exit",
    )
    ap.add_argument(
        "--parse-dates",
        default="",
        help="comma-separated columns to pass to read_csv(parse_dates=...); "
        "default none (plain pandas.read_csv(path))",
    )
    args = ap.parse_args(argv)

    if not os.path.isfile(args.csv):
        print(f"error: no such file: {args.csv}", file=sys.stderr)
        return 2

    t_import = time.perf_counter()
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandera.pandas as pa
        from pandera.errors import SchemaErrors
    import_s = time.perf_counter() - t_import

    read_kwargs: dict = {}
    if args.parse_dates:
        read_kwargs["parse_dates"] = [c for c in args.parse_dates.split(",") if c]

    result: dict = {
        "csv": args.csv,
        "pandas": pd.__version__,
        "pandera": importlib.metadata.version("pandera"),
        "import_s": round(import_s, 4),
    }

    need_infer = args.infer or not os.path.isfile(args.schema)

    t0 = time.perf_counter()
    df = pd.read_csv(args.csv, **read_kwargs)
    read_s = time.perf_counter() - t0
    result["rows"] = int(len(df))
    result["cols"] = int(df.shape[1])
    result["read_s"] = round(read_s, 4)

    if need_infer:
        t0 = time.perf_counter()
        schema = pa.infer_schema(df)
        infer_s = time.perf_counter() - t0
        os.makedirs(os.path.dirname(os.path.abspath(args.schema)), exist_ok=True)
        with open(args.schema, "w", encoding="utf-8") as f:
            f.write(schema.to_yaml())
        result["infer_s"] = round(infer_s, 4)
        result["schema_written"] = args.schema
        if args.infer:
            result["peak_rss_mb"] = round(peak_rss_mb(), 1)
            print(json.dumps(result))
            return 0

    # Load the saved schema, as a separate timed run would.
    with open(args.schema, encoding="utf-8") as f:
        schema = pa.DataFrameSchema.from_yaml(f.read())

    passed = True
    failure_cases = 0
    t0 = time.perf_counter()
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as e:
        passed = False
        failure_cases = int(len(e.failure_cases))
    validate_s = time.perf_counter() - t0

    result["validate_s"] = round(validate_s, 4)
    result["total_s"] = round(read_s + validate_s, 4)
    result["passed"] = passed
    result["failure_cases"] = failure_cases
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
