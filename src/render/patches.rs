//! A kustomization's patches: `patches`, `patchesStrategicMerge` and `patchesJson6902` (file or
//! inline; a literal block keeps the line of each of its fields), their `target` selectors, the
//! object an untargeted patch names, and patch `options` (`allowNameChange`, `allowKindChange`).
//! The patch engines themselves are in `render/patch.rs`.

use super::disk::{BuildError, Deleted, Disk, Result};
use super::kustomize::{
    effective_namespace, identities, identity, previous_kinds, remember, remember_as,
    Kustomization, PREVIOUS_NAMES,
};
use super::patch::{self, Merged};
use super::tree::{TValue, Tree};
use crate::kinds;
use crate::load::source::Span;

/// The documents of YAML written inline in a kustomization (a patch, a transformer config), as
/// trees whose source is the kustomization (or cluster entry): each line of a literal block
/// (`patch: |`) is found where it is written, other text at its field.
pub(super) fn inline_documents<'a>(
    k: &Kustomization<'_>,
    disk: &Disk<'a>,
    node: &Tree<'a>,
    what: &str,
) -> Result<Vec<Tree<'a>>> {
    let text = node.as_str().unwrap_or("");
    let parsed = crate::load::yaml::parse_stream(text, &disk.limits);
    if let Some(p) = parsed.problems.first() {
        return Err(k.error(Some(node), format!("the inline {what} does not parse: {}", p.message)));
    }
    let (file, at) = (node.file, node.span);
    let block = disk.text_of(file).and_then(|text| literal_block(&text, at));
    Ok(parsed
        .documents
        .iter()
        .map(|d| {
            let mut t = Tree::owned(&d.root, file);
            match block {
                Some((line, indent)) => shift(&mut t, line, indent),
                None => respan(&mut t, at),
            }
            t
        })
        .collect())
}

/// A patch given inline (`patch:`) or as a file (`path:`), as trees (one per document).
fn patch_body<'a>(
    k: &Kustomization<'a>,
    disk: &Disk<'a>,
    spec: &Tree<'a>,
) -> Result<Vec<Tree<'a>>> {
    if let Some(text) = spec.get("patch").filter(|p| p.as_str().is_some()) {
        return inline_documents(k, disk, text, "patch");
    }
    if let Some(path) = spec.get("path").and_then(Tree::as_str) {
        let (_, file, docs) =
            k.read_named(disk, path, spec.get("path").map(|p| p.span.start().line))?;
        return Ok(docs.iter().map(|d| Tree::from_read(d, file)).collect());
    }
    if let Some(name) = spec.as_str() {
        return Err(k.error(
            Some(spec),
            format!("a patch needs `path` or `patch`: kustomize 5 does not read a bare file name (write `- path: {name}`)"),
        ));
    }
    Err(k.error(Some(spec), "a patch needs `path` or `patch`".into()))
}

/// Where the text of a literal block scalar whose node spans `at` is written: the line before
/// its first line (so that text line `n` is source line `line + n`) and its indentation. `None`
/// for any other scalar. (The node starts at the `|` indicator or at the first line of text.)
fn literal_block(text: &str, at: Span) -> Option<(u32, u32)> {
    let start = at.start().line.checked_sub(1)? as usize;
    let mut lines = text.lines().skip(start.saturating_sub(1));
    let before = if start == 0 { "" } else { lines.next()? };
    let first = lines.next()?;
    let header: String = first.chars().skip(at.start().col as usize).collect();
    let indicator = |s: &str| {
        s.strip_prefix('|').is_some_and(|rest| {
            let rest = rest.split('#').next().unwrap_or("").trim();
            rest.chars().all(|c| matches!(c, '-' | '+' | '1'..='9'))
        })
    };
    let (line, content) = if indicator(header.trim_end()) {
        (at.start().line, lines.find(|l| !l.trim().is_empty())?)
    } else if before
        .rsplit_once(": ")
        .or_else(|| before.rsplit_once("- "))
        .is_some_and(|(_, v)| indicator(v.trim_end()))
    {
        (at.start().line - 1, first)
    } else {
        return None;
    };
    let indent = content.chars().take_while(|c| *c == ' ').count();
    Some((line, u32::try_from(indent).ok()?))
}

/// Moves every span of a tree parsed from a literal block to where its text is written.
fn shift(t: &mut Tree<'_>, line: u32, indent: u32) {
    let moved = |p: crate::load::source::Pos| crate::load::source::Pos {
        line: p.line + line,
        col: p.col + indent,
    };
    t.span = Span::new(moved(t.span.start()), moved(t.span.end()));
    match &mut t.value {
        TValue::Seq(items) => items.iter_mut().for_each(|i| shift(i, line, indent)),
        TValue::Map(fields) => fields.iter_mut().for_each(|f| {
            f.key_span = Span::new(moved(f.key_span.start()), moved(f.key_span.end()));
            shift(&mut f.value, line, indent);
        }),
        _ => {}
    }
}

/// Points every node of an inline patch at the `patch:` field that holds its text.
fn respan(t: &mut Tree<'_>, span: Span) {
    t.span = span;
    match &mut t.value {
        TValue::Seq(items) => items.iter_mut().for_each(|i| respan(i, span)),
        TValue::Map(fields) => fields.iter_mut().for_each(|f| {
            f.key_span = span;
            respan(&mut f.value, span);
        }),
        _ => {}
    }
}

/// The objects of a build by every name they have had, kept while patches are applied: made
/// again only after a patch renamed or deleted objects.
struct Names {
    index: foldhash::HashMap<String, Vec<usize>>,
    stale: bool,
}

impl Default for Names {
    fn default() -> Self {
        Names { index: foldhash::HashMap::default(), stale: true }
    }
}

impl Names {
    fn ensure(&mut self, out: &[Tree]) {
        if !self.stale {
            return;
        }
        self.index.clear();
        for (i, t) in out.iter().enumerate() {
            let name = t.at(&["metadata", "name"]).and_then(Tree::as_str).unwrap_or("");
            self.index.entry(name.to_string()).or_default().push(i);
            if t.at(&["metadata", "annotations", PREVIOUS_NAMES]).is_some() {
                for (earlier, _) in identities(t).into_iter().skip(1) {
                    let list = self.index.entry(earlier).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        self.stale = false;
    }

    /// Object `i` was removed (the objects after it moved up one): the index follows without
    /// being built again (a fleet's overlay deletes dozens of objects among thousands).
    fn removed(&mut self, i: usize) {
        if self.stale {
            return;
        }
        self.index.retain(|_, list| {
            list.retain(|&j| j != i);
            for j in list.iter_mut().filter(|j| **j > i) {
                *j -= 1;
            }
            !list.is_empty()
        });
    }
}

/// A patch's `target`, compiled once for all the objects it is tried on.
pub(super) struct Selector<'t> {
    /// `group`, `version`, `kind`, `name`, `namespace` as anchored regular expressions.
    fields: Vec<(&'static str, Pattern<'t>)>,
    /// (`labels` or `annotations`, the selector's terms).
    terms: Vec<(&'static str, &'t str)>,
}

impl<'t> Selector<'t> {
    pub(super) fn new(
        target: &'t Tree,
        error: &dyn Fn(&Tree, String) -> BuildError,
    ) -> Result<Self> {
        let mut fields = Vec::new();
        for key in ["group", "version", "kind", "name", "namespace"] {
            if let Some((node, wanted)) =
                target.get(key).and_then(|n| Some((n, n.as_str()?))).filter(|(_, w)| !w.is_empty())
            {
                let pattern = if wanted.chars().all(|c| c.is_alphanumeric() || "-_/:@".contains(c))
                {
                    Pattern::Literal(wanted)
                } else if wanted.chars().all(|c| c.is_alphanumeric() || "-_/:@.".contains(c)) {
                    // `networking.k8s.io`: each `.` matches any one character but a newline.
                    Pattern::Dotted(wanted)
                } else {
                    Pattern::Regex(
                        regex::Regex::new(&format!("^(?:{wanted})$"))
                            .map_err(|e| error(node, format!("target `{key}`: {e}")))?,
                    )
                };
                fields.push((key, pattern));
            }
        }
        let terms = [("labelSelector", "labels"), ("annotationSelector", "annotations")]
            .into_iter()
            .filter_map(|(key, field)| Some((field, target.get(key)?.as_str()?)))
            .collect();
        Ok(Selector { fields, terms })
    }

    /// Whether the object is selected. A name or namespace matches the one the object has now
    /// or any it had (kustomize tries the original and the current one).
    fn matches(&self, t: &Tree) -> bool {
        self.matches_id(t) && self.matches_terms(t)
    }

    /// Whether the selector names group, version, kind, name or namespace.
    pub(super) fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    /// Whether the selector has a label or annotation selector.
    pub(super) fn has_terms(&self) -> bool {
        !self.terms.is_empty()
    }

    /// Whether the object's group, version, kind, name and namespace are selected.
    pub(super) fn matches_id(&self, t: &Tree) -> bool {
        let api = t.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
        let (group, version) = kinds::split_api_version(api);
        let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("");
        // Earlier names and namespaces (which allocate) only for objects that have had some.
        let meta = |key: &str| t.at(&["metadata", key]).and_then(Tree::as_str).unwrap_or("");
        let earlier = t
            .at(&["metadata", "annotations", PREVIOUS_NAMES])
            .map(|_| identities(t).split_off(1))
            .unwrap_or_default();
        self.fields.iter().all(|(key, re)| match *key {
            "group" => re.is_match(group),
            "version" => re.is_match(version),
            "kind" => re.is_match(kind),
            "name" => re.is_match(meta("name")) || earlier.iter().any(|(n, _)| re.is_match(n)),
            _ => re.is_match(meta("namespace")) || earlier.iter().any(|(_, ns)| re.is_match(ns)),
        })
    }

    /// Whether the object's labels and annotations are selected.
    pub(super) fn matches_terms(&self, t: &Tree) -> bool {
        self.terms.iter().all(|(field, selector)| {
            let have = |k: &str, v: Option<&str>| {
                t.at(&["metadata", field, k])
                    .and_then(Tree::as_str)
                    .is_some_and(|x| v.is_none_or(|v| v == x))
            };
            selector.split(',').map(str::trim).filter(|s| !s.is_empty()).all(|term| {
                match term.split_once("!=") {
                    Some((k, v)) => !have(k.trim(), Some(v.trim())),
                    None => match term.split_once('=') {
                        Some((k, v)) => have(k.trim(), Some(v.trim_start_matches('=').trim())),
                        None => match term.strip_prefix('!') {
                            Some(k) => !have(k.trim(), None),
                            None => have(term, None),
                        },
                    },
                }
            })
        })
    }
}

/// One field of a selector: text without regular-expression syntax is compared as it is (most
/// targets name a kind or an object), the rest is matched whole.
enum Pattern<'t> {
    Literal(&'t str),
    /// Literal text but for `.`, matched as the regular expression it is without compiling one
    /// (a patch target's `group` is usually dotted).
    Dotted(&'t str),
    Regex(regex::Regex),
}

impl Pattern<'_> {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Literal(wanted) => *wanted == text,
            Pattern::Dotted(wanted) => {
                let mut have = text.chars();
                wanted
                    .chars()
                    .all(|w| have.next().is_some_and(|c| c == w || (w == '.' && c != '\n')))
                    && have.next().is_none()
            }
            Pattern::Regex(re) => re.is_match(text),
        }
    }
}

/// How an object's lists merge: as the build's custom schema says for a kind it defines, else by
/// the built-in types' merge keys, else (a kind no schema knows) by replacing them.
fn merge_keys<'k>(k: &'k Kustomization<'_>, t: &Tree<'_>) -> patch::Keys<'k> {
    let (group, version, kind) = super::fieldspec::gvk(t);
    if let Some(super::openapi::OpenApi::Custom(schema)) = &k.specs.openapi {
        if let Some(d) = schema.definition(group, version, kind) {
            return patch::Keys::Schema(schema, d);
        }
    }
    patch::builtin_type(group, version, kind).map_or(patch::Keys::None, patch::Keys::Builtin)
}

/// The rename a patch made of an object (its name or namespace).
fn renamed(
    t: &Tree<'_>,
    (old, old_ns): (String, String),
    (new, new_ns): (String, String),
    at: &Tree<'_>,
) -> super::namereference::Rename {
    super::namereference::Rename {
        kind: t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string(),
        namespace: old_ns.clone(),
        old,
        new,
        new_namespace: (new_ns != old_ns).then_some(new_ns),
        file: at.file,
        span: at.span,
    }
}

/// What a patch may change of the objects it patches (its `options`).
#[derive(Clone, Copy, Debug, Default)]
struct Allow {
    name: bool,
    kind: bool,
}

/// The objects a patch without a target names: by their current name and namespace or one
/// they had before (an overlay patches a base object by its base name); a patch without a
/// namespace names an object in `default` or with none (before a kustomization's namespace,
/// too). More than one is an error for the caller, as in kustomize.
fn named_objects(body: &Tree<'_>, out: &[Tree<'_>], names: Option<&mut Names>) -> Vec<usize> {
    let want_name = body.at(&["metadata", "name"]).and_then(Tree::as_str);
    let scoped = super::kustomize::cluster_scoped(body);
    let want_ns = effective_namespace(
        body.at(&["metadata", "namespace"]).and_then(Tree::as_str).unwrap_or(""),
        scoped,
    );
    let field = |t: &'_ Tree, f: &str| t.get(f).and_then(Tree::as_str).map(str::to_owned);
    let (want_api, want_kind) = (field(body, "apiVersion"), field(body, "kind"));
    let wanted = |name: &str, ns: &str| {
        want_name.is_none_or(|w| w == name) && want_ns == effective_namespace(ns, scoped)
    };
    // The current identity is read in place; the earlier ones (which allocate) only for objects
    // that have had another.
    // An earlier identity is an earlier kind too (kustomize's previous ids keep the current
    // apiVersion).
    let is_named = |t: &Tree| {
        if t.get("apiVersion").and_then(Tree::as_str) != want_api.as_deref() {
            return false;
        }
        let kind = t.get("kind").and_then(Tree::as_str);
        let meta = |key: &str| t.at(&["metadata", key]).and_then(Tree::as_str).unwrap_or("");
        if kind == want_kind.as_deref() && wanted(meta("name"), meta("namespace")) {
            return true;
        }
        if t.at(&["metadata", "annotations", PREVIOUS_NAMES]).is_none() {
            return false;
        }
        let kinds = previous_kinds(t);
        identities(t).iter().skip(1).enumerate().any(|(i, (name, ns))| {
            kinds.get(i).copied().or(kind) == want_kind.as_deref() && wanted(name, ns)
        })
    };
    // Objects by name: most patches name one, and a fleet's overlay applies hundreds of patches
    // to thousands of objects.
    let candidates = match (want_name, names) {
        (Some(w), Some(names)) => {
            names.ensure(out);
            names.index.get(w).cloned().unwrap_or_default()
        }
        _ => (0..out.len()).collect(),
    };
    candidates.into_iter().filter(|&i| is_named(&out[i])).collect()
}

/// Applies one patch document to the objects it targets (its `target`, else the object it
/// names).
fn apply_patch<'a>(
    k: &Kustomization<'a>,
    disk: &Disk<'a>,
    at: &Tree<'a>,
    body: &Tree<'a>,
    (target, allow): (Option<&Tree<'a>>, Allow),
    out: &mut Vec<Tree<'a>>,
    mut names: Option<&mut Names>,
) -> Result<()> {
    let error = |n: &Tree, m: String| k.error(Some(n), m);
    let selector = target.map(|t| Selector::new(t, &error)).transpose()?;
    let fail = |e: patch::PatchError| k.error(Some(at), e.to_string());
    if matches!(body.value, TValue::Seq(_)) {
        let Some(selector) = selector else {
            return Err(k.error(Some(at), "a JSON 6902 patch needs a `target`".into()));
        };
        return apply_json6902(k, at, body, &selector, out, names);
    }
    // A strategic merge patch without a target is applied to the object it names.
    let want_name = body.at(&["metadata", "name"]).and_then(Tree::as_str);
    let want_kind = body.get("kind").and_then(Tree::as_str).unwrap_or("");
    let by_name =
        if target.is_some() { Vec::new() } else { named_objects(body, out, names.as_deref_mut()) };
    if target.is_none() && by_name.len() > 1 {
        let name = want_name.unwrap_or("");
        return Err(k.error(
            Some(at),
            format!("{} resources match the patch of `{name}`: it is ambiguous", by_name.len()),
        ));
    }
    // An object of a kind no schema knows merges as the patch's kind does (kyaml's walker takes
    // the first source whose type it knows: the object, then the patch).
    let patch_keys = merge_keys(k, body);
    // The patch's own identity does not rename (or re-kind) what it patches, unless its
    // options allow it.
    let mut body = body.clone();
    if !(allow.kind && target.is_some()) {
        for f in ["apiVersion", "kind"] {
            body.remove(f);
        }
    }
    if let Some(meta) = body.get_mut("metadata") {
        if !(allow.name && target.is_some()) {
            meta.remove("name");
        }
        meta.remove("namespace");
    }
    let renames = body.at(&["metadata", "name"]).is_some();
    let mut deleted = Vec::new();
    let mut renamed_objects = Vec::new();
    let mut chosen = match &selector {
        Some(s) => (0..out.len()).filter(|&i| s.matches(&out[i])).collect(),
        None => by_name,
    };
    chosen.sort_unstable();
    let matched = !chosen.is_empty();
    for i in chosen {
        let t = &mut out[i];
        let keys = match merge_keys(k, t) {
            patch::Keys::None => patch_keys,
            keys => keys,
        };
        let before = identity(t);
        if renames {
            remember(t, at.file, at.span);
        }
        if patch::strategic_merge(t, &body, keys).map_err(fail)? == Merged::Deleted {
            deleted.push(i);
            continue;
        }
        let after = identity(t);
        if renames && after != before {
            renamed_objects.push(renamed(t, before, after, at));
        }
    }
    // Fields that name a renamed object follow it (kustomize fixes back references).
    super::namereference::update(out, &renamed_objects, &k.specs.name_references)
        .map_err(|m| k.error(Some(at), m))?;
    // What the cluster will not receive, and the patch's `$patch: delete` line that is why.
    let cause = match &body.value {
        TValue::Map(fields) => fields
            .iter()
            .find(|f| f.key == "$patch")
            .map_or((body.file, body.span), |f| (f.key_file, f.key_span.to(f.value.span))),
        _ => (body.file, body.span),
    };
    if renames && matched {
        if let Some(names) = names.as_deref_mut() {
            names.stale = true;
        }
    }
    for i in deleted.into_iter().rev() {
        let object = out.remove(i);
        if let Some(names) = names.as_deref_mut() {
            names.removed(i);
        }
        disk.deleted.borrow_mut().push(Deleted {
            object: object.into_owned(),
            file: cause.0,
            span: cause.1,
            switch: false,
        });
    }
    if !matched && target.is_none() {
        let name = want_name.unwrap_or("");
        return Err(
            k.error(Some(at), format!("no resource matches the patch of {want_kind} `{name}`"))
        );
    }
    Ok(())
}

/// Applies a JSON 6902 patch to the objects `selector` chooses.
fn apply_json6902<'a>(
    k: &Kustomization<'a>,
    at: &Tree<'a>,
    body: &Tree<'a>,
    selector: &Selector,
    out: &mut [Tree<'a>],
    names: Option<&mut Names>,
) -> Result<()> {
    let mut renames = Vec::new();
    for t in out.iter_mut().filter(|t| selector.matches(t)) {
        let before = identity(t);
        let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
        patch::json6902(t, body).map_err(|e| k.error(Some(at), e.to_string()))?;
        let after = identity(t);
        if after != before {
            remember_as(t, (&before, &kind), at.file, at.span);
            renames.push(renamed(t, before, after, at));
        }
    }
    if let (false, Some(names)) = (renames.is_empty(), names) {
        names.stale = true;
    }
    // Fields that name a renamed object follow it (kustomize fixes back references).
    super::namereference::update(out, &renames, &k.specs.name_references)
        .map_err(|m| k.error(Some(at), m))
}

pub(super) fn patches_strategic_merge<'a>(
    k: &Kustomization<'a>,
    disk: &Disk<'a>,
    out: &mut Vec<Tree<'a>>,
) -> Result<()> {
    let items = k.list("patchesStrategicMerge")?;
    for item in items {
        let text =
            item.as_str().ok_or_else(|| k.error(Some(item), "entries must be strings".into()))?;
        // An entry is a file name, or a patch written inline.
        let inline = text.contains('\n') || text.trim_start().starts_with('{');
        let mut spec = Tree::map(k.file, item.span);
        spec.set(if inline { "patch" } else { "path" }, item.clone());
        let bodies = patch_body(k, disk, &spec)?;
        // An empty `patches` entry is skipped, an empty `patchesStrategicMerge` one is not.
        if bodies.iter().all(|b| matches!(b.value, TValue::Null)) {
            return Err(k.error(Some(item), "the patch is empty (it has no document)".into()));
        }
        for body in bodies {
            apply_patch(k, disk, item, &body, (None, Allow::default()), out, None)?;
        }
    }
    Ok(())
}

pub(super) fn patches<'a>(
    k: &Kustomization<'a>,
    disk: &Disk<'a>,
    out: &mut Vec<Tree<'a>>,
) -> Result<()> {
    let items = k.list("patches")?;
    let mut names = Names::default();
    for item in items {
        let mut allow = Allow::default();
        if let Some(options) = item.get("options") {
            let TValue::Map(fields) = &options.value else {
                return Err(k.error(Some(options), "patch `options` must be a mapping".into()));
            };
            for f in fields {
                let on = matches!(f.value.value, TValue::Bool(true));
                match f.key.as_str() {
                    "allowNameChange" => allow.name = on,
                    "allowKindChange" => allow.kind = on,
                    other => {
                        return Err(k.error(
                            Some(&f.value),
                            format!("patch option `{other}` is not supported yet"),
                        ))
                    }
                }
            }
        }
        for body in patch_body(k, disk, item)? {
            apply_patch(k, disk, item, &body, (item.get("target"), allow), out, Some(&mut names))?;
        }
    }
    Ok(())
}

pub(super) fn patches_json6902<'a>(
    k: &Kustomization<'a>,
    disk: &Disk<'a>,
    out: &mut Vec<Tree<'a>>,
) -> Result<()> {
    let items = k.list("patchesJson6902")?;
    for item in items {
        let target = item
            .get("target")
            .ok_or_else(|| k.error(Some(item), "a JSON 6902 patch needs a `target`".into()))?;
        for body in patch_body(k, disk, item)? {
            let body = if matches!(body.value, TValue::Seq(_)) {
                body
            } else {
                return Err(
                    k.error(Some(item), "a JSON 6902 patch must be a list of operations".into())
                );
            };
            apply_patch(k, disk, item, &body, (Some(target), Allow::default()), out, None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn a_dotted_target_matches_as_the_regular_expression_it_is() {
        let dotted = Pattern::Dotted("networking.k8s.io");
        let regex = regex::Regex::new("^(?:networking.k8s.io)$").unwrap();
        for text in [
            "networking.k8s.io",
            "networkingXk8s-io",
            "networking.k8s.io2",
            "networking.k8s.i",
            "networking\nk8s.io",
            "networkingék8s.io",
            "",
        ] {
            assert_eq!(dotted.is_match(text), regex.is_match(text), "{text:?}");
        }
        assert!(Pattern::Literal("web").is_match("web"));
        assert!(!Pattern::Literal("web").is_match("web2"));
    }
}
