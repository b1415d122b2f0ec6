//! The `policies.kyverno.io` MutatingPolicy (and NamespacedMutatingPolicy): Kubernetes'
//! MutatingAdmissionPolicy shape — `matchConstraints`, `matchConditions`, `variables` and
//! `mutations` — evaluated offline. A mutation is a CEL expression that gives either an apply
//! configuration (`Object{…}`, merged into the object as server-side apply merges: maps field
//! by field, lists with a merge key element by element, other lists replaced) or a list of
//! `JSONPatch{…}` operations; each mutation sees the object the previous ones left.
//!
//! Matching, conditions and variables are those of [`CelPolicy`] (`vpol.rs`); autogen follows
//! Kyverno's for MutatingPolicies: the conditions and apply configurations are rewritten for
//! the pod template of each controller (variables and JSON patches are not).

use crate::pointer::Pointer as _;
use serde_json::Value;

use super::compile::err;
use super::mutate::json_patch;
use super::vpol::{response, CelPolicy, Role, Variants};
use super::{cel, PolicyError, Request, RuleResponse, Status};
use crate::engine::cel::admission::{Compiled, Outcome, Program};
use crate::engine::cel::Val;
use crate::load::Node;
use crate::render::patch::{builtin_type, Keys};

/// One mutation.
#[derive(Clone, Debug)]
struct Mutation {
    /// `ApplyConfiguration` (else `JSONPatch`).
    apply_configuration: bool,
    expr: Compiled,
}

/// The mutations of a MutatingPolicy.
#[derive(Clone, Debug)]
pub(super) struct Mutations {
    plain: Vec<Mutation>,
    /// The mutations of each autogen variant (as [`CelPolicy`]'s `autogen`, index by index).
    autogen: Vec<Vec<Mutation>>,
    /// `evaluation.admission.enabled` is not false: the policy mutates at admission.
    admission: bool,
    /// `evaluation.mutateExisting` is enabled (or `targetMatchConstraints` given): the policy
    /// patches other objects when a trigger is admitted, which is not run yet: such a
    /// policy answers an error, never mutates only part of what it would.
    existing: bool,
    /// A Kubernetes MutatingAdmissionPolicy: its apply configurations merge with a schema
    /// deduced from the object (every list replaced), as the API server's does.
    deduced: bool,
}

/// Controllers autogen serves, by the name a policy gives them, and the pod template they
/// have (the default for all: every one).
const CONTROLLERS: &[(&str, &str, bool)] = &[
    ("daemonsets", "DaemonSet", false),
    ("deployments", "Deployment", false),
    ("jobs", "Job", false),
    ("replicasets", "ReplicaSet", false),
    ("statefulsets", "StatefulSet", false),
    ("cronjobs", "CronJob", true),
];

/// Compiles the mutations of a MutatingPolicy whose matching `policy` holds, and the autogen
/// variants (the kinds and program of each).
pub(super) fn compile(
    policy: &CelPolicy,
    spec: &Node,
    kubernetes: bool,
) -> Result<(Mutations, Variants), PolicyError> {
    let list = spec.get("mutations").ok_or_else(|| err(spec, "spec.mutations is missing"))?;
    let items = list.as_seq().ok_or_else(|| err(list, "spec.mutations must be a list"))?;
    let mut plain = Vec::new();
    for (i, m) in items.iter().enumerate() {
        let patch_type = m.get("patchType").and_then(Node::as_str).unwrap_or("");
        let (key, apply_configuration) = match patch_type {
            "ApplyConfiguration" => ("applyConfiguration", true),
            "JSONPatch" => ("jsonPatch", false),
            other => {
                let at = m.get("patchType").unwrap_or(m);
                return Err(err(at, format!("mutations[{i}]: unknown patchType `{other}`")));
            }
        };
        let node = m
            .at(&[key, "expression"])
            .ok_or_else(|| err(m, format!("mutations[{i}] has no {key}.expression")))?;
        let expr = crate::engine::cel::admission::compile(node, &format!("mutations[{i}]"))
            .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
        plain.push(Mutation { apply_configuration, expr });
    }
    let admission =
        spec.at(&["evaluation", "admission", "enabled"]).and_then(Node::as_bool) != Some(false);
    let existing = spec.at(&["evaluation", "mutateExisting", "enabled"]).and_then(Node::as_bool)
        == Some(true)
        || spec.get("targetMatchConstraints").is_some();
    let mut variants = Vec::new();
    let mut autogen = Vec::new();
    // Kubernetes makes no policy for pod controllers.
    if !kubernetes && can_autogen(policy, spec) {
        let configured = spec.at(&["autogen", "podControllers", "controllers"]);
        let wanted: Vec<&str> = match configured.and_then(Node::as_seq) {
            Some(list) => list.iter().filter_map(Node::as_str).collect(),
            None => CONTROLLERS.iter().map(|c| c.0).collect(),
        };
        for cronjob in [false, true] {
            let kinds: Vec<String> = CONTROLLERS
                .iter()
                .filter(|(name, _, cron)| *cron == cronjob && wanted.contains(name))
                .map(|(_, kind, _)| (*kind).to_string())
                .collect();
            if kinds.is_empty() {
                continue;
            }
            let (program, mutations) = for_controllers(&policy.program, &plain, cronjob)
                .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
            variants.push((kinds, program));
            autogen.push(mutations);
        }
    }
    Ok((Mutations { plain, autogen, admission, existing, deduced: kubernetes }, variants))
}

/// Kyverno generates a MutatingPolicy for pod controllers when it matches exactly the core
/// `v1` `pods`, by no name, excluding nothing, with no object selector.
fn can_autogen(policy: &CelPolicy, spec: &Node) -> bool {
    let selector_empty = spec.at(&["matchConstraints", "objectSelector"]).is_none_or(|s| {
        s.get("matchLabels").and_then(Node::as_map).is_none_or(<[_]>::is_empty)
            && s.get("matchExpressions").and_then(Node::as_seq).is_none_or(<[_]>::is_empty)
    });
    let [rule] = &policy.rules[..] else { return false };
    selector_empty
        && policy.exclude.is_empty()
        && spec
            .at(&["matchConstraints", "resourceRules"])
            .and_then(Node::as_seq)
            .is_some_and(|rules| rules.iter().all(|r| r.get("resourceNames").is_none()))
        && rule.groups == [""]
        && rule.versions == ["v1"]
        && rule.resources == ["pods"]
}

/// The conditions and mutations of the policy for pod controllers, as Kyverno rewrites them:
/// `object.spec` (and `oldObject.spec`, and the `Object.spec` of apply configurations) and the
/// labels and annotations of `metadata` move to the pod template; an apply configuration
/// `Object{…}` is wrapped to reach it. Variables and JSON patches are kept as written.
fn for_controllers(
    program: &Program,
    mutations: &[Mutation],
    cronjob: bool,
) -> Result<(Program, Vec<Mutation>), crate::engine::cel::admission::CompileError> {
    let template = if cronjob { "spec.jobTemplate.spec.template" } else { "spec.template" };
    let mut replacements: Vec<(String, String)> = Vec::new();
    for root in ["object", "oldObject", "Object"] {
        replacements.push((format!("{root}.spec"), format!("{root}.{template}.spec")));
        for field in ["labels", "annotations"] {
            replacements.push((
                format!("{root}.metadata.{field}"),
                format!("{root}.{template}.metadata.{field}"),
            ));
        }
    }
    let pairs: Vec<(&str, &str)> =
        replacements.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let conditions = program
        .conditions
        .iter()
        .map(|(name, c)| Ok((name.clone(), c.rewritten(&pairs)?)))
        .collect::<Result<_, _>>()?;
    let rewritten =
        Program { conditions, variables: program.variables.clone(), validations: Vec::new() };
    let mutations = mutations
        .iter()
        .map(|m| {
            if !m.apply_configuration {
                return Ok(m.clone());
            }
            let moved = m.expr.rewritten(&pairs)?;
            let expr = match wrap_object(&moved.text, cronjob) {
                Some(text) => moved.with_text(text)?,
                None => moved,
            };
            Ok(Mutation { apply_configuration: true, expr })
        })
        .collect::<Result<_, _>>()?;
    Ok((rewritten, mutations))
}

/// `Object{…}` wrapped in the objects down to the pod template (Kyverno finds the closing brace
/// by counting braces); `None` when the expression does not start with `Object{`.
fn wrap_object(text: &str, cronjob: bool) -> Option<String> {
    let rest = text.trim().strip_prefix("Object")?;
    let content = rest.trim_start().strip_prefix('{')?;
    let mut depth = 1;
    let mut end = None;
    for (i, c) in content.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.filter(|e| *e > 0)?;
    let (inner, after) = (&content[..end], &content[end + 1..]);
    let (open, close) = if cronjob {
        ("Object{spec: Object.spec{jobTemplate: Object.spec.jobTemplate{spec: Object.spec.jobTemplate.spec{template: Object.spec.jobTemplate.spec.template{", "}}}}}")
    } else {
        ("Object{spec: Object.spec{template: Object.spec.template{", "}}}")
    };
    Some(format!("{open}{inner}{close}{after}"))
}

impl CelPolicy {
    /// Runs a MutatingPolicy on a resource: its response (none when it does not match) and the
    /// patched resource when its mutations ran. As in Kyverno, a policy whose conditions hold
    /// passes ("success") whether or not its mutations changed anything.
    pub(super) fn mutate(
        &self,
        resource: &Value,
        request: &Request<'_>,
    ) -> (Vec<RuleResponse>, Option<Value>) {
        let Role::Mutate(m) = &self.role else { return (Vec::new(), None) };
        if !m.admission {
            return (Vec::new(), None);
        }
        let (program, variant) = match self.select(resource, request) {
            Ok(Some(selected)) => selected,
            Ok(None) => return (Vec::new(), None),
            Err(e) => return (vec![response(Status::Error, e)], None),
        };
        if m.existing {
            let why = "a MutatingPolicy with `mutateExisting` (targetMatchConstraints) is not supported yet";
            return (vec![response(Status::Error, why.into())], None);
        }
        let mutations = variant.map_or(&m.plain, |i| &m.autogen[i]);
        let failed = |e: String| RuleResponse {
            rule: "evaluation".into(),
            status: Status::Error,
            message: format!("failed to evaluate policy: {e}"),
            path: None,
        };
        let adm = super::policy::admission(resource, request);
        let mut vars = cel::activation(resource, request, &adm);
        let host = cel::ClusterHost { cluster: request.cluster };
        // A MutatingAdmissionPolicy's binding may give `params`: the mutations run once per
        // parameter object, each on what the previous left.
        let params: Vec<Option<Value>> = match &self.params {
            None => vec![None],
            Some(spec) => match spec.resolve(&adm, request.cluster) {
                Err(e) => return (vec![failed(format!("paramRef: {e}"))], None),
                Ok(found) if found.is_empty() && spec.allow_missing => {
                    let why = format!("no {} (parameterNotFoundAction: Allow)", spec.describe());
                    return (vec![response(Status::Skip, why)], None);
                }
                Ok(found) if found.is_empty() => {
                    let why = format!("no params found: {} is not in the tree", spec.describe());
                    return (vec![failed(why)], None);
                }
                Ok(found) => found.into_iter().map(Some).collect(),
            },
        };
        let mut object = resource.clone();
        // The activation has the object as it came; after a mutation, the object it made.
        let mut changed = false;
        for param in params {
            if let Some(p) = &param {
                vars.insert("params".into(), Val::from_json(p));
            }
            if changed {
                vars.insert("object".into(), Val::from_json(&object));
            }
            match program.run(&vars, &request.limits, Some(&host), (false, false)) {
                Outcome::NotMatched(_) => {
                    return (vec![response(Status::Skip, "skip".into())], None);
                }
                Outcome::Error(e) => return (vec![failed(e)], None),
                Outcome::Pass | Outcome::Fail(..) => {}
            }
            for mutation in mutations {
                if changed {
                    vars.insert("object".into(), Val::from_json(&object));
                }
                changed = true;
                let applied = program
                    .evaluate(&mutation.expr, &vars, &request.limits, Some(&host))
                    .and_then(|value| mutation.apply(&mut object, &value, m.deduced));
                if let Err(e) = applied {
                    return (vec![failed(e)], None);
                }
            }
        }
        (vec![response(Status::Pass, "success".into())], Some(object))
    }
}

impl Mutation {
    /// Applies what the mutation's expression gave to the object.
    fn apply(&self, object: &mut Value, value: &Val, deduced: bool) -> Result<(), String> {
        if self.apply_configuration {
            let Val::Map(_) = value else {
                return Err(format!(
                    "an ApplyConfiguration expression must give an `Object{{…}}`, not a `{}`",
                    value.type_name()
                ));
            };
            let patch = value.to_json()?;
            let s = |p: &str| object.at(p).and_then(Value::as_str).unwrap_or("").to_string();
            let api_version = s("/apiVersion");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
            let keys = if deduced {
                Keys::None
            } else {
                builtin_type(group, version, &s("/kind")).map_or(Keys::None, Keys::Builtin)
            };
            merge(object, &patch, keys);
            return Ok(());
        }
        let Val::List(items) = value else {
            return Err(format!(
                "a JSONPatch expression must give a list of `JSONPatch{{…}}`, not a `{}`",
                value.type_name()
            ));
        };
        let ops: Vec<Value> = items.iter().map(Val::to_json).collect::<Result<_, _>>()?;
        json_patch::apply(object, &ops, json_patch::Mode::Kubernetes)
            .map_err(|e| format!("JSON Patch: {e}"))
    }
}

/// Merges an apply configuration into an object: mappings field by field, lists whose
/// elements have a merge key element by element (new ones appended), other values replaced.
fn merge(target: &mut Value, patch: &Value, keys: Keys<'_>) {
    let (Value::Object(fields), Value::Object(patch_fields)) = (&mut *target, patch) else {
        *target = patch.clone();
        return;
    };
    for (key, value) in patch_fields {
        let Some(existing) = fields.get_mut(key) else {
            fields.insert(key.clone(), value.clone());
            continue;
        };
        match (existing, value, keys.list_key(key)) {
            (Value::Array(items), Value::Array(new), Some(merge_key)) => {
                let child = keys.child(key);
                for element in new {
                    let id = element.get(merge_key);
                    match items.iter_mut().find(|e| id.is_some() && e.get(merge_key) == id) {
                        Some(found) => merge(found, element, child),
                        None => items.push(element.clone()),
                    }
                }
            }
            (existing, value, _) => merge(existing, value, keys.child(key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::policy;
    use super::super::{Request, Status};

    const MPOL: &str = r#"
apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: pull-always}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ['']
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  matchConditions:
  - name: not-system
    expression: "object.metadata.namespace != 'kube-system'"
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >
        Object{spec: Object.spec{containers: object.spec.containers.map(c,
          Object.spec.containers{name: c.name, imagePullPolicy: "Always"})}}
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        [JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/pulled"), value: "yes"}]
"#;

    fn pod(ns: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": ns, "labels": {"app": "a"}},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}})
    }

    #[test]
    fn apply_configurations_and_json_patches_mutate_in_order() {
        let p = policy(MPOL);
        let out = p.mutate(&pod("apps"), &Request::default());
        assert_eq!(out.responses.len(), 1);
        assert_eq!(out.responses[0].status, Status::Pass, "{:?}", out.responses);
        let containers = &out.patched["spec"]["containers"];
        assert_eq!(containers[0], json!({"name": "a", "image": "x", "imagePullPolicy": "Always"}));
        assert_eq!(containers[1]["imagePullPolicy"], "Always");
        assert_eq!(out.patched["metadata"]["labels"]["example.com/pulled"], "yes");
        // A condition that does not hold: skip, nothing changed.
        let out = p.mutate(&pod("kube-system"), &Request::default());
        assert_eq!(out.responses[0].status, Status::Skip);
        assert_eq!(out.patched, pod("kube-system"));
    }

    #[test]
    fn autogen_reaches_the_pod_template() {
        let p = policy(MPOL);
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "apps"},
            "spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let out = p.mutate(&deploy, &Request::default());
        assert_eq!(
            out.responses[0].status,
            Status::Error,
            "the JSON patch is not rewritten: {:?}",
            out.responses
        );
        let apply_only = MPOL.split("  - patchType: JSONPatch").next().unwrap();
        let out = policy(apply_only).mutate(&deploy, &Request::default());
        assert_eq!(out.responses[0].status, Status::Pass, "{:?}", out.responses);
        assert_eq!(
            out.patched["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Always"
        );
    }

    /// A MutatingPolicy that mutates existing objects is an error on its triggers, never a
    /// policy that quietly mutates only the trigger.
    #[test]
    fn mutate_existing_is_an_error_not_a_partial_mutation() {
        let existing = MPOL.replace(
            "  matchConditions:",
            "  evaluation: {mutateExisting: {enabled: true}}\n  matchConditions:",
        );
        let out = policy(&existing).mutate(&pod("apps"), &Request::default());
        assert_eq!(out.responses[0].status, Status::Error, "{:?}", out.responses);
        assert!(out.responses[0].message.contains("`mutateExisting`"), "{:?}", out.responses);
        assert_eq!(out.patched, pod("apps"));
    }
}
