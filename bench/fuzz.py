"""Differential fuzz of the node's receive decision against pydicom (not run in CI).

The longer run of ``tests/unit/dicomio/test_differential_fuzz.py``: mutated data sets from
pydicom's test files (see ``tests/unit/dicomio/differential.py``) go to the node's
``admit`` (the strict walk, the Pixel Data check, the UID checks, and the restart reader
on the file it would spool) and, when accepted, to pydicom's full read of that file.
Prints cases/s, the count of each outcome and every disagreement (an accepted case pydicom
cannot read completely, UIDs that differ, or the two node readers disagreeing); exits 1
when there is one.

Usage::

    python bench/fuzz.py [--cases 20000] [--seed 1] [--read-refused]

``--read-refused`` reads refused cases with pydicom too and counts those it reads (where
the node is stricter than pydicom; about half the speed).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "dicomio"))
from differential import node_reader, run


def main() -> int:
    """Run the fuzz and print its figures; 1 when a disagreement was found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000, help="number of cases")
    parser.add_argument("--seed", type=int, default=1, help="random seed (reproducible)")
    parser.add_argument(
        "--read-refused", action="store_true", help="count refused cases pydicom reads"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tally = run(node_reader, args.cases, args.seed, read_refused=args.read_refused)
    elapsed = time.perf_counter() - started
    print(f"{tally.cases} cases in {elapsed:.1f} s: {tally.cases / elapsed:.0f} cases/s")
    for outcome, count in sorted(tally.outcomes.items()):
        print(f"  {outcome:40s} {count:7d}")
    print(f"disagreements: {len(tally.disagreements)}")
    for line in tally.disagreements:
        print(f"  {line}")
    return 1 if tally.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
