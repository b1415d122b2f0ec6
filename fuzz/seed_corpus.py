#!/usr/bin/env python3
"""Seeds the fuzz corpora (fuzz/corpus/<target>/) from the repository's test data and the
Kyverno conformance corpus. Needs PyYAML. Usage: python3 fuzz/seed_corpus.py"""
import glob
import hashlib
import os
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
shared = os.environ.get("MTK_SHARED", os.path.join(repo, "..", "shared"))
conformance = os.path.join(shared, "conformance", "kyverno-policies")


def put(target, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    if len(data) > 65536:
        return
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def load_all(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except Exception:
        return []


def strings(node, out):
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for v in node.values():
            strings(v, out)
    elif isinstance(node, list):
        for v in node:
            strings(v, out)


# load: every YAML file of the test data and examples, as bytes (broken ones included).
for path in glob.glob(os.path.join(repo, "testdata", "**", "*.y*ml"), recursive=True) + glob.glob(
    os.path.join(repo, "examples", "**", "*.yaml"), recursive=True
):
    with open(path, "rb") as f:
        put("load", f.read())

suites = sorted(
    os.path.join(root, "kyverno-test.yaml")
    for root, _, names in os.walk(conformance)
    if "kyverno-test.yaml" in names
)
for suite in suites:
    d = os.path.dirname(suite)
    with open(suite, "rb") as f:
        put("test_file", f.read())
    # Suites sit in `.kyverno-test/` below their policy.
    files = glob.glob(os.path.join(d, "*.yaml")) + glob.glob(os.path.join(os.path.dirname(d), "*.yaml"))
    docs = [doc for p in files for doc in load_all(p)]
    policies = [x for x in docs if isinstance(x, dict) and x.get("kind") in ("ClusterPolicy", "Policy")]
    resources = [x for x in docs if isinstance(x, dict) and x.get("kind") not in ("ClusterPolicy", "Policy", "Test", None)]
    if not resources:
        continue
    resource = resources[0]
    for policy in policies[:1]:
        for rule in (policy.get("spec") or {}).get("rules") or []:
            validate = rule.get("validate") or {}
            for pattern in [validate.get("pattern")] + list(validate.get("anyPattern") or []):
                if pattern is not None:
                    put("pattern", yaml.safe_dump_all([resource, pattern]))
            exprs = []
            strings(rule, exprs)
            for s in exprs:
                if "{{" in s and "}}" in s:
                    expr = s[s.index("{{") + 2 : s.index("}}")].strip()
                    if expr and "\n" not in expr:
                        put("jmespath", expr + "\n" + yaml.safe_dump({"request": {"object": resource}}))

# cel: every CEL expression of the corpus's policies, with a resource of its suite.
def cel_strings(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expression", "messageExpression") and isinstance(v, str):
                out.append(v)
            else:
                cel_strings(v, out)
    elif isinstance(node, list):
        for v in node:
            cel_strings(v, out)


for suite in suites:
    d = os.path.dirname(suite)
    files = glob.glob(os.path.join(d, "*.yaml")) + glob.glob(os.path.join(os.path.dirname(d), "*.yaml"))
    docs = [doc for p in files for doc in load_all(p) if isinstance(doc, dict)]
    policies = [x for x in docs if str(x.get("apiVersion", "")).startswith(("kyverno.io", "policies.kyverno.io"))]
    resources = [x for x in docs if x not in policies and x.get("kind") not in ("Test", "Values", "Value", "Context", None)]
    exprs = []
    cel_strings(policies, exprs)
    for e in exprs:
        put("cel", e + "\n---\n" + yaml.safe_dump(resources[0] if resources else {}))

# cel: the libraries the corpus does not use, by hand.
for e in [
    "object.spec.containers.all(i, c, i >= 0 && c.name != '')",
    "{'a': 1}.transformMap(k, v, v > 0, v * 2)",
    "[1, 2].transformList(i, v, i + v)",
    "quantity('1.5Gi').add(quantity('500m')).isGreaterThan(quantity('1'))",
    "url('https://a.example.com:8443/p?q=1').getQuery()",
    "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))",
    "'%s-%d-%.2f'.format(['a', 1, 2.5])",
    "duration('1h30m') + timestamp('2024-01-01T00:00:00Z') > timestamp('2024-01-01T01:00:00Z')",
    "math.greatest([1, 2.5]) == 2.5 && sets.intersects([1], [1, 2])",
    "lists.range(10).map(i, string(i)).join(',').split(',', 3)",
]:
    put("cel", e + "\n---\n" + "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n")

# test_file: a suite that uses the fuzz target's own policy.yaml and resource.yaml.
put("test_file", """apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: fuzz
policies: [policy.yaml]
resources: [resource.yaml]
results:
  - policy: require-labels
    rule: check-team
    resources: [good]
    kind: Pod
    result: pass
""")
put("test_file", """apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: fuzz-cel
policies: [vpol.yaml, policy.yaml]
resources: [resource.yaml]
context: context.yaml
results:
  - policy: needs-config
    isValidatingPolicy: true
    resources: [good]
    kind: Pod
    result: pass
""")
# render: NUL-separated files (kustomization.yaml, base/kustomization.yaml, base/a.yaml,
# patch.yaml, base/b.env): the repository's kustomize examples and rule fixtures.
kustomize_cases = os.path.join(shared, "conformance", "kustomize", "cases")
for case in sorted(glob.glob(os.path.join(kustomize_cases, "*", "files")))[:200]:
    top = os.path.join(case, "kustomization.yaml")
    if not os.path.exists(top):
        continue
    others = sorted(p for p in glob.glob(os.path.join(case, "**", "*"), recursive=True)
                    if os.path.isfile(p) and p != top)[:4]
    parts = [open(top, encoding="utf-8", errors="replace").read()]
    parts += [open(p, encoding="utf-8", errors="replace").read() for p in others]
    put("render", "\0".join(parts))
put("render", "\0".join([
    "resources: [base]\nnamespace: prod\nnamePrefix: p-\npatches:\n- path: patch.yaml\n"
    "images:\n- {name: nginx, newTag: latest}\nconfigMapGenerator:\n- name: c\n  envs: [base/b.env]\n",
    "resources: [a.yaml]\ncommonLabels: {team: a}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n"
    "      serviceAccountName: runner\n      containers: [{name: app, image: nginx}]\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n"
    "      containers: [{name: app, securityContext: {privileged: true}}]\n",
    "A=1\n# comment\nB=two\n",
]))
for target in ("load", "pattern", "jmespath", "test_file", "cel", "render"):
    n = len(os.listdir(os.path.join(here, "corpus", target)))
    print(f"{target}: {n} seeds", file=sys.stderr)
