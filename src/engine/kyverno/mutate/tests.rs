//! Mutate rules end to end: a policy compiled from YAML, run on a resource.

use serde_json::{json, Value};

use crate::engine::kyverno::{Policy, Request, Status};
use crate::load::{parse_text, Limits};

fn policy(yaml: &str) -> Policy {
    let (file, problems) = parse_text("policy.yaml", yaml, &Limits::default());
    assert!(problems.is_empty(), "{problems:?}");
    Policy::from_node(&file.unwrap().documents[0].root).expect("compiles")
}

fn pod(containers: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": containers}})
}

const HEAD: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: m}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n";

#[test]
fn strategic_merge_with_anchors_patches_matching_containers() {
    let p = policy(&format!(
        "{HEAD}    mutate:\n      patchStrategicMerge:\n        metadata:\n          labels:\n            +(team): none\n        spec:\n          containers:\n          - (image): \"*:latest\"\n            imagePullPolicy: Always\n"
    ));
    let out = p.mutate(
        &pod(&json!([{"name": "a", "image": "x:latest"}, {"name": "b", "image": "x:1"}])),
        &Request::default(),
    );
    assert_eq!(out.responses.len(), 1);
    assert_eq!(out.responses[0].status, Status::Pass);
    assert_eq!(out.responses[0].message, "mutated Pod/p in namespace default");
    assert_eq!(out.patched["metadata"]["labels"], json!({"team": "none"}));
    assert_eq!(out.patched["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert!(out.patched["spec"]["containers"][1].get("imagePullPolicy").is_none());
    // Nothing to change: skip.
    let done = p.mutate(&out.patched, &Request::default());
    assert_eq!(done.responses[0].status, Status::Skip);
    assert_eq!(done.responses[0].message, "no patches applied");
}

#[test]
fn foreach_json_patches_use_the_element_index() {
    let p = policy(&format!(
        "{HEAD}    mutate:\n      foreach:\n      - list: request.object.spec.containers\n        order: Descending\n        preconditions:\n          all:\n          - {{key: \"{{{{element.image}}}}\", operator: Equals, value: \"bad*\"}}\n        patchesJson6902: |-\n          - op: remove\n            path: /spec/containers/{{{{elementIndex}}}}\n"
    ));
    let r = pod(
        &json!([{"name": "a", "image": "bad1"}, {"name": "b", "image": "ok"}, {"name": "c", "image": "bad2"}]),
    );
    let out = p.mutate(&r, &Request::default());
    assert_eq!(out.responses[0].status, Status::Pass, "{:?}", out.responses);
    assert_eq!(out.patched["spec"]["containers"], json!([{"name": "b", "image": "ok"}]));
    // No element passes the preconditions: skip.
    let out = p.mutate(&pod(&json!([{"name": "b", "image": "ok"}])), &Request::default());
    assert_eq!(out.responses[0].status, Status::Skip);
}

#[test]
fn an_unresolved_variable_in_a_patch_is_an_error() {
    let p = policy(&format!(
        "{HEAD}    mutate:\n      patchStrategicMerge:\n        metadata:\n          labels:\n            a: \"{{{{request.object.metadata.nope}}}}\"\n"
    ));
    let out = p.mutate(&pod(&json!([])), &Request::default());
    assert_eq!(out.responses[0].status, Status::Error, "{:?}", out.responses);
    assert!(out.responses[0].message.starts_with("variable substitution failed"));
}

#[test]
fn autogen_wraps_the_patch_in_the_pod_template() {
    let p = policy(&format!(
        "{HEAD}    mutate:\n      patchStrategicMerge:\n        spec:\n          +(automountServiceAccountToken): false\n"
    ));
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
    let out = p.mutate(&deploy, &Request::default());
    assert_eq!(out.responses.len(), 1);
    assert_eq!(out.responses[0].rule, "autogen-r");
    assert_eq!(out.patched["spec"]["template"]["spec"]["automountServiceAccountToken"], false);
}

const EXISTING: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: m}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [ConfigMap], names: [trigger]}}]}\n    mutate:\n      targets:\n      - apiVersion: v1\n        kind: Secret\n        namespace: '{{request.object.metadata.namespace}}'\n        selector: {matchLabels: {sync: 'yes'}}\n        preconditions:\n          all:\n          - {key: '{{target.metadata.name}}', operator: NotEquals, value: skipped}\n      patchStrategicMerge:\n        metadata:\n          annotations:\n            from: '{{request.object.metadata.name}}'\n            was: '{{target.metadata.name}}'\n";

fn object(kind: &str, namespace: &str, name: &str, sync: bool) -> Value {
    let labels = if sync { json!({"sync": "yes"}) } else { json!({}) };
    json!({"apiVersion": "v1", "kind": kind,
           "metadata": {"name": name, "namespace": namespace, "labels": labels}})
}

/// A mutate rule with `targets` patches the objects its target entry selects (namespace from a
/// variable, label selector, per-target preconditions with `target` in the context) and leaves
/// the trigger as it was.
#[test]
fn mutate_existing_patches_the_selected_targets() {
    let p = policy(EXISTING);
    let trigger = object("ConfigMap", "a", "trigger", false);
    let cluster = vec![
        object("Secret", "a", "one", true),
        object("Secret", "a", "unlabelled", false),
        object("Secret", "b", "elsewhere", true),
        object("Secret", "a", "skipped", true),
        object("ConfigMap", "a", "not-a-secret", true),
    ];
    let request = Request { targets: Some(&cluster), ..Request::default() };
    let out = p.mutate(&trigger, &request);
    assert!(!out.changed && out.patched == trigger, "the trigger is not patched");
    let statuses: Vec<(Status, &str)> =
        out.responses.iter().map(|r| (r.status, r.message.as_str())).collect();
    assert_eq!(
        statuses,
        [
            (Status::Pass, "mutated Secret/one in namespace a"),
            (Status::Skip, "preconditions not met")
        ]
    );
    assert_eq!(out.targets.len(), 1);
    let (index, target) = &out.targets[0];
    assert_eq!(*index, 0);
    assert_eq!(target["metadata"]["name"], "one");
    assert_eq!(target["metadata"]["annotations"], json!({"from": "trigger", "was": "one"}));
}

/// Where the cluster's objects are not given (`check` admits objects one by one), a rule with
/// `targets` is an error, never a silent no-op; a named target that is not there is an error too.
#[test]
fn mutate_existing_without_a_cluster_or_target_is_an_error() {
    let p = policy(EXISTING);
    let trigger = object("ConfigMap", "a", "trigger", false);
    let out = p.mutate(&trigger, &Request::default());
    assert_eq!(out.responses.len(), 1);
    assert_eq!(out.responses[0].status, Status::Error);
    assert!(
        out.responses[0].message.contains("mutate existing) is not supported"),
        "{:?}",
        out.responses
    );
    let named = EXISTING.replace("selector: {matchLabels: {sync: 'yes'}}", "name: missing");
    let p = policy(&named);
    let cluster = vec![object("Secret", "a", "one", true)];
    let out = p.mutate(&trigger, &Request { targets: Some(&cluster), ..Request::default() });
    assert_eq!(out.responses[0].status, Status::Error);
    assert!(
        out.responses[0].message.contains("secrets \"missing\" not found"),
        "{:?}",
        out.responses
    );
}
