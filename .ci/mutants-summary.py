#!/usr/bin/env python3
"""Summarizes cargo-mutants results: per file and in total, as a Markdown table.

    python3 .ci/mutants-summary.py mutants.out [more mutants.out ...]

Later directories override earlier ones for the same mutant (a re-run of the missed ones after
new tests). The score is (caught + timeout) / (caught + timeout + missed): a mutant that makes a
test hang is detected, by the timeout. Unviable mutants (that do not compile) are not counted.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path


def load(dirs):
    outcomes = {}
    for directory in dirs:
        data = json.loads((Path(directory) / "outcomes.json").read_text())
        for outcome in data["outcomes"]:
            scenario = outcome["scenario"]
            if not isinstance(scenario, dict) or "Mutant" not in scenario:
                continue  # the baseline
            mutant = scenario["Mutant"]
            outcomes[mutant["name"]] = (mutant["file"], outcome["summary"])
    return outcomes


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outcomes = load(sys.argv[1:])
    kinds = ("CaughtMutant", "Timeout", "MissedMutant", "Unviable")
    per_file = defaultdict(lambda: dict.fromkeys(kinds, 0))
    for file, summary in outcomes.values():
        per_file[file][summary] = per_file[file].get(summary, 0) + 1
    total = dict.fromkeys(kinds, 0)
    print("| file | caught | timeout | missed | unviable | score |")
    print("|---|---|---|---|---|---|")

    def row(name, counts):
        detected = counts["CaughtMutant"] + counts["Timeout"]
        viable = detected + counts["MissedMutant"]
        score = f"{100 * detected / viable:.1f}%" if viable else "-"
        print(f"| {name} | {counts['CaughtMutant']} | {counts['Timeout']} | "
              f"{counts['MissedMutant']} | {counts['Unviable']} | {score} |")

    for file in sorted(per_file):
        row(f"`{file}`", per_file[file])
        for kind in kinds:
            total[kind] += per_file[file][kind]
    row("**all**", total)
    missed = sorted(name for name, (_, summary) in outcomes.items() if summary == "MissedMutant")
    if missed:
        print("\nMissed:")
        for name in missed:
            print(f"- `{name}`")


if __name__ == "__main__":
    main()
