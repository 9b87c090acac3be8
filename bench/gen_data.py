#!/usr/bin/env python3
"""Generate a deterministic mixed-type CSV with nulls for benchmarking mlgate.

Columns:
  id           unique int (1..N, in order; with --shuffle-ids, shuffled within
               each chunk of 250,000 rows, so no run of ids is in order)
  age          int (no nulls)
  income       float, lognormal, ~3% null
  score        float, normal, ~2% null
  ratio        float, uniform [0, 1), ~5% null
  balance      float, normal (wide), ~4% null
  is_active    bool (true/false)
  segment      categorical, 6 values, ~3% null
  comment      free text, 1-3 short random tokens separated by spaces, ~2% null
  signup_date  date, YYYY-MM-DD
  last_seen    datetime, ISO 8601 YYYY-MM-DDTHH:MM:SS
  label        binary target 0/1 (depends weakly on other columns)

Null values are written as empty fields.  No value contains a comma, quote or
newline, so no field is quoted.

Output is a pure function of --seed and the size: rows are produced in fixed
chunks of CHUNK_ROWS, each chunk drawn in full from its own generator seeded
with (seed, chunk index) and then truncated if needed, so for a given seed row
k is always the same row and a smaller file is a prefix of a larger one.
With --target-bytes the row count is chosen from the average row width seen
so far, so the file lands within a row or so of the target.

Usage:
  gen_data.py --rows 1000000 --out data.csv [--seed 42] [--shuffle-ids]
  gen_data.py --target-bytes 1000000000 --out data.csv [--seed 42]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

CHUNK_ROWS = 250_000

COLUMNS = [
    "id",
    "age",
    "income",
    "score",
    "ratio",
    "balance",
    "is_active",
    "segment",
    "comment",
    "signup_date",
    "last_seen",
    "label",
]

SEGMENTS = np.array(["retail", "smb", "enterprise", "gov", "edu", "nonprofit"], dtype=object)

DATE_START = np.datetime64("2015-01-01", "D")
DATE_SPAN_DAYS = 365 * 10
DT_START = np.datetime64("2020-01-01T00:00:00", "s")
DT_SPAN_SECS = 86_400 * 365 * 5


def make_vocab(seed: int, size: int = 5000) -> np.ndarray:
    """A fixed vocabulary of lowercase alphanumeric tokens (3-9 chars)."""
    rng = np.random.default_rng([seed, 0xC0FFEE])
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    lengths = rng.integers(3, 10, size=size)
    return np.array(
        ["".join(rng.choice(alphabet, size=n)) for n in lengths], dtype=object
    )


def make_phrases(seed: int, vocab: np.ndarray, size: int = 200_000) -> np.ndarray:
    """A fixed pool of 1-3 token phrases; rows sample from it (keeps text
    generation vectorised while still giving ~200k distinct values)."""
    rng = np.random.default_rng([seed, 0xBEEF])
    n_tok = rng.integers(1, 4, size=size)
    idx = rng.integers(0, len(vocab), size=(size, 3))
    w = vocab[idx]
    one = w[:, 0]
    two = one + " " + w[:, 1]
    three = two + " " + w[:, 2]
    return np.where(n_tok == 1, one, np.where(n_tok == 2, two, three)).astype(object)


def with_nulls(values: np.ndarray, rng: np.random.Generator, rate: float) -> pa.Array:
    mask = rng.random(len(values)) < rate
    return pa.array(values, mask=mask)


def make_chunk(
    seed: int,
    chunk_idx: int,
    start_id: int,
    n: int,
    phrases: np.ndarray,
    shuffle_ids: bool = False,
) -> pa.Table:
    rng = np.random.default_rng([seed, chunk_idx])

    ids = np.arange(start_id, start_id + n, dtype=np.int64)
    if shuffle_ids:
        # A generator of its own, so every other column is the same as without shuffling.
        ids = np.random.default_rng([seed, chunk_idx, 1]).permutation(ids)
    age = rng.integers(18, 91, size=n, dtype=np.int64)
    income = np.round(rng.lognormal(mean=10.5, sigma=0.6, size=n), 2)
    score = np.round(rng.normal(loc=0.0, scale=1.0, size=n), 4)
    ratio = np.round(rng.random(size=n), 4)
    balance = np.round(rng.normal(loc=1500.0, scale=4000.0, size=n), 2)
    is_active = rng.random(size=n) < 0.7
    seg_idx = rng.choice(len(SEGMENTS), size=n, p=[0.35, 0.25, 0.15, 0.05, 0.1, 0.1])
    segment = SEGMENTS[seg_idx]
    comment = phrases[rng.integers(0, len(phrases), size=n)]
    days = rng.integers(0, DATE_SPAN_DAYS, size=n)
    signup = np.datetime_as_string(DATE_START + days, unit="D").astype(object)
    secs = rng.integers(0, DT_SPAN_SECS, size=n)
    last_seen = np.datetime_as_string(DT_START + secs, unit="s").astype(object)

    logit = -1.2 + 0.8 * score + 0.6 * is_active + 0.3 * (seg_idx == 2) + rng.normal(0, 0.5, n)
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    return pa.table(
        {
            "id": pa.array(ids),
            "age": pa.array(age),
            "income": with_nulls(income, rng, 0.03),
            "score": with_nulls(score, rng, 0.02),
            "ratio": with_nulls(ratio, rng, 0.05),
            "balance": with_nulls(balance, rng, 0.04),
            "is_active": pa.array(is_active),
            "segment": with_nulls(segment, rng, 0.03).cast(pa.string()),
            "comment": with_nulls(comment, rng, 0.02).cast(pa.string()),
            "signup_date": pa.array(signup, type=pa.string()),
            "last_seen": pa.array(last_seen, type=pa.string()),
            "label": pa.array(label),
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--rows", type=int, help="number of data rows")
    size.add_argument(
        "--target-bytes",
        type=int,
        help="write whole chunks until the file is at least this many bytes",
    )
    ap.add_argument("--out", required=True, help="output CSV path")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument(
        "--shuffle-ids",
        action="store_true",
        help="shuffle the ids within each chunk (mlgate's unique check then finds no runs)",
    )
    args = ap.parse_args(argv)

    if args.rows is not None and args.rows < 0:
        ap.error("--rows must be >= 0")

    vocab = make_vocab(args.seed)
    phrases = make_phrases(args.seed, vocab)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.out + ".tmp"
    opts = pacsv.WriteOptions(include_header=False, quoting_style="none")

    t0 = time.perf_counter()
    written = 0
    chunk_idx = 0
    with open(tmp, "wb") as f:
        header = (",".join(COLUMNS) + "\n").encode()
        f.write(header)
        header_len = len(header)
        while True:
            if args.rows is not None:
                n = min(CHUNK_ROWS, args.rows - written)
            else:
                pos = f.tell()
                remaining = args.target_bytes - pos
                if remaining <= 0:
                    break
                if written == 0:
                    n = CHUNK_ROWS
                else:
                    per_row = (pos - header_len) / written
                    n = min(CHUNK_ROWS, max(1, int(np.ceil(remaining / per_row))))
            if n <= 0:
                break
            table = make_chunk(
                args.seed, chunk_idx, written + 1, CHUNK_ROWS, phrases, args.shuffle_ids
            )
            if n < CHUNK_ROWS:
                table = table.slice(0, n)
            pacsv.write_csv(table, f, write_options=opts)
            f.flush()
            written += n
            chunk_idx += 1
    os.replace(tmp, args.out)

    if not args.quiet:
        size_b = os.path.getsize(args.out)
        print(
            f"wrote {written} rows, {size_b} bytes ({size_b / 1e6:.1f} MB) to {args.out} "
            f"in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
