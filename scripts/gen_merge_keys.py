#!/usr/bin/env python3
"""Derives the strategic-merge list keys of the built-in Kubernetes types from an OpenAPI v2
document (swagger.json, or kustomize's bundle of it) and writes them as a Rust table."""
import gzip, json, sys
path = sys.argv[1]
opener = gzip.open if path.endswith('.gz') else open
doc = json.load(opener(path))
defs = doc['definitions']
def ref(v):
    r = v.get('$ref') or (v.get('items') or {}).get('$ref')
    return r.split('/')[-1] if r else None
def merges(v):
    return v.get('x-kubernetes-patch-merge-key') and 'merge' in v.get('x-kubernetes-patch-strategy', '').split(',')
kinds = sorted({(g['group'], g['version'], g['kind'], n) for n, df in defs.items() for g in df.get('x-kubernetes-group-version-kind', [])})
# Types from which a merge-keyed list can be reached.
useful = set()
changed = True
while changed:
    changed = False
    for n, df in defs.items():
        if n in useful: continue
        for p, v in (df.get('properties') or {}).items():
            r = ref(v)
            if merges(v) or (r in useful):
                useful.add(n); changed = True; break
types = sorted(useful)
index = {n: i for i, n in enumerate(types)}
rows = []
for n in types:
    for p, v in sorted((defs[n].get('properties') or {}).items()):
        r = ref(v)
        child = index.get(r)
        key = v.get('x-kubernetes-patch-merge-key') if merges(v) else None
        if child is None and key is None: continue
        rows.append((index[n], p, child, key))
kind_rows = sorted({(g, v, k, index[n]) for g, v, k, n in kinds if n in index})
out = sys.stdout
version = ', '.join(src.get('kubernetesVersion', '') for src in doc.get('sources', [])) or 'unknown'
out.write('//! The strategic-merge keys of the built-in Kubernetes types, derived from the Kubernetes API\n')
out.write(f'//! definitions (OpenAPI v2, Kubernetes {version}, the schema kustomize builds with) by\n')
out.write('//! `scripts/gen_merge_keys.py`: every type from which a list that merges by key\n')
out.write('//! (`x-kubernetes-patch-strategy: merge` with `x-kubernetes-patch-merge-key`) can be reached.\n')
out.write('//! Generated: do not edit by hand.\n\n')
out.write('/// Built-in kinds by (group, version, kind): the index of their type; sorted.\n')
out.write('pub(super) const KINDS: &[(&str, &str, &str, u16)] = &[\n')
for g, v, k, i in kind_rows: out.write(f'    ("{g}", "{v}", "{k}", {i}),\n')
out.write('];\n\n')
out.write('/// The types, by index (sorted: a custom schema names them).\n')
out.write('pub(super) const TYPES: &[&str] = &[\n')
for n in types: out.write(f'    "{n}",\n')
out.write('];\n\n')
out.write('/// (type, field) to the type of the field (or of its elements) and the merge key of a list\n/// that merges; sorted by type, then field.\n'.replace('\n/// that', '\n/// that'))
out.write('pub(super) const FIELDS: &[(u16, &str, Option<u16>, Option<&str>)] = &[\n')
for t, p, c, k in rows:
    cs = 'None' if c is None else f'Some({c})'
    ks = 'None' if k is None else f'Some("{k}")'
    out.write(f'    ({t}, "{p}", {cs}, {ks}),\n')
out.write('];\n')
sys.stderr.write(f'{len(types)} types, {len(rows)} fields, {len(kind_rows)} kinds\n')
