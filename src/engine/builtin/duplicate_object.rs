//! Template `duplicate-object`: one object (kind, namespace, name) defined twice for the same
//! cluster. A rendered object belongs to its build unit's cluster (docs/RENDER.md); an object
//! as written below `clusters/<name>/` to that cluster; other files to every cluster.
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

super::tree_template!(DuplicateObject);

fn check(_params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    let mut seen: HashMap<(&str, &str, &str, &str, &str), Vec<&Object>> = HashMap::new();
    for object in inv.objects.iter().filter(|o| !o.name.is_empty()) {
        let group = crate::inventory::kinds::split_api_version(&object.api_version).0;
        // A namespaced object whose namespace nothing in the tree decides goes wherever its
        // applier puts it: only objects applied together (the same directory) surely share it.
        let unknown_namespace = !object.cluster_scoped && object.namespace.is_none();
        let scope = if unknown_namespace { directory(&inv.source(object).display) } else { "" };
        seen.entry((group, &object.kind, object.namespace_or_empty(), scope, &object.name))
            .or_default()
            .push(object);
    }
    let mut groups: Vec<_> = seen.into_values().filter(|v| v.len() > 1).collect();
    groups.sort_by_key(|v| v[0].index);
    for objects in groups {
        // The first earlier definition the cluster can see together with `later`: any, for an
        // object outside a cluster directory; else the first outside one or in the same cluster.
        // Remembered per cluster, so that a group of n copies costs n steps, not n².
        let mut first_outside: Option<&Object> = None;
        let mut first_in: HashMap<&str, &Object> = HashMap::new();
        // An object rendered for several clusters is a copy in each.
        let copies = objects.iter().flat_map(|&o| {
            let clusters: Vec<Option<&str>> = match &o.rendering {
                Some(r) => r.clusters().map(Some).collect(),
                None => vec![cluster_of(&inv.source(o).display)],
            };
            clusters.into_iter().map(move |c| (o, c))
        });
        let mut reported: Vec<(usize, usize)> = Vec::new();
        for (i, (later, later_cluster)) in copies.enumerate() {
            let first = match later_cluster {
                _ if i == 0 => None,
                None => Some(objects[0]).filter(|f| f.index != later.index),
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
            let first = first.filter(|f| f.index != later.index);
            let Some(first) = first else { continue };
            if reported.contains(&(later.index, first.index)) {
                continue;
            }
            reported.push((later.index, first.index));
            let at = &inv.files[first.file_at("/metadata/name")];
            let line = first
                .root
                .at(&["metadata", "name"])
                .map_or(first.root.span.start.line, |n| n.span.start.line);
            sink.report_in(
                later,
                later_cluster.filter(|_| !later.as_written()),
                None,
                "/metadata/name",
                format!("{} `{}` is defined twice: also in {}:{line}; the cluster keeps whichever is applied last", later.kind, later.name, at.display),
            );
        }
    }
}
