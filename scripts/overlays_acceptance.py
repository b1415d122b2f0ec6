#!/usr/bin/env python3
"""Checks mtk-lint against the ground truth of generated overlay and chart fleets (issues 16
and 18).

For each seed, generates `../shared/bench/gen_fleet.py --layout overlays` (or `--layout chart`:
tenants as Flux HelmReleases of a tenant chart) with the fleet's tenancy config, lints it with
the release binary, and compares the findings of the rules the generator seeds with
`expected-violations.json`:

- every seeded violation is reported at the file and line the ground truth gives (a base, a
  patch, an inline patch, a kustomization field, the values line of a HelmRelease or of its
  values ConfigMap), in exactly the environments it names (the clusters of the finding's build
  units);
- no violation an overlay fixes (`fixed`) is reported at its base line;
- no other finding of those rules is reported.

Build errors are listed (the generator's Flux bootstrap lists a `gotk-components.yaml` it does
not write, which kustomize cannot build) but are not failures. Exit 1 on any mismatch.

Usage: scripts/overlays_acceptance.py [--layout overlays|chart] [--seeds 1,2,3,4] [--tenants 40]
       [--violations 0.1]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("MTK_SHARED", os.path.join(REPO, "..", "shared"))
CONFIG = 'tenancy:\n  domains: ["*.{tenant}.apps.example.com"]\n'


def check(root, binary):
    exp = json.load(open(os.path.join(root, "expected-violations.json")))
    run = subprocess.run(
        [binary, "--format", "json", "--no-tree-policies", "."],
        cwd=root, capture_output=True, text=True, check=False,
    )
    report = json.loads(run.stdout)
    seeded = set(exp["rules"])
    found = {}
    for f in report["findings"]:
        found.setdefault((f["rule"], f["file"], f["line"]), []).append(f)

    def environments(findings):
        out = set()
        for f in findings:
            for unit in f.get("units", []):
                for env in exp["environments"]:
                    if f"clusters/{env}/" in unit["cluster"]:
                        out.add(env)
        return sorted(out)

    problems = []
    matched = set()
    for v in exp["violations"]:
        key = (v["violation"], v["file"], v["line"])
        if key not in found:
            problems.append(f"missing {key} ({v['origin']}, {v['environments']})")
            continue
        matched.add(key)
        got = environments(found[key])
        if v["environments"] and got != sorted(v["environments"]):
            problems.append(f"environments of {key}: want {sorted(v['environments'])}, got {got}")
    for v in exp["fixed"]:
        key = (v["violation"], v["file"], v["line"])
        if key in found:
            problems.append(f"reported although every overlay fixes it: {key}")
    for key in found:
        if key not in matched and key[0] in seeded:
            problems.append(f"not in the ground truth: {key} {found[key][0]['message'][:120]}")
    return exp, report, run.returncode, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4")
    parser.add_argument("--tenants", default="40")
    parser.add_argument("--violations", default="0.1")
    parser.add_argument("--layout", default="overlays", choices=["overlays", "chart"])
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=REPO, check=True)
    binary = os.path.join(REPO, "target", "release", "mtk-lint")
    failed = False
    for seed in args.seeds.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "fleet")
            subprocess.run(
                [sys.executable, os.path.join(SHARED, "bench", "gen_fleet.py"), root,
                 "--seed", seed, "--tenants", args.tenants, "--violations", args.violations,
                 "--layout", args.layout],
                check=True, capture_output=True,
            )
            with open(os.path.join(root, ".mtk-lint.yaml"), "w") as f:
                f.write(CONFIG)
            exp, report, code, problems = check(root, binary)
            print(f"seed {seed}: {len(exp['violations'])} seeded, {len(exp['fixed'])} fixed by "
                  f"{args.layout}, {len(report['findings'])} findings, exit {code}, "
                  f"{len(problems)} mismatches")
            for e in report["errors"]:
                print(f"  error (not a failure): {e['file']}:{e['line']}: {e['message'][:160]}")
            for p in problems:
                print(f"  MISMATCH {p}")
            failed |= bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
