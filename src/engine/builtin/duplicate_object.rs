//! Template `duplicate-object`: one object (kind, namespace, name) defined twice for the same
//! cluster. Rendered objects collide when one cluster receives both (docs/RENDER.md); objects
//! as written are compared among themselves: one below `clusters/<name>/` belongs to that
//! cluster, other files to every cluster.
//! A namespaced object with no effective namespace collides only with objects of its own
//! directory (separate apps without a namespace are not one namespace `""`).

use std::collections::HashMap;

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

/// The cluster a file is for: the directory after `clusters/`, or `None` (shared).
fn cluster_of(display: &str) -> Option<&str> {
    let mut parts = display.split('/');
    while let Some(p) = parts.next() {
        if p == "clusters" {
            return parts.next();
        }
    }
    None
}

/// The directory of a file as shown (`""` at the top).
fn directory(display: &str) -> &str {
    display.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// What names an object for this rule: API group, kind, namespace, the directory of an object
/// whose namespace is not known, name.
type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// The objects of each key defined more than once, in the order of the first of each.
fn groups(inv: &crate::inventory::Inventory) -> Vec<Vec<&Object>> {
    // Hashed with foldhash and sized once: every object of the tree is a key. Each key keeps
    // its first and last object, and each object the next one of its key (no list per key:
    // most keys are one object's, or two clusters').
    let mut seen: foldhash::HashMap<Key<'_>, (usize, usize)> =
        foldhash::HashMap::with_capacity_and_hasher(
            inv.objects.len(),
            foldhash::fast::RandomState::default(),
        );
    let mut next = vec![usize::MAX; inv.objects.len()];
    for (i, object) in inv.objects.iter().enumerate().filter(|(_, o)| !o.name.is_empty()) {
        let group = crate::kinds::split_api_version(&object.api_version).0;
        // A namespaced object whose namespace nothing in the tree decides goes wherever its
        // applier puts it: only objects applied together (the same directory) surely share it.
        let unknown_namespace = !object.cluster_scoped && object.namespace.is_none();
        let scope = if unknown_namespace { directory(&inv.source(object).display) } else { "" };
        let key = (group, &*object.kind, object.namespace_or_empty(), scope, &*object.name);
        match seen.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((i, i));
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let (_, last) = o.get_mut();
                next[*last] = i;
                *last = i;
            }
        }
    }
    // The keys of more than one object, in the order of their first.
    let mut firsts: Vec<usize> = seen
        .into_values()
        .filter(|&(first, _)| next[first] != usize::MAX)
        .map(|(f, _)| f)
        .collect();
    firsts.sort_unstable();
    firsts
        .into_iter()
        .map(|first| {
            std::iter::successors(Some(first), |&i| Some(next[i]).filter(|&n| n != usize::MAX))
                .map(|i| &inv.objects[i])
                .collect()
        })
        .collect()
}

super::tree_template!(DuplicateObject);

fn check(_params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    for objects in groups(inv) {
        // Objects as written and objects build units rendered are compared among their own:
        // a file a unit failed to build (and that is linted as written) is no second copy of
        // what another unit renders.
        let mut report = |later: &Object, first: &Object, cluster: Option<&str>| {
            let at = &inv.files[first.file_at("/metadata/name")];
            let line = first
                .root
                .at(&["metadata", "name"])
                .map_or(first.root.span.start().line, |n| n.span.start().line);
            let same_place = first.file_at("/metadata/name") == later.file_at("/metadata/name")
                && later.root.at(&["metadata", "name"]).map(|n| n.span.start().line) == Some(line);
            // One definition that two units of a cluster both apply: name the units.
            let message = match (cluster, same_place) {
                (Some(c), true) => {
                    let unit = |o: &Object| {
                        o.rendering
                            .iter()
                            .flat_map(|r| r.units.iter())
                            .find(|(u, _)| &*u.cluster == c)
                            .map(|(u, _)| u.name.to_string())
                            .unwrap_or_default()
                    };
                    format!(
                        "{} `{}` is applied twice by one cluster: by {} and by {}; the cluster keeps whichever is applied last",
                        later.kind,
                        later.name,
                        unit(first),
                        unit(later)
                    )
                }
                _ => format!(
                    "{} `{}` is defined twice: also in {}:{line}; the cluster keeps whichever is applied last",
                    later.kind, later.name, at.display
                ),
            };
            sink.report_in(later, cluster, None, "/metadata/name", message);
        };
        // Rendered: two copies collide when one cluster receives both. (A group is a few
        // copies, in a few clusters: looked up in a list.)
        let mut first_in: Vec<(&str, &Object)> = Vec::new();
        for later in objects.iter().filter(|o| !o.as_written()) {
            for cluster in later.clusters() {
                match first_in.iter().find(|(c, _)| *c == cluster) {
                    Some((_, first)) => report(later, first, Some(cluster)),
                    None => first_in.push((cluster, later)),
                }
            }
        }
        let written: Vec<&Object> = objects.iter().copied().filter(|o| o.as_written()).collect();
        // As written: the first earlier definition the cluster can see together with `later`:
        // any, for an object outside a cluster directory; else the first outside one or in the
        // same cluster. Remembered per cluster, so that a group of n copies costs n steps.
        let mut first_outside: Option<&Object> = None;
        let mut first_in: HashMap<&str, &Object> = HashMap::new();
        for (i, later) in written.iter().enumerate() {
            let later_cluster = cluster_of(&inv.source(later).display);
            let first = match later_cluster {
                _ if i == 0 => None,
                None => Some(written[0]),
                Some(c) => match (first_outside, first_in.get(c)) {
                    (Some(a), Some(b)) => Some(if a.index < b.index { a } else { *b }),
                    (a, b) => a.or(b.copied()),
                },
            };
            match later_cluster {
                None => {
                    first_outside.get_or_insert(later);
                }
                Some(c) => {
                    first_in.entry(c).or_insert(later);
                }
            }
            if let Some(first) = first {
                report(later, first, None);
            }
        }
    }
}
