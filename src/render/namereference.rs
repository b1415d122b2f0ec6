//! Name references: when a build renames an object (a prefix, a suffix, later a generator's
//! hash), the fields of other objects that name it follow, as kustomize's `nameReference`
//! transformer does: a ConfigMap in the pods that mount or read it, a ServiceAccount in pods and
//! in RoleBinding subjects, a Role in role references, a Service in Ingress backends, and so on.

use super::fieldspec::{self, Create, NameReference};
use super::kustomize::effective_namespace;
use super::tree::{TValue, Tree};
use super::view::{Shape, View};
use crate::load::source::Span;

/// An object the build renamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub kind: String,
    /// Its namespace (empty for cluster-scoped objects and objects that name none).
    pub namespace: String,
    pub old: String,
    pub new: String,
    /// The namespace it moved to, when a namespace transformer moved it (a ServiceAccount
    /// named with its namespace in a binding's subjects follows it there).
    pub new_namespace: Option<String>,
    /// The file and span of what caused the rename (the kustomization field, the generator):
    /// the fields updated to follow it point there.
    pub file: u32,
    pub span: Span,
}

/// Where, below a pod spec, each kind of object is named.
const IN_POD_SPEC: &[(&str, &[&str])] = &[
    ("ConfigMap", &["volumes", "*", "configMap", "name"]),
    ("ConfigMap", &["volumes", "*", "projected", "sources", "*", "configMap", "name"]),
    ("ConfigMap", &["@containers", "*", "env", "*", "valueFrom", "configMapKeyRef", "name"]),
    ("ConfigMap", &["@containers", "*", "envFrom", "*", "configMapRef", "name"]),
    ("Secret", &["volumes", "*", "secret", "secretName"]),
    ("Secret", &["volumes", "*", "projected", "sources", "*", "secret", "name"]),
    ("Secret", &["@containers", "*", "env", "*", "valueFrom", "secretKeyRef", "name"]),
    ("Secret", &["@containers", "*", "envFrom", "*", "secretRef", "name"]),
    ("Secret", &["imagePullSecrets", "*", "name"]),
    ("ServiceAccount", &["serviceAccountName"]),
    ("ServiceAccount", &["serviceAccount"]),
    ("PersistentVolumeClaim", &["volumes", "*", "persistentVolumeClaim", "claimName"]),
    ("PriorityClass", &["priorityClassName"]),
];

/// Where objects of other kinds name a kind: (named kind, referring kinds, path).
const ELSEWHERE: &[(&str, &[&str], &[&str])] = &[
    ("Secret", &["Ingress"], &["spec", "tls", "*", "secretName"]),
    ("Secret", &["ServiceAccount"], &["imagePullSecrets", "*", "name"]),
    ("Secret", &["Ingress"], &["metadata", "annotations", "ingress.kubernetes.io/auth-secret"]),
    (
        "Secret",
        &["Ingress"],
        &["metadata", "annotations", "nginx.ingress.kubernetes.io/auth-secret"],
    ),
    (
        "Secret",
        &["Ingress"],
        &["metadata", "annotations", "nginx.ingress.kubernetes.io/auth-tls-secret"],
    ),
    (
        "ConfigMap",
        &["Ingress"],
        &["metadata", "annotations", "nginx.ingress.kubernetes.io/fastcgi-params-configmap"],
    ),
    ("Secret", &["StorageClass"], &["parameters", "secretName"]),
    ("Secret", &["StorageClass"], &["parameters", "adminSecretName"]),
    ("Secret", &["StorageClass"], &["parameters", "userSecretName"]),
    ("Secret", &["StorageClass"], &["parameters", "secretRef"]),
    ("Secret", &["PersistentVolume"], &["spec", "azureFile", "secretName"]),
    ("ConfigMap", &["Node"], &["spec", "configSource", "configMap", "name"]),
    ("PersistentVolume", &["PersistentVolumeClaim"], &["spec", "volumeName"]),
    ("StorageClass", &["PersistentVolume", "PersistentVolumeClaim"], &["spec", "storageClassName"]),
    (
        "StorageClass",
        &["StatefulSet"],
        &["spec", "volumeClaimTemplates", "*", "spec", "storageClassName"],
    ),
    ("IngressClass", &["Ingress"], &["spec", "ingressClassName"]),
    ("ValidatingAdmissionPolicy", &["ValidatingAdmissionPolicyBinding"], &["spec", "policyName"]),
    (
        "Service",
        &["Ingress"],
        &["spec", "rules", "*", "http", "paths", "*", "backend", "service", "name"],
    ),
    (
        "Service",
        &["Ingress"],
        &["spec", "rules", "*", "http", "paths", "*", "backend", "serviceName"],
    ),
    ("Service", &["Ingress"], &["spec", "defaultBackend", "service", "name"]),
    ("Service", &["Ingress"], &["spec", "backend", "serviceName"]),
    ("Service", &["StatefulSet"], &["spec", "serviceName"]),
];

/// Pod-bearing kinds and where their pod spec is.
const POD_SPECS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("ReplicationController", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    ("CronJob", &["spec", "jobTemplate", "spec", "template", "spec"]),
    ("PodTemplate", &["template", "spec"]),
];

/// Kinds whose objects have no namespace: references to them match whatever the referrer's.
const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "PriorityClass",
    "Namespace",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "ValidatingAdmissionPolicy",
];

/// The kinds whose objects follow a move (a ServiceAccount's, a Service's) as well as a rename:
/// in a build that only moved objects, the only ones looked at.
const FOLLOW_MOVES: &[&str] = &[
    "RoleBinding",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
];

/// The renames of a build, indexed: a build that prefixes thousands of objects looks a name up
/// for every reference field of every object.
struct Index<'r> {
    /// The renames of each (kind, old name), in order.
    by_name: foldhash::HashMap<(&'r str, &'r str), Vec<&'r Rename>>,
    /// The kinds renamed: a field naming another kind is not looked at.
    kinds: foldhash::HashSet<&'r str>,
    /// The ServiceAccounts renamed or moved, by the name they had: what binding subjects name.
    accounts: foldhash::HashMap<&'r str, Vec<&'r Rename>>,
}

impl<'r> Index<'r> {
    fn of(renames: &'r [Rename]) -> Self {
        let mut by_name: foldhash::HashMap<_, Vec<_>> = foldhash::HashMap::default();
        for r in renames.iter().filter(|r| r.new != r.old) {
            by_name.entry((r.kind.as_str(), r.old.as_str())).or_default().push(r);
        }
        let kinds = by_name.keys().map(|&(kind, _)| kind).collect();
        let mut accounts: foldhash::HashMap<_, Vec<_>> = foldhash::HashMap::default();
        for r in renames.iter().filter(|r| r.kind == "ServiceAccount") {
            accounts.entry(r.old.as_str()).or_default().push(r);
        }
        Index { by_name, kinds, accounts }
    }

    /// The rename a field that names a `named` called `old`, in namespace `ns`, follows. A
    /// cluster-scoped referrer (a CRD's conversion webhook, a ClusterRole) names an object of
    /// any namespace: the one renamed object of that name, if only one is.
    fn new_name(
        &self,
        (named, old, ns): (&str, &str, &str),
        referrer_cluster_scoped: bool,
    ) -> Option<&'r Rename> {
        let candidates = || self.by_name.get(&(named, old)).into_iter().flatten().copied();
        candidates().find(|r| CLUSTER_SCOPED.contains(&named) || r.namespace == ns).or_else(|| {
            let mut any = candidates();
            let first = any.next()?;
            (referrer_cluster_scoped && any.all(|r| r.new == first.new)).then_some(first)
        })
    }
}

/// Updates the fields of `objects` that name a renamed object, pointing each at what caused
/// the rename: kustomize's default name references, and `extra` ones a kustomization's
/// `configurations` add.
/// A field spec of `extra` that cannot be followed (a path through a scalar) is an error.
pub(super) fn update(
    objects: &mut [Tree<'_>],
    renames: &[Rename],
    extra: &[NameReference],
) -> Result<(), String> {
    if renames.is_empty() {
        return Ok(());
    }
    let index = Index::of(renames);
    // Fields are read through a view first, and made the build's own only where one names a
    // renamed object: most objects name none (docs/BENCHMARKS.md, twenty-ninth session).
    let text = |t: &Tree, path: &[&str]| {
        View::Tree(t).at(path).and_then(View::as_str).unwrap_or("").to_string()
    };
    for t in objects.iter_mut() {
        let kind = text(t, &["kind"]);
        if index.kinds.is_empty() && extra.is_empty() && !FOLLOW_MOVES.contains(&kind.as_str()) {
            continue;
        }
        let namespace = text(t, &["metadata", "namespace"]);
        let referrer_cluster_scoped = super::kustomize::cluster_scoped(t);
        let new_name = |named: &str, old: &str, ns: &str| {
            index.new_name((named, old, ns), referrer_cluster_scoped)
        };
        let names_renamed = |at: View<'_, '_>, named: &str, path: &[&str], ns: &str| {
            index.kinds.contains(named)
                && any_at(at, path, &mut |old| new_name(named, old, ns).is_some())
        };
        let follow_at = |t: &mut Tree, named: &str, path: &[&str], ns: &str| {
            each(t, path, &mut |field: &mut Tree| {
                let Some(old) = field.as_str() else { return };
                if let Some(r) = new_name(named, old, ns) {
                    *field = Tree::string(&r.new, r.file, r.span);
                }
            });
        };
        let rename_at = |t: &mut Tree, named: &str, path: &[&str], ns: &str| {
            if names_renamed(View::Tree(t), named, path, ns) {
                follow_at(t, named, path, ns);
            }
        };
        if let Some((_, spec_path)) = POD_SPECS.iter().find(|(k, _)| *k == kind) {
            for (named, path) in IN_POD_SPEC {
                let Some(spec) = View::Tree(t).at(spec_path) else { break };
                if names_renamed(spec, named, path, &namespace) {
                    follow_at(t, named, &[*spec_path, *path].concat(), &namespace);
                }
            }
        }
        for (named, referrers, path) in ELSEWHERE {
            if index.kinds.contains(named) && referrers.contains(&kind.as_str()) {
                rename_at(t, named, path, &namespace);
            }
        }
        let file = t.file;
        for reference in extra {
            let named = reference.kind.as_str();
            fieldspec::apply_all(
                &reference.fields,
                t,
                (Create::Never, (file, Span::default())),
                &mut |field: &mut Tree| {
                    let follow = |f: &mut Tree| {
                        if let Some(r) = f.as_str().and_then(|old| new_name(named, old, &namespace))
                        {
                            *f = Tree::string(&r.new, r.file, r.span);
                        }
                    };
                    // A list of names (`spec/tls/hosts`): each is a reference.
                    match &mut field.value {
                        TValue::Seq(items) => items.iter_mut().for_each(follow),
                        _ => follow(field),
                    }
                    Ok(())
                },
            )
            .map_err(|m| format!("a `nameReference` to {named}: {m}"))?;
        }
        match kind.as_str() {
            "RoleBinding" | "ClusterRoleBinding" => {
                bindings(t, &namespace, &index.accounts, &new_name)?;
            }
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
                webhook_services(t, renames);
            }
            "APIService" => {
                if let Some(service) = t.get_mut("spec").and_then(|s| s.get_mut("service")) {
                    follow_service(service, renames);
                }
            }
            "HorizontalPodAutoscaler" => {
                let target = t
                    .at(&["spec", "scaleTargetRef", "kind"])
                    .and_then(Tree::as_str)
                    .unwrap_or("")
                    .to_string();
                rename_at(t, &target, &["spec", "scaleTargetRef", "name"], &namespace);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The Services a webhook configuration calls: they follow a rename and a move to another
/// namespace (kustomize's webhook service rule; an APIService's service too).
fn webhook_services(t: &mut Tree<'_>, renames: &[Rename]) {
    let Some(Tree { value: TValue::Seq(hooks), .. }) = t.get_mut("webhooks") else { return };
    for hook in hooks {
        if let Some(service) = hook.get_mut("clientConfig").and_then(|c| c.get_mut("service")) {
            follow_service(service, renames);
        }
    }
}

/// kustomize fixes references once more at the end of a build, from the ids objects had
/// (`nameref.Filter`, which only looks at objects a transformer changed): a webhook's Service
/// that, by that name and namespace, is now in another namespace is followed there — also when
/// the webhook came from another branch of the build than the Service's move (a base and an
/// overlay of it combined: kustomize issue 3732). Only moves are followed, and only to one
/// place; a renamed Service is left to the rename's own update.
pub(super) fn webhook_services_at_the_end(out: &mut [Tree<'_>]) {
    // (name, namespace it had, namespace now, where the namespace was set)
    let mut moved: Vec<(String, String, String, (u32, Span))> = Vec::new();
    for t in out.iter().filter(|t| t.get("kind").and_then(Tree::as_str) == Some("Service")) {
        let ids = super::kustomize::identities(t);
        let (name, now) = &ids[0];
        let Some(ns) = t.at(&["metadata", "namespace"]) else { continue };
        for (earlier, earlier_ns) in &ids[1..] {
            if earlier == name && earlier_ns != now {
                moved.push((name.clone(), earlier_ns.clone(), now.clone(), (ns.file, ns.span)));
            }
        }
    }
    if moved.is_empty() {
        return;
    }
    for t in out.iter_mut() {
        if !matches!(
            t.get("kind").and_then(Tree::as_str),
            Some("ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration")
        ) {
            continue;
        }
        let Some(Tree { value: TValue::Seq(hooks), .. }) = t.get_mut("webhooks") else { continue };
        for hook in hooks {
            let Some(service) = hook.get_mut("clientConfig").and_then(|c| c.get_mut("service"))
            else {
                continue;
            };
            let text = |key: &str| service.get(key).and_then(Tree::as_str).map(str::to_string);
            let (Some(name), Some(ns)) = (text("name"), text("namespace")) else { continue };
            let mut places = moved.iter().filter(|(n, before, _, _)| *n == name && *before == ns);
            let Some((_, _, now, (file, span))) = places.next() else { continue };
            if places.all(|(_, _, other, _)| other == now) {
                service.set("namespace", Tree::string(now, *file, *span));
            }
        }
    }
}

/// kustomize follows renames once, at the end of a build, from the names objects had
/// (`FixBackReferences`); this build follows each where its transformer renames, which misses a
/// reference that a kustomization above the rename adds (an overlay's Deployment naming its
/// base's ConfigMap by the name it had before the base's prefix: kustomize gives it the
/// prefixed name). Renames recorded in the objects are followed once more here, among objects
/// in the renamed object's namespace now, for a name no object of the kind has now: a reference
/// already followed names the new name, and a name another object still has is that object's
/// (kustomize tells them apart by the prefixes and suffixes each object took, which this build
/// does not record). Gives an error of a `nameReference` a kustomization configured.
pub(super) fn references_at_the_end(
    out: &mut [Tree<'_>],
    extra: &[NameReference],
) -> Result<(), String> {
    // Read without making the objects' loaded fields trees: this runs after every build.
    fn text<'t>(t: &'t Tree, path: &[&str]) -> Option<&'t str> {
        View::Tree(t).at(path).and_then(View::as_str)
    }
    let recorded = ["metadata", "annotations", super::kustomize::PREVIOUS_NAMES];
    let mut renamed = Vec::new();
    // ServiceAccounts a namespace transformer set (moved or not), under the name they have
    // now: the subjects that bindings of any kustomization name them by take their namespace,
    // as kustomize's filter writes it from the ids it recorded.
    let mut moved = Vec::new();
    for t in out.iter().filter(|t| text(t, &recorded).is_some()) {
        let ids = super::kustomize::identities(t);
        let Some(((name, now), earlier)) = ids.split_first() else { continue };
        let Some(at) = t.at(&["metadata", "name"]) else { continue };
        let kind = text(t, &["kind"]).unwrap_or("");
        renamed.extend(earlier.iter().filter(|(old, _)| old != name).map(|(old, _)| Rename {
            kind: kind.to_string(),
            namespace: now.clone(),
            old: old.clone(),
            new: name.clone(),
            new_namespace: None,
            file: at.file,
            span: at.span,
        }));
        let set = t.at(&["metadata", "namespace"]).filter(|_| kind == "ServiceAccount");
        if let (Some(ns), Some((_, before))) = (set, earlier.iter().find(|(old, _)| old == name)) {
            moved.push(Rename {
                kind: kind.to_string(),
                namespace: before.clone(),
                old: name.clone(),
                new: name.clone(),
                new_namespace: Some(now.clone()),
                file: ns.file,
                span: ns.span,
            });
        }
    }
    if renamed.is_empty() && moved.is_empty() {
        return Ok(());
    }
    let current: foldhash::HashSet<(&str, &str)> = out
        .iter()
        .filter_map(|t| Some((text(t, &["kind"])?, text(t, &["metadata", "name"])?)))
        .collect();
    renamed.retain(|r| !current.contains(&(r.kind.as_str(), r.old.as_str())));
    renamed.append(&mut moved);
    update(out, &renamed, extra)
}

/// A `{name, namespace}` reference to a Service follows its rename and move.
fn follow_service(service: &mut Tree<'_>, renames: &[Rename]) {
    let text = |key: &str| service.get(key).and_then(Tree::as_str).unwrap_or("").to_string();
    let (name, ns) = (text("name"), text("namespace"));
    let Some(r) =
        renames.iter().find(|r| r.kind == "Service" && r.old == name && r.namespace == ns)
    else {
        return;
    };
    if r.new != name {
        service.set("name", Tree::string(&r.new, r.file, r.span));
    }
    if let Some(moved) = &r.new_namespace {
        service.set("namespace", Tree::string(moved, r.file, r.span));
    }
}

/// A binding's role reference, and its subjects that name a renamed or moved ServiceAccount.
///
/// kustomize (`nameref`, its `subjects` field specs) looks at every subject, whatever its
/// kind (a `User` named like a ServiceAccount follows it too), among the ServiceAccounts of the
/// name: those of the subject's namespace when it gives one (the namespace they had or have
/// now), else those of a RoleBinding's namespace when there are any, else all. One is written
/// in, with its namespace; more than one is an error (kustomize's "found multiple possible
/// referrals").
fn bindings<'r>(
    t: &mut Tree<'_>,
    namespace: &str,
    accounts: &foldhash::HashMap<&str, Vec<&Rename>>,
    new_name: &dyn Fn(&str, &str, &str) -> Option<&'r Rename>,
) -> Result<(), String> {
    let role = |key: &str| View::Tree(t).at(&["roleRef", key]).and_then(View::as_str);
    let renamed_role =
        role("name").and_then(|old| new_name(role("kind").unwrap_or(""), old, namespace));
    if let Some(r) = renamed_role {
        if let Some(name) = t.get_mut("roleRef").and_then(|r| r.get_mut("name")) {
            *name = Tree::string(&r.new, r.file, r.span);
        }
    }
    // The subjects are made the build's own only when one is named like an account.
    let names_account = |subject: View<'_, '_>| {
        subject.at(&["name"]).and_then(View::as_str).is_some_and(|n| accounts.contains_key(n))
    };
    let Some(Shape::Seq(mut read)) = View::Tree(t).at(&["subjects"]).map(View::shape) else {
        return Ok(());
    };
    if !read.any(names_account) {
        return Ok(());
    }
    let cluster_binding = t.get("kind").and_then(Tree::as_str) == Some("ClusterRoleBinding");
    let Some(Tree { value: TValue::Seq(subjects), .. }) = t.get_mut("subjects") else {
        return Ok(());
    };
    // Namespaces compared as kustomize compares ids: none is `default`.
    let same = |a: &str, b: &str| effective_namespace(a, false) == effective_namespace(b, false);
    for s in subjects.iter_mut() {
        let Some(old) = s.get("name").and_then(Tree::as_str).map(str::to_string) else { continue };
        // A namespace written blank is left as it is: kustomize refuses it in a RoleBinding
        // (see `blank_subject_namespace`), and leaves it in a ClusterRoleBinding.
        if s.get("namespace").is_some_and(|n| n.as_str().is_none()) {
            continue;
        }
        let given = s.get("namespace").and_then(Tree::as_str).map(str::to_string);
        let mut candidates: Vec<&Rename> = accounts
            .get(old.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|r| {
                given.as_deref().is_none_or(|ns| {
                    same(&r.namespace, ns)
                        || r.new_namespace.as_deref().is_some_and(|n| same(n, ns))
                })
            })
            .collect();
        if given.is_none()
            && !cluster_binding
            && candidates.iter().any(|r| same(&r.namespace, namespace))
        {
            candidates.retain(|r| same(&r.namespace, namespace));
        }
        let to = |r: &Rename| {
            (r.new.clone(), r.new_namespace.clone().unwrap_or_else(|| r.namespace.clone()))
        };
        let mut outcomes: Vec<(String, String)> = candidates.iter().map(|r| to(r)).collect();
        outcomes.sort();
        outcomes.dedup();
        let Some(rename) = candidates.first() else { continue };
        if outcomes.len() > 1 {
            let ids: Vec<String> = outcomes
                .iter()
                .map(|(name, ns)| {
                    format!(
                        "ServiceAccount.v1.[noGrp]/{name}.{}",
                        // kustomize's spelling of an id (as `Id` writes it).
                        if ns.is_empty() || ns == "default" { "[noNs]" } else { ns }
                    )
                })
                .collect();
            return Err(format!(
                "found multiple possible referrals: {} (the subject `{old}` needs a namespace)",
                ids.join(", ")
            ));
        }
        let (new, new_ns) = to(rename);
        if new != old {
            s.set("name", Tree::string(&new, rename.file, rename.span));
        }
        if !new_ns.is_empty() && given.as_deref() != Some(new_ns.as_str()) {
            s.set("namespace", Tree::string(&new_ns, rename.file, rename.span));
            // A subject written without a namespace that a move gives one is checked again at
            // the end of the build (see [`ambiguous_subjects`]); the mark goes with the subject
            // (a patch that replaces the subjects drops it).
            if cluster_binding && given.is_none() && rename.new_namespace.is_some() {
                s.set(GIVEN_NAMESPACE, Tree::string("true", rename.file, rename.span));
            }
        }
    }
    Ok(())
}

/// Marks a ServiceAccount subject of a ClusterRoleBinding that had no namespace until a move
/// gave it one. Taken out of the output.
pub(super) const GIVEN_NAMESPACE: &str = "internal.mtk-lint/given-namespace";

/// kustomize resolves a binding's subjects once, at the end of the build, among the objects a
/// transformer changed: a ClusterRoleBinding's subject `sa` written without a namespace is
/// ambiguous when ServiceAccounts called `sa` were moved to two namespaces (two kustomizations
/// each moving theirs, combined), and kustomize refuses the build. Returns kustomize's message.
pub(super) fn ambiguous_subjects<'t, 'a>(out: &'t [Tree<'a>]) -> Option<(&'t Tree<'a>, String)> {
    let moved = |name: &str| -> Vec<&Tree> {
        out.iter()
            .filter(|t| t.get("kind").and_then(Tree::as_str) == Some("ServiceAccount"))
            .filter(|t| t.at(&["metadata", "name"]).and_then(Tree::as_str) == Some(name))
            .filter(|t| {
                t.at(&["metadata", "annotations", super::kustomize::PREVIOUS_NAMES]).is_some()
            })
            .collect()
    };
    for t in out {
        let Some(TValue::Seq(subjects)) = t.get("subjects").map(|s| &s.value) else { continue };
        for subject in subjects.iter().filter(|s| s.get(GIVEN_NAMESPACE).is_some()) {
            let Some(name) = subject.get("name").and_then(Tree::as_str) else { continue };
            let candidates = moved(name);
            let namespaces: Vec<Option<&str>> = candidates
                .iter()
                .map(|c| c.at(&["metadata", "namespace"]).and_then(Tree::as_str))
                .collect();
            if namespaces.iter().any(|ns| *ns != namespaces[0]) {
                let ids: Vec<String> =
                    candidates.iter().map(|c| super::kustomize::shown_id(c)).collect();
                let message = format!(
                    "found multiple possible referrals: {} (the subject `{name}` needs a namespace)",
                    ids.join(", ")
                );
                return Some((subject, message));
            }
        }
    }
    None
}

/// The lists of a pod spec that `@containers` stands for in a path.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Whether a string at `path` (as [`each`] walks it) satisfies `f`, read without making the
/// levels it passes the build's own.
fn any_at(at: View<'_, '_>, path: &[&str], f: &mut dyn FnMut(&str) -> bool) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return at.as_str().is_some_and(f);
    };
    match *first {
        "*" => match at.shape() {
            Shape::Seq(mut items) => items.any(|item| any_at(item, rest, f)),
            _ => false,
        },
        "@containers" => CONTAINER_LISTS
            .iter()
            .any(|key| at.field(key).is_some_and(|(_, child)| any_at(child, rest, f))),
        key => at.field(key).is_some_and(|(_, child)| any_at(child, rest, f)),
    }
}

/// Calls `f` on every node at `path` (`*`: each element of a list; `@containers`: each of
/// `containers`, `initContainers` and `ephemeralContainers`).
fn each<'a>(t: &mut Tree<'a>, path: &[&str], f: &mut dyn FnMut(&mut Tree<'a>)) {
    let Some((first, rest)) = path.split_first() else {
        f(t);
        return;
    };
    match *first {
        "*" => {
            if let TValue::Seq(items) = &mut t.value {
                for i in items.iter_mut() {
                    each(i, rest, f);
                }
            }
        }
        "@containers" => {
            for key in CONTAINER_LISTS {
                if let Some(child) = t.get_mut(key) {
                    each(child, rest, f);
                }
            }
        }
        key => {
            if let Some(child) = t.get_mut(key) {
                each(child, rest, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::render::tree::parse_trees as trees;

    #[test]
    fn fields_naming_a_renamed_object_follow_it_in_its_namespace() {
        let mut objects = trees(
            "kind: Deployment\nmetadata: {name: web, namespace: a}\nspec:\n  template:\n    spec:\n      serviceAccountName: runner\n      volumes: [{name: v, configMap: {name: settings}}]\n      containers:\n      - name: app\n        envFrom: [{secretRef: {name: creds}}]\n---\nkind: RoleBinding\nmetadata: {name: rb, namespace: a}\nroleRef: {kind: Role, name: reader}\nsubjects:\n- {kind: ServiceAccount, name: runner}\n- {kind: ServiceAccount, name: runner, namespace: b}\n---\nkind: Deployment\nmetadata: {name: other, namespace: b}\nspec: {template: {spec: {serviceAccountName: runner}}}\n",
        );
        let rename = |kind: &str, old: &str| Rename {
            kind: kind.into(),
            namespace: "a".into(),
            old: old.into(),
            new: format!("p-{old}"),
            new_namespace: None,
            file: 1,
            span: Span::default(),
        };
        let renames = [
            rename("ServiceAccount", "runner"),
            rename("ConfigMap", "settings"),
            rename("Role", "reader"),
        ];
        update(&mut objects, &renames, &[]).unwrap();
        let json: Vec<serde_json::Value> = objects.iter().map(Tree::to_json).collect();
        let pod = &json[0]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "p-runner");
        assert_eq!(pod["volumes"][0]["configMap"]["name"], "p-settings");
        assert_eq!(pod["containers"][0]["envFrom"][0]["secretRef"]["name"], "creds");
        assert_eq!(json[1]["roleRef"], json!({"kind": "Role", "name": "p-reader"}));
        assert_eq!(json[1]["subjects"][0]["name"], "p-runner");
        // A subject and a pod in another namespace name another ServiceAccount.
        assert_eq!(json[1]["subjects"][1]["name"], "runner");
        assert_eq!(json[2]["spec"]["template"]["spec"]["serviceAccountName"], "runner");
        // The renamed field points at what renamed it.
        let (_, origins) = objects[0].clone().into_node();
        assert!(origins
            .iter()
            .any(|o| &*o.pointer == "/spec/template/spec/serviceAccountName" && o.file == 1));
    }

    /// Objects that name no renamed object are read, not made the build's own: their levels
    /// stay shared with the loaded nodes (a fleet's overlays move every ServiceAccount and
    /// rename a generated ConfigMap, and most objects name neither).
    #[test]
    fn objects_naming_no_renamed_object_stay_as_loaded() {
        let text = "kind: Deployment\nmetadata: {name: web, namespace: a}\nspec:\n  template:\n    spec:\n      serviceAccountName: runner\n      containers:\n      - name: app\n        envFrom: [{configMapRef: {name: other}}]\n---\nkind: RoleBinding\nmetadata: {name: rb, namespace: a}\nroleRef: {kind: Role, name: reader}\nsubjects:\n- {kind: ServiceAccount, name: runner}\n";
        let rename = |kind: &str, old: &str, new: &str, moved: Option<&str>| Rename {
            kind: kind.into(),
            namespace: "a".into(),
            old: old.into(),
            new: new.into(),
            new_namespace: moved.map(str::to_string),
            file: 1,
            span: Span::default(),
        };
        let shared =
            |t: &Tree| matches!(&t.value, TValue::Map(fields) if fields.as_loaded().is_some());
        // A ConfigMap renamed that the Deployment does not name; a ServiceAccount moved.
        let mut objects = trees(text);
        let renames = [
            rename("ConfigMap", "settings", "settings-5f8k", None),
            rename("ServiceAccount", "runner", "runner", Some("b")),
        ];
        update(&mut objects, &renames, &[]).unwrap();
        assert!(shared(&objects[0]), "the Deployment was made the build's own");
        assert_eq!(objects[1].to_json()["subjects"][0]["namespace"], "b");
        // The ConfigMap it names renamed: the Deployment follows (and is no longer shared).
        let mut objects = trees(text);
        update(&mut objects, &[rename("ConfigMap", "other", "p-other", None)], &[]).unwrap();
        assert!(!shared(&objects[0]));
        let json = objects[0].to_json();
        let container = &json["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["envFrom"][0]["configMapRef"]["name"], "p-other");
        assert!(shared(&objects[1]), "the binding names no ConfigMap");
    }

    /// kustomize's other default references: cluster-scoped kinds named from anywhere, an
    /// APIService's Service (which also follows a move), an Ingress annotation.
    #[test]
    fn storage_classes_ingress_classes_policies_and_api_services_follow_renames() {
        let mut objects = trees(
            "kind: PersistentVolumeClaim\nmetadata: {name: data, namespace: a}\nspec: {storageClassName: fast, volumeName: pv1}\n---\nkind: Ingress\nmetadata: {name: i, namespace: a, annotations: {nginx.ingress.kubernetes.io/auth-secret: creds}}\nspec: {ingressClassName: nginx}\n---\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec: {policyName: policy}\n---\nkind: APIService\nmetadata: {name: v1.metrics}\nspec: {service: {name: metrics, namespace: a}}\n",
        );
        let rename = |kind: &str, namespace: &str, old: &str| Rename {
            kind: kind.into(),
            namespace: namespace.into(),
            old: old.into(),
            new: format!("p-{old}"),
            new_namespace: (kind == "Service").then(|| "b".to_string()),
            file: 1,
            span: Span::default(),
        };
        let renames = [
            rename("StorageClass", "", "fast"),
            rename("PersistentVolume", "", "pv1"),
            rename("IngressClass", "", "nginx"),
            rename("Secret", "a", "creds"),
            rename("ValidatingAdmissionPolicy", "", "policy"),
            rename("Service", "a", "metrics"),
        ];
        update(&mut objects, &renames, &[]).unwrap();
        let json: Vec<serde_json::Value> = objects.iter().map(Tree::to_json).collect();
        assert_eq!(json[0]["spec"], json!({"storageClassName": "p-fast", "volumeName": "p-pv1"}));
        assert_eq!(json[1]["spec"]["ingressClassName"], "p-nginx");
        assert_eq!(
            json[1]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"],
            "p-creds"
        );
        assert_eq!(json[2]["spec"]["policyName"], "p-policy");
        assert_eq!(json[3]["spec"]["service"], json!({"name": "p-metrics", "namespace": "b"}));
        // A build that only moved the Service (no rename at all): the APIService follows it.
        let mut objects = trees("kind: APIService\nmetadata: {name: v1.metrics}\nspec: {service: {name: metrics, namespace: a}}\n");
        let moved = Rename { new: "metrics".into(), ..rename("Service", "a", "metrics") };
        update(&mut objects, &[moved], &[]).unwrap();
        let service = objects[0].to_json()["spec"]["service"].clone();
        assert_eq!(service, json!({"name": "metrics", "namespace": "b"}));
    }

    /// A cluster-scoped referrer names an object of any namespace: a CRD's conversion webhook
    /// follows the one Service of that name a build renamed (through a `nameReference` a
    /// `configurations` file adds).
    #[test]
    fn cluster_scoped_referrers_follow_the_one_renamed_object_of_that_name() {
        use crate::render::fieldspec::FieldSpec;
        let mut objects = trees(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: w.example.com}\nspec: {conversion: {webhook: {clientConfig: {service: {name: hook, namespace: system}}}}}\n",
        );
        let reference = NameReference {
            group: String::new(),
            kind: "Service".into(),
            fields: vec![FieldSpec {
                group: "apiextensions.k8s.io".into(),
                version: "".into(),
                kind: "CustomResourceDefinition".into(),
                path: "spec/conversion/webhook/clientConfig/service/name".into(),
                create: false,
            }],
        };
        let renames = [Rename {
            kind: "Service".into(),
            namespace: "team".into(),
            old: "hook".into(),
            new: "p-hook".into(),
            new_namespace: None,
            file: 1,
            span: Span::default(),
        }];
        update(&mut objects, &renames, &[reference]).unwrap();
        let service =
            &objects[0].to_json()["spec"]["conversion"]["webhook"]["clientConfig"]["service"];
        assert_eq!(service["name"], "p-hook");
    }

    #[test]
    fn each_name_of_a_list_of_names_follows_a_rename() {
        use crate::render::fieldspec::FieldSpec;
        let mut objects = trees(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: a}\nspec: {tls: [{hosts: [web-host, other-host]}]}\n",
        );
        let reference = NameReference {
            group: String::new(),
            kind: "IngressHost".into(),
            fields: vec![FieldSpec {
                group: "".into(),
                version: "".into(),
                kind: "Ingress".into(),
                path: "spec/tls/hosts".into(),
                create: false,
            }],
        };
        let renames = [Rename {
            kind: "IngressHost".into(),
            namespace: "a".into(),
            old: "web-host".into(),
            new: "p-web-host".into(),
            new_namespace: None,
            file: 1,
            span: Span::default(),
        }];
        update(&mut objects, &renames, &[reference]).unwrap();
        assert_eq!(
            objects[0].to_json()["spec"]["tls"][0]["hosts"],
            json!(["p-web-host", "other-host"])
        );
        // The new name comes from where the rename was made; the other stays where it was.
        let hosts = objects[0].at(&["spec", "tls"]).and_then(|t| match &t.value {
            TValue::Seq(items) => items[0].get("hosts"),
            _ => None,
        });
        let TValue::Seq(hosts) = &hosts.unwrap().value else { panic!("hosts is a list") };
        assert_eq!((hosts[0].file, hosts[1].file), (1, 0));
    }

    /// A ServiceAccount written without a namespace is in `default` as kustomize compares ids:
    /// a binding's subject that names it in `default` follows it when the build moves it, and
    /// a subject without a namespace follows one written in `default` (as kustomize 5.5 builds
    /// this tree; Kubeflow's KubeRay bindings name `default`).
    #[test]
    fn a_subject_in_default_follows_a_service_account_written_without_a_namespace() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "r.yaml",
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: op}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: other, namespace: default}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects:\n- {kind: ServiceAccount, name: op, namespace: default}\n- {kind: ServiceAccount, name: other}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- {kind: ServiceAccount, name: other}\n- {kind: ServiceAccount, name: op, namespace: default}\n",
                ),
                ("kustomization.yaml", "namespace: team\nresources: [r.yaml]\n"),
            ],
        );
        let out = build(&Disk::new(dir.path()), std::path::Path::new(".")).unwrap();
        for kind in ["ClusterRoleBinding", "RoleBinding"] {
            let binding = out.iter().find(|t| t.get("kind").and_then(Tree::as_str) == Some(kind));
            let subjects = binding.unwrap().to_json()["subjects"].clone();
            let namespaces: Vec<&str> = subjects
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["namespace"].as_str())
                .collect();
            assert_eq!(namespaces, ["team", "team"], "{kind}: {subjects}");
        }
    }

    /// The subjects of a binding that name a ServiceAccount the build renames or moves, as
    /// kustomize 5.5 builds these trees (checked with `kubectl kustomize`): a subject of any
    /// kind follows it with its namespace; one written with another namespace names another;
    /// a RoleBinding's subject without a namespace names the one of the binding's namespace
    /// when there is one; a ServiceAccount already in the build's namespace is moved too.
    #[test]
    fn every_subject_that_names_a_renamed_service_account_takes_its_name_and_namespace() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let subjects = |out: &[Tree], name: &str| -> Vec<(String, String, String)> {
            let binding = out
                .iter()
                .find(|t| t.at(&["metadata", "name"]).and_then(Tree::as_str) == Some(name))
                .unwrap();
            let json = binding.to_json();
            json["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
                    (text("kind"), text("name"), text("namespace"))
                })
                .collect()
        };
        let row = |k: &str, n: &str, ns: &str| (k.to_string(), n.to_string(), ns.to_string());
        let dir = tempfile::tempdir().unwrap();
        // Writes the files, then builds the kustomization in `at`.
        let built = |files: &[(&str, &str)], at: &str| {
            write(dir.path(), files);
            build(&Disk::new(dir.path()), std::path::Path::new(at))
        };
        let crb = |subjects: &str| {
            format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: crb}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}\nsubjects:\n{subjects}")
        };
        let account = |ns: &str| {
            format!("apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: robot{ns}}}\n")
        };
        let accounts = format!(
            "{}---\n{}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: bare}}\n",
            account(", namespace: team"),
            account(", namespace: team2")
        );
        let rb = "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: team}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {kind: ServiceAccount, name: robot}\n";
        let others = "- {kind: ServiceAccount, name: robot, namespace: team2}\n- {kind: ServiceAccount, name: robot, namespace: other}\n- {kind: User, name: bare, namespace: x}\n";
        let bindings = crb(&format!("- {{kind: User, name: bare}}\n{others}")) + rb;
        let prefixed = "namePrefix: p-\nresources: [a.yaml, b.yaml]\n";
        let files = [
            ("a.yaml", accounts.as_str()),
            ("b.yaml", &bindings),
            ("kustomization.yaml", prefixed),
        ];
        let out = built(&files, ".").unwrap();
        assert_eq!(
            subjects(&out, "p-crb"),
            [
                row("User", "p-bare", ""),
                row("ServiceAccount", "p-robot", "team2"),
                row("ServiceAccount", "robot", "other"),
                row("User", "bare", "x"),
            ]
        );
        assert_eq!(subjects(&out, "p-rb"), [row("ServiceAccount", "p-robot", "team")]);

        // Two ServiceAccounts a subject without a namespace could name: kustomize refuses it.
        let ambiguous = crb(&format!("- {{kind: ServiceAccount, name: robot}}\n{others}")) + rb;
        let error = built(&[("b.yaml", &ambiguous)], ".").unwrap_err();
        assert!(
            error.message.contains("found multiple possible referrals: ServiceAccount.v1.[noGrp]/p-robot.team, ServiceAccount.v1.[noGrp]/p-robot.team2"),
            "{error}"
        );

        // A subject whose namespace is written blank is left as written: a ClusterRoleBinding
        // keeps it, a RoleBinding is refused at its line (as kustomize refuses it).
        let blank = "- {kind: ServiceAccount, name: robot, namespace: }\n";
        let out = built(&[("b.yaml", &crb(blank))], ".").unwrap();
        assert_eq!(subjects(&out, "p-crb"), [row("ServiceAccount", "robot", "")]);
        let refused = rb.replace("name: robot}", "name: robot, namespace: }");
        let error = built(&[("b.yaml", &refused)], ".").unwrap_err();
        assert!(error.message.contains("namespace is blank"), "{error}");

        // A namespace the account already has still moves it: the subjects take it.
        let bare = "- {kind: ServiceAccount, name: robot}\n- {kind: User, name: robot}\n";
        let files = [
            ("a.yaml", account(", namespace: x")),
            ("b.yaml", crb(bare)),
            ("kustomization.yaml", "namespace: x\nresources: [a.yaml, b.yaml]\n".into()),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let out = built(&files, ".").unwrap();
        assert_eq!(
            subjects(&out, "crb"),
            [row("ServiceAccount", "robot", "x"), row("User", "robot", "x")]
        );

        // A binding an overlay adds above the base that moved the account: its subjects take
        // the namespace too (kustomize writes it from the ids it recorded, at the end).
        let above =
            crb(&format!("{bare}- {{kind: ServiceAccount, name: robot, namespace: other}}\n"));
        let unset = account("");
        let files = [
            ("base/a.yaml", unset.as_str()),
            ("base/kustomization.yaml", "namespace: team\nresources: [a.yaml]\n"),
            ("ov/b.yaml", &above),
            ("ov/kustomization.yaml", "resources: [../base, b.yaml]\n"),
        ];
        let out = built(&files, "ov").unwrap();
        assert_eq!(
            subjects(&out, "crb"),
            [
                row("ServiceAccount", "robot", "team"),
                row("User", "robot", "team"),
                row("ServiceAccount", "robot", "other"),
            ]
        );
    }
}
