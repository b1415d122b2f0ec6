//! The `policies.kyverno.io` ValidatingPolicy (and NamespacedValidatingPolicy): Kubernetes'
//! ValidatingAdmissionPolicy shape — `matchConstraints`, `matchConditions`, `variables`,
//! `validations`, `validationActions`, `failurePolicy` — with Kyverno's autogen for pod
//! controllers and its CEL libraries, evaluated offline (kyverno-compat.md, 16).

use std::collections::BTreeMap;

use serde_json::Value;

use super::compile::err;
use super::matching::{selector_matches, Admission};
use super::{cel, PolicyError, Request, RuleResponse, Status};
use crate::engine::cel::admission::{Outcome, Program};
use crate::load::Node;

/// One `resourceRules` (or `excludeResourceRules`) entry.
#[derive(Clone, Debug, Default)]
pub(super) struct ResourceRule {
    pub(super) groups: Vec<String>,
    pub(super) versions: Vec<String>,
    pub(super) operations: Vec<String>,
    pub(super) resources: Vec<String>,
    names: Vec<String>,
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::as_seq)
        .map(|items| items.iter().filter_map(Node::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn any_of(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(value))
}

impl ResourceRule {
    fn from_node(n: &Node) -> Self {
        ResourceRule {
            groups: strings(n.get("apiGroups")),
            versions: strings(n.get("apiVersions")),
            operations: strings(n.get("operations")),
            resources: strings(n.get("resources")),
            names: strings(n.get("resourceNames")),
        }
    }

    fn matches(&self, adm: &Admission<'_>, plural: &str) -> bool {
        // `pods/status` names a subresource; linted objects are never one.
        let resource_ok = self.resources.iter().any(|r| r == "*" || r == plural || r == "*/*");
        any_of(&self.groups, adm.group)
            && any_of(&self.versions, adm.version)
            && resource_ok
            && (self.operations.is_empty() || any_of(&self.operations, adm.operation))
            && (self.names.is_empty() || self.names.iter().any(|n| n == adm.name))
    }
}

/// Programs autogen made for pod controllers: the kinds each serves, and the program.
pub(super) type Variants = Vec<(Vec<String>, Program)>;

/// A compiled ValidatingPolicy.
#[derive(Clone, Debug)]
pub(super) struct CelPolicy {
    pub(super) rules: Vec<ResourceRule>,
    pub(super) exclude: Vec<ResourceRule>,
    namespace_selector: Option<Value>,
    pub(super) object_selector: Option<Value>,
    pub(super) program: Program,
    /// The program rewritten for pod controllers, and the controllers it serves.
    pub(super) autogen: Variants,
    /// Only `Warn` among the validation actions: failures are warnings.
    pub(super) warn_only: bool,
    /// `Deny` among the validation actions.
    pub(super) deny: bool,
    /// failurePolicy `Ignore`: an expression that cannot be evaluated is an error, not a failure.
    pub(super) errors_ignored: bool,
    /// NamespacedValidatingPolicy: only its own namespace.
    namespace: Option<String>,
    /// What the policy does with a resource it matches.
    pub(super) role: Role,
    /// A ValidatingAdmissionPolicy's binding: what else it matches (`matchResources`).
    pub(super) binding: Option<Box<Matcher>>,
    /// The `params` objects (a ValidatingAdmissionPolicy's `paramKind` and its binding's
    /// `paramRef`): the validations run once per object.
    pub(super) params: Option<cel::ParamSpec>,
}

/// Resource rules and selectors (a binding's `matchResources`).
#[derive(Clone, Debug, Default)]
pub(super) struct Matcher {
    pub(super) rules: Vec<ResourceRule>,
    pub(super) exclude: Vec<ResourceRule>,
    pub(super) namespace_selector: Option<Value>,
    pub(super) object_selector: Option<Value>,
}

impl Matcher {
    /// Reads a `matchResources` (or `matchConstraints`) node; no resource rules match every
    /// resource (a binding restricts only with what it names).
    pub(super) fn from_node(n: &Node) -> Matcher {
        let list = |key: &str| -> Vec<ResourceRule> {
            n.get(key)
                .and_then(Node::as_seq)
                .map(|items| items.iter().map(ResourceRule::from_node).collect())
                .unwrap_or_default()
        };
        Matcher {
            rules: list("resourceRules"),
            exclude: list("excludeResourceRules"),
            namespace_selector: n.get("namespaceSelector").map(Node::to_json),
            object_selector: n.get("objectSelector").map(Node::to_json),
        }
    }

    fn matches(&self, adm: &Admission<'_>, plural: &str) -> Result<bool, String> {
        if !self.rules.is_empty() && !self.rules.iter().any(|r| r.matches(adm, plural)) {
            return Ok(false);
        }
        if self.exclude.iter().any(|r| r.matches(adm, plural)) {
            return Ok(false);
        }
        selectors(self.namespace_selector.as_ref(), self.object_selector.as_ref(), adm)
    }
}

/// What a CEL policy does.
#[derive(Clone, Debug)]
pub(super) enum Role {
    /// ValidatingPolicy: its program's validations.
    Validate,
    /// MutatingPolicy: its mutations.
    Mutate(super::mpol::Mutations),
    /// GeneratingPolicy: its generate expressions.
    Generate(super::gpol::Generations),
    /// DeletingPolicy: its conditions select what it deletes.
    Delete,
    /// ImageValidatingPolicy: its validations, over the resource's images.
    VerifyImages(Box<super::ivpol::Images>),
}

impl Role {
    /// Whether the policy gives a response per resource (validates, verifies images or
    /// deletes), rather than mutating or generating at admission.
    pub(super) fn responds(&self) -> bool {
        matches!(self, Role::Validate | Role::Delete | Role::VerifyImages(_))
    }
}

const PLAIN_CONTROLLERS: &[&str] =
    &["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController"];

/// Compiles the spec of a ValidatingPolicy (or of a MutatingPolicy or GeneratingPolicy: its
/// matching, conditions and variables here, its mutations in `mpol`, its generations in
/// `gpol`).
pub(super) fn compile(root: &Node, kind: &str) -> Result<CelPolicy, PolicyError> {
    let spec = root.get("spec").ok_or_else(|| err(root, "policy has no spec"))?;
    if kind.ends_with("ImageValidatingPolicy") {
        super::ivpol::kubernetes_mode(spec)?;
    }
    let constraints = spec.get("matchConstraints");
    let rule_list = |key: &str| -> Vec<ResourceRule> {
        constraints
            .and_then(|c| c.get(key))
            .and_then(Node::as_seq)
            .map(|items| items.iter().map(ResourceRule::from_node).collect())
            .unwrap_or_default()
    };
    // A DeletingPolicy's `conditions` decide what it deletes; the others' `matchConditions`
    // decide what they apply to.
    let deleting = kind.ends_with("DeletingPolicy");
    let conditions = if deleting { "conditions" } else { "matchConditions" };
    let program = Program::from_nodes(Some(spec), "validations", Some((spec, conditions)))
        .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
    let mut rules = rule_list("resourceRules");
    if deleting {
        // A deletion is no admission operation: every resource rule matches whatever.
        for r in &mut rules {
            r.operations.clear();
        }
    }
    if rules.is_empty() {
        // Kubernetes requires it; without it the policy would silently match nothing.
        let at = constraints.unwrap_or(spec);
        return Err(err(at, "spec.matchConstraints.resourceRules is missing or empty: the policy would match nothing"));
    }
    let actions = strings(spec.get("validationActions"));
    let mut policy = CelPolicy {
        autogen: Vec::new(),
        exclude: rule_list("excludeResourceRules"),
        namespace_selector: constraints.and_then(|c| c.get("namespaceSelector")).map(Node::to_json),
        object_selector: constraints.and_then(|c| c.get("objectSelector")).map(Node::to_json),
        warn_only: !actions.is_empty() && actions.iter().all(|a| a == "Warn"),
        deny: actions.iter().any(|a| a == "Deny"),
        errors_ignored: spec.get("failurePolicy").and_then(Node::as_str) == Some("Ignore"),
        namespace: kind.starts_with("Namespaced").then(|| {
            root.at(&["metadata", "namespace"]).and_then(Node::as_str).unwrap_or("default").into()
        }),
        program,
        rules,
        role: Role::Validate,
        binding: None,
        params: None,
    };
    if kind.ends_with("MutatingPolicy") || kind == "MutatingAdmissionPolicy" {
        let kubernetes = kind == "MutatingAdmissionPolicy";
        let (mutations, autogen) = super::mpol::compile(&policy, spec, kubernetes)?;
        policy.role = Role::Mutate(mutations);
        policy.autogen = autogen;
    } else if kind.ends_with("GeneratingPolicy") {
        policy.role = Role::Generate(super::gpol::compile(spec)?);
    } else if deleting {
        policy.role = Role::Delete;
    } else if kind.ends_with("ImageValidatingPolicy") {
        policy.autogen = autogen(&policy, spec, true)?;
        policy.role = Role::VerifyImages(Box::new(super::ivpol::compile(spec, &policy.autogen)?));
    } else {
        policy.autogen = autogen(&policy, spec, false)?;
    }
    Ok(policy)
}

/// Whether the policy is for Pods only, so that autogen makes it for pod controllers.
pub(super) fn only_pods(policy: &CelPolicy) -> bool {
    !policy.rules.is_empty()
        && policy.rules.iter().all(|r| {
            r.resources.iter().all(|x| x == "pods") && r.groups.iter().all(String::is_empty)
        })
}

/// Whether an ImageValidatingPolicy is generated for pod controllers (Kyverno's
/// `CanAutoGen`): one resource rule, for `pods` of `v1` in the core group and no names, no
/// exclusions, no object selector.
fn can_autogen(policy: &CelPolicy) -> bool {
    let selects = policy.object_selector.as_ref().is_some_and(|s| {
        ["matchLabels", "matchExpressions"].iter().any(|k| {
            s.get(k).is_some_and(|v| {
                v.as_object().is_some_and(|m| !m.is_empty())
                    || v.as_array().is_some_and(|a| !a.is_empty())
            })
        })
    });
    match policy.rules.as_slice() {
        [rule] => {
            !selects
                && policy.exclude.is_empty()
                && rule.names.is_empty()
                && rule.groups == [""]
                && rule.versions == ["v1"]
                && rule.resources == ["pods"]
        }
        _ => false,
    }
}

/// Kyverno generates the policy for pod controllers when it matches only Pods: `object.spec`
/// (and `metadata`) move to the pod template (kyverno-compat.md, 11 and 16). An
/// ImageValidatingPolicy (`images`) follows the Kyverno release that brought it: `CanAutoGen`,
/// no ReplicationControllers, and `object.metadata.namespace` kept.
fn autogen(policy: &CelPolicy, spec: &Node, images: bool) -> Result<Variants, PolicyError> {
    if !(if images { can_autogen(policy) } else { only_pods(policy) }) {
        return Ok(Vec::new());
    }
    let configured = spec.at(&["autogen", "podControllers", "controllers"]);
    let defaults = PLAIN_CONTROLLERS
        .iter()
        .filter(|k| !(images && **k == "ReplicationController"))
        .chain(&["CronJob"]);
    let wanted: Vec<String> = match configured {
        Some(list) => strings(Some(list)),
        None => defaults.map(|s| (*s).to_string()).collect(),
    };
    let is = |kind: &str| {
        wanted
            .iter()
            .any(|w| w.eq_ignore_ascii_case(kind) || w.eq_ignore_ascii_case(&format!("{kind}s")))
    };
    let rewrite = |template: &str| {
        policy
            .program
            .for_pod_template(template, images)
            .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })
    };
    let mut out = Vec::new();
    let plain: Vec<String> =
        PLAIN_CONTROLLERS.iter().filter(|k| is(k)).map(|k| (*k).to_string()).collect();
    if !plain.is_empty() {
        out.push((plain, rewrite("spec.template")?));
    }
    if is("CronJob") {
        out.push((vec!["CronJob".into()], rewrite("spec.jobTemplate.spec.template")?));
    }
    Ok(out)
}

impl CelPolicy {
    /// The kinds the policy can match (autogen controllers included); `None` when a rule
    /// names a wildcard or a resource that is not a built-in kind.
    pub(super) fn kinds(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for group in &rule.groups {
                for plural in &rule.resources {
                    if group == "*" || plural.contains('*') {
                        return None;
                    }
                    let plural = plural.split('/').next().unwrap_or(plural);
                    out.push(crate::kinds::kind_for_plural(group, plural)?.to_string());
                }
            }
        }
        out.extend(self.autogen.iter().flat_map(|(kinds, _)| kinds.iter().cloned()));
        Some(out)
    }

    /// Whether a failure denies the request (`validationActions` has `Deny`).
    pub(super) fn denies(&self) -> bool {
        self.deny
    }

    /// Evaluates the policy on one resource: no response when it does not match.
    pub(super) fn evaluate(&self, resource: &Value, request: &Request<'_>) -> Vec<RuleResponse> {
        let program = match self.select(resource, request) {
            Ok(Some((program, _))) => program,
            Ok(None) => return Vec::new(),
            Err(e) => return vec![response(Status::Error, e)],
        };
        if matches!(self.role, Role::Delete) {
            return vec![deletes(program, resource, request)];
        }
        let adm = super::policy::admission(resource, request);
        let mut vars = cel::activation(resource, request, &adm);
        let host = cel::ClusterHost { cluster: request.cluster };
        // An expression that cannot be evaluated is an error row whatever the failurePolicy
        // (which decides only what match conditions that cannot be evaluated mean).
        let on_error = (false, self.errors_ignored);
        let run = |vars: &BTreeMap<String, crate::engine::cel::Val>| {
            program.run(vars, &request.limits, Some(&host), on_error)
        };
        let outcome = match &self.params {
            None => run(&vars),
            // Each parameter object must pass (as each of a binding's params does).
            Some(spec) => match spec.resolve(&adm, request.cluster) {
                Err(e) => Outcome::Error(format!("paramRef: {e}")),
                Ok(found) if found.is_empty() && spec.allow_missing => Outcome::Pass,
                Ok(found) if found.is_empty() => Outcome::Fail(
                    format!("no params found: {} is not in the tree", spec.describe()),
                    None,
                ),
                Ok(found) => {
                    let mut outcome = Outcome::Pass;
                    for p in &found {
                        vars.insert("params".into(), crate::engine::cel::Val::from_json(p));
                        outcome = run(&vars);
                        if outcome != Outcome::Pass {
                            break;
                        }
                    }
                    outcome
                }
            },
        };
        vec![match outcome {
            Outcome::Pass => response(Status::Pass, "validation passed".into()),
            Outcome::NotMatched(name) => {
                response(Status::Skip, format!("match condition `{name}` is false"))
            }
            Outcome::Fail(m, path) => RuleResponse {
                rule: String::new(),
                status: if self.warn_only { Status::Warn } else { Status::Fail },
                message: m,
                path,
            },
            Outcome::Error(e) => response(Status::Error, e),
        }]
    }

    /// The program that applies to a resource — the policy's own, or the one autogen made for
    /// the resource's pod controller kind (with its index in `autogen`) — or `None` when the
    /// policy does not match the resource; an error when a selector cannot be evaluated.
    pub(super) fn select(
        &self,
        resource: &Value,
        request: &Request<'_>,
    ) -> Result<Option<(&Program, Option<usize>)>, String> {
        let adm = super::policy::admission(resource, request);
        if self.namespace.as_deref().is_some_and(|ns| ns != adm.namespace) {
            return Ok(None);
        }
        let api_version = resource.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let plural = cel::plural(api_version, adm.kind);
        let controller = matches!(
            (adm.group, adm.kind),
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
                | ("batch", "Job" | "CronJob")
                | ("", "ReplicationController")
        );
        let autogen =
            self.autogen.iter().position(|(kinds, _)| kinds.iter().any(|k| k == adm.kind));
        let selected = if let (true, Some(i)) = (controller, autogen) {
            // The generated policy matches the controller with the pod rule's operations.
            let as_pod = Admission { group: "", version: "v1", ..adm.clone() };
            if !self.rules.iter().any(|r| r.matches(&as_pod, "pods")) {
                return Ok(None);
            }
            (&self.autogen[i].1, Some(i))
        } else {
            if !self.rules.iter().any(|r| r.matches(&adm, &plural)) {
                return Ok(None);
            }
            (&self.program, None)
        };
        if self.exclude.iter().any(|r| r.matches(&adm, &plural)) {
            return Ok(None);
        }
        if let Some(binding) = &self.binding {
            if !binding.matches(&adm, &plural)? {
                return Ok(None);
            }
        }
        let matched =
            selectors(self.namespace_selector.as_ref(), self.object_selector.as_ref(), &adm)?;
        Ok(matched.then_some(selected))
    }
}

/// A DeletingPolicy on a resource it matches: `pass` ("resource matched") when its
/// conditions hold — the resource would be deleted — else `fail`, as `kyverno test` reports
/// it.
fn deletes(program: &Program, resource: &Value, request: &Request<'_>) -> RuleResponse {
    let adm = super::policy::admission(resource, request);
    let vars = cel::activation(resource, request, &adm);
    let host = cel::ClusterHost { cluster: request.cluster };
    match program.run(&vars, &request.limits, Some(&host), (false, false)) {
        Outcome::Pass => response(Status::Pass, "resource matched".into()),
        Outcome::NotMatched(_) => response(Status::Fail, "resource did not match".into()),
        Outcome::Error(e) => response(Status::Error, e),
        Outcome::Fail(m, _) => response(Status::Error, m),
    }
}

/// Whether an object selector and a namespace selector select a resource.
fn selectors(
    namespace_selector: Option<&Value>,
    object_selector: Option<&Value>,
    adm: &Admission<'_>,
) -> Result<bool, String> {
    if let Some(sel) = object_selector {
        if !selector_matches(sel, adm.labels.get(), false)? {
            return Ok(false);
        }
    }
    if let Some(sel) = namespace_selector {
        // Cluster-scoped objects are not in a namespace: the selector does not apply to
        // them, but for a Namespace, which it selects by its own labels.
        let labels: Option<&BTreeMap<String, String>> = if adm.kind == "Namespace" {
            Some(adm.labels.get())
        } else if adm.namespace.is_empty() {
            None
        } else {
            Some(&adm.namespace_labels)
        };
        if let Some(labels) = labels {
            if !selector_matches(sel, labels, false)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

pub(super) fn response(status: Status, message: String) -> RuleResponse {
    RuleResponse { rule: String::new(), status, message, path: None }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::policy;
    use super::super::{Policy, Request, Status};
    use crate::load::yaml::{parse_stream, Limits};

    const VPOL: &str = r#"
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: run-as-non-root}
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
    - apiGroups: ['']
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
    namespaceSelector:
      matchExpressions:
      - {key: tier, operator: NotIn, values: [system]}
    objectSelector:
      matchExpressions:
      - {key: skip, operator: DoesNotExist}
  matchConditions:
  - name: not-a-debug-pod
    expression: "!('debug' in object.metadata.?labels.orValue({}))"
  variables:
  - name: containers
    expression: object.spec.containers
  validations:
  - expression: variables.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(false))
    message: containers must run as non-root
"#;

    fn pod(name: &str, labels: serde_json::Value, non_root: bool) -> serde_json::Value {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"containers": [{"name": "c", "securityContext": {"runAsNonRoot": non_root}}]}});
        pod["metadata"]["labels"] = labels;
        pod
    }

    fn statuses(p: &Policy, r: &serde_json::Value, req: &Request<'_>) -> Vec<Status> {
        p.evaluate(r, req).into_iter().map(|r| r.status).collect()
    }

    #[test]
    fn match_constraints_conditions_and_validations() {
        let p = policy(VPOL);
        assert!(p.is_validating_policy());
        let req = Request::default();
        assert_eq!(statuses(&p, &pod("a", json!({}), true), &req), [Status::Pass]);
        let r = p.evaluate(&pod("a", json!({}), false), &req);
        assert_eq!(
            (r[0].status, r[0].message.as_str()),
            (Status::Fail, "containers must run as non-root")
        );
        // matchConditions false: skipped; objectSelector and namespaceSelector: not matched.
        assert_eq!(statuses(&p, &pod("a", json!({"debug": "y"}), false), &req), [Status::Skip]);
        assert!(statuses(&p, &pod("a", json!({"skip": "y"}), false), &req).is_empty());
        let system = Request {
            namespace_labels: std::borrow::Cow::Owned([("tier".into(), "system".into())].into()),
            ..Request::default()
        };
        assert!(statuses(&p, &pod("a", json!({}), false), &system).is_empty());
        // Operations: DELETE is not matched.
        let delete = Request { operation: "DELETE", ..Request::default() };
        assert!(statuses(&p, &pod("a", json!({}), false), &delete).is_empty());
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert!(statuses(&p, &cm, &req).is_empty());
        assert_eq!(
            p.match_kinds(),
            Some(
                [
                    "CronJob",
                    "DaemonSet",
                    "Deployment",
                    "Job",
                    "Pod",
                    "ReplicaSet",
                    "ReplicationController",
                    "StatefulSet"
                ]
                .map(String::from)
                .to_vec()
            )
        );
    }

    #[test]
    fn a_policy_that_can_match_nothing_is_an_error() {
        let text = VPOL.replace("    resourceRules:", "    otherRules:");
        let doc = parse_stream(&text, &Limits::default());
        let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
        assert!(e.message.contains("resourceRules is missing"), "{}", e.message);
        assert_eq!(e.pos.map(|p| p.line), Some(8), "{e:?}");
    }

    #[test]
    fn autogen_reaches_pod_templates_unless_turned_off() {
        let p = policy(VPOL);
        let req = Request::default();
        let template = |non_root: bool| json!({"metadata": {"labels": {}}, "spec": {"containers": [{"name": "c", "securityContext": {"runAsNonRoot": non_root}}]}});
        let deploy = |non_root| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "apps"}, "spec": {"template": template(non_root)}})
        };
        let cron = |non_root| {
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "c", "namespace": "apps"},
            "spec": {"jobTemplate": {"spec": {"template": template(non_root)}}}})
        };
        assert_eq!(statuses(&p, &deploy(true), &req), [Status::Pass]);
        assert_eq!(statuses(&p, &deploy(false), &req), [Status::Fail]);
        assert_eq!(statuses(&p, &cron(false), &req), [Status::Fail]);
        assert_eq!(statuses(&p, &cron(true), &req), [Status::Pass]);
        let off = policy(&VPOL.replace(
            "  validationActions:",
            "  autogen: {podControllers: {controllers: []}}\n  validationActions:",
        ));
        assert!(statuses(&off, &deploy(false), &req).is_empty());
        let only = policy(&VPOL.replace(
            "  validationActions:",
            "  autogen: {podControllers: {controllers: [Deployment]}}\n  validationActions:",
        ));
        assert_eq!(statuses(&only, &deploy(false), &req), [Status::Fail]);
        // A kind of another API group that is called Deployment is not a pod controller.
        let mut custom = deploy(false);
        custom["apiVersion"] = json!("example.com/v1");
        assert!(statuses(&p, &custom, &req).is_empty());
        assert!(statuses(&only, &cron(false), &req).is_empty());
    }

    #[test]
    fn actions_failure_policy_and_namespaced_policies() {
        let bad = pod("a", json!({}), false);
        let req = Request::default();
        let warn = policy(&VPOL.replace("[Audit]", "[Warn]"));
        assert_eq!(statuses(&warn, &bad, &req), [Status::Warn]);
        let deny = policy(&VPOL.replace("[Audit]", "[Deny]"));
        assert_eq!(deny.failure_action, "Enforce");
        // An expression that cannot be evaluated is an error row, as Kyverno's engine reports
        // it, under either failurePolicy.
        let broken =
            VPOL.replace("expression: object.spec.containers", "expression: object.spec.nope");
        let r = policy(&broken).evaluate(&bad, &req);
        assert_eq!(r[0].status, Status::Error);
        assert!(r[0].message.contains("no such key: nope"), "{}", r[0].message);
        let ignore = policy(
            &broken
                .replace("  validationActions:", "  failurePolicy: Ignore\n  validationActions:"),
        );
        assert_eq!(statuses(&ignore, &bad, &req), [Status::Error]);
        let namespaced = policy(
            &VPOL.replace("kind: ValidatingPolicy", "kind: NamespacedValidatingPolicy").replace(
                "metadata: {name: run-as-non-root}",
                "metadata: {name: n, namespace: apps}",
            ),
        );
        assert_eq!(statuses(&namespaced, &bad, &req), [Status::Fail]);
        // A lookup with nothing to answer it is never a silent pass.
        let lookup = VPOL.replace(
            "expression: object.spec.containers\n",
            "expression: resource.List('v1', 'pods', 'apps').items\n",
        );
        let r = policy(&lookup).evaluate(&pod("a", json!({}), true), &req);
        assert_eq!(r[0].status, Status::Error);
        assert!(r[0].message.contains("no cluster data"), "{}", r[0].message);
        let elsewhere = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "namespace": "other"}, "spec": {"containers": []}});
        assert!(statuses(&namespaced, &elsewhere, &req).is_empty());
    }

    #[test]
    fn match_conditions_are_kubernetes_match_conditions() {
        let req = Request::default();
        let bad = pod("a", json!({}), false);
        let with = |conditions: &str, policy_text: &str| {
            policy_text.replace(
                "  - name: not-a-debug-pod\n    expression: \"!('debug' in object.metadata.?labels.orValue({}))\"\n",
                conditions,
            )
        };
        let broken = "  - name: broken\n    expression: object.spec.nope == 1\n";
        let false_too = "  - name: broken\n    expression: object.spec.nope == 1\n  - name: never\n    expression: 'false'\n";
        // One that is false means no match, whatever the others gave.
        let r = policy(&with(false_too, VPOL)).evaluate(&bad, &req);
        assert_eq!(r[0].status, Status::Skip, "{r:?}");
        assert!(r[0].message.contains("`never`"), "{r:?}");
        // Otherwise one that cannot be evaluated is an error, or no match under Ignore.
        let r = policy(&with(broken, VPOL)).evaluate(&bad, &req);
        assert_eq!(r[0].status, Status::Error, "{r:?}");
        let ignore =
            VPOL.replace("  validationActions:", "  failurePolicy: Ignore\n  validationActions:");
        let r = policy(&with(broken, &ignore)).evaluate(&bad, &req);
        assert_eq!(r[0].status, Status::Skip, "{r:?}");
    }
}

#[cfg(test)]
mod deleting_tests {
    use serde_json::json;

    use super::super::tests::policy;
    use super::super::{Request, Status};

    #[test]
    fn a_deleting_policy_passes_what_it_would_delete() {
        let p = policy(
            r"
apiVersion: policies.kyverno.io/v1alpha1
kind: DeletingPolicy
metadata: {name: old-jobs}
spec:
  schedule: '*/5 * * * *'
  matchConstraints:
    resourceRules:
    - {apiGroups: [batch], apiVersions: [v1], operations: [CREATE], resources: [jobs]}
  conditions:
  - name: finished
    expression: has(object.status.succeeded) && object.status.succeeded > 0
",
        );
        let job = |succeeded: i64| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "a"},
                "status": {"succeeded": succeeded}})
        };
        // Operations do not matter: a deletion is none of them.
        let update = Request { operation: "UPDATE", ..Request::default() };
        let r = p.evaluate(&job(1), &update);
        assert_eq!((r[0].status, r[0].message.as_str()), (Status::Pass, "resource matched"));
        let r = p.evaluate(&job(0), &Request::default());
        assert_eq!((r[0].status, r[0].message.as_str()), (Status::Fail, "resource did not match"));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert!(p.evaluate(&cm, &Request::default()).is_empty(), "not matched: no row");
    }
}
