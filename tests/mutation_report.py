"""Write bench/MUTATION.md from the last `mutmut run` (`make mutation`): the score and every surviving mutant.

The score is the share of mutants the tests kill (a mutant that makes them time out counts as killed: it
was noticed); mutants no selected test reaches count as survivors, since nothing would notice them either.

Usage: python tests/mutation_report.py [--out bench/MUTATION.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]
TARGET = 90  # percent, issue 20


def mutmut(*args: str) -> str:
    return subprocess.run([*MUTMUT, *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def score(stats: dict[str, int]) -> tuple[int, int]:
    """(noticed, counted): killed or timed out, of all mutants but those mutmut skipped."""
    noticed = stats["killed"] + stats["timeout"]
    return noticed, stats["total"] - stats["skipped"]


def report(stats: dict[str, int], survivors: list[tuple[str, str, str]], scope: str) -> str:
    noticed, counted = score(stats)
    percent = 100 * noticed // counted if counted else 0
    lines = [
        "# Mutation testing",
        "",
        f"mutation score: {percent}%",
        "",
        f"{noticed} of {counted} mutants killed (target {TARGET}%), `make mutation` with mutmut over {scope}.",
        f"Counts: {json.dumps({k: v for k, v in sorted(stats.items()) if isinstance(v, int)})}.",
        "",
        "## Survivors" if survivors else "No survivors.",
    ]
    for name, status, diff in survivors:
        lines += ["", f"### {name} ({status})", "", "```diff", diff.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "MUTATION.md"))
    parser.add_argument("--scope", default="compiler/passes/, compiler/codegen.py, runtime/helpers.py, runtime/pipeline.py, runtime/outputs/webhook.py")
    args = parser.parse_args(argv)
    mutmut("export-cicd-stats")
    stats = json.loads((ROOT / "mutants" / "mutmut-cicd-stats.json").read_text())
    survivors = []
    for line in mutmut("results").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and status in ("survived", "no tests"):
            survivors.append((name, status, mutmut("show", name)))
    Path(args.out).write_text(report(stats, survivors, args.scope), encoding="utf-8")
    noticed, counted = score(stats)
    print(f"mutation score: {100 * noticed // counted if counted else 0}% ({noticed}/{counted}); survivors in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
