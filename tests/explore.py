"""Time-boxed exploration: the property tests under fresh random seeds, each printed for replay.

The main test run is derandomized (Hypothesis's `ci` profile under CI=true, a fixed seed otherwise), so
it is the same run every time and never flaky; it also never finds anything new. `make explore` runs the
property tests again, round after round while the time box lasts, each round under a new random seed.
A failure prints the seed and the replay command; fix the bug, then add the falsifying example to the
test as an `@example(...)`, so the main run keeps it.

Usage: python tests/explore.py [--seconds N] [--seed S] [TEST...]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROPERTY_TESTS = (
    "tests/test_random_differential.py::test_compiled_random_rules_agree_with_the_interpreter",
    "tests/test_differential.py",
    "tests/test_passes.py::test_pass_keeps_matches",
)


def round_command(seed: int, tests: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
        "--hypothesis-profile=explore", f"--hypothesis-seed={seed}", *tests,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("EXPLORE_SECONDS", 60)))
    parser.add_argument("--seed", type=int, help="replay one round with this seed")
    parser.add_argument("tests", nargs="*", help="pytest ids (default: the property tests, one per round in turn)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rounds = 0
    while True:
        seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
        print(f"explore: round {rounds + 1}, seed {seed}", flush=True)
        if args.tests:
            tests = args.tests
        elif args.seed is not None:
            tests = list(PROPERTY_TESTS)  # a replay without tests named: all of them under that seed
        else:
            tests = [PROPERTY_TESTS[rounds % len(PROPERTY_TESTS)]]  # one per round, in turn
        proc = subprocess.run(round_command(seed, tests), cwd=ROOT, check=False)
        rounds += 1
        if proc.returncode != 0:
            replay = f"make explore SEED={seed} EXPLORE_TESTS='{' '.join(tests)}'"
            print(f"explore: FAILED with seed {seed}; replay: {replay}; then add the falsifying example as @example")
            return 1
        if args.seed is not None or time.monotonic() - started >= args.seconds:
            break
    print(f"explore: {rounds} round(s) in {time.monotonic() - started:.0f}s, nothing found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
