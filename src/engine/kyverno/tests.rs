use super::*;
use crate::load::yaml::{parse_stream, Limits};
use serde_json::{json, Value};

/// Compiles the first document of `text` (shared with the other engine modules' tests).
pub(super) fn policy(text: &str) -> Policy {
    let doc = parse_stream(text, &Limits::default());
    Policy::from_node(&doc.documents[0].root).unwrap()
}

const NO_PRIVILEGED: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: disallow-privileged}
spec:
  rules:
  - name: privileged-containers
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: Privileged mode is disallowed.
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): "false"
"#;

#[test]
fn pattern_rules_pass_fail_and_autogen() {
    let p = policy(NO_PRIVILEGED);
    assert_eq!(p.rules.len(), 3, "original, autogen- and autogen-cronjob-");
    let req = Request::default();
    let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
    let r = p.evaluate(&bad, &req);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, Status::Fail);
    assert_eq!(
        r[0].path.as_deref().unwrap().join("/"),
        "spec/containers/0/securityContext/privileged"
    );
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}}}});
    let r = p.evaluate(&deploy, &req);
    assert_eq!(
        r.iter().map(|r| (r.rule.as_str(), r.status)).collect::<Vec<_>>(),
        vec![("autogen-privileged-containers", Status::Fail)]
    );
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}});
    let r = p.evaluate(&cron, &req);
    assert_eq!(
        r.iter().map(|r| (r.rule.as_str(), r.status)).collect::<Vec<_>>(),
        vec![("autogen-cronjob-privileged-containers", Status::Pass)]
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert!(p.evaluate(&cm, &req).is_empty());
}

#[test]
fn unsupported_features_are_errors_not_passes() {
    let p = policy(
        &NO_PRIVILEGED
            .replace("      pattern:", "      manifests: {attestors: []}\n      pattern:"),
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": []}});
    let r = p.evaluate(&pod, &Request::default());
    assert_eq!(r[0].status, Status::Error);
    assert!(r[0].message.contains("not supported yet"));
}

const CEL_POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cel-limits}
spec:
  rules:
  - name: containers
    match:
      any:
      - resources: {kinds: [Pod]}
    celPreconditions:
    - name: not-system
      expression: "object.metadata.?namespace.orValue('') != 'kube-system'"
    validate:
      cel:
        variables:
        - name: all
          expression: object.spec.containers + object.spec.?initContainers.orValue([])
        expressions:
        - expression: size(variables.all) <= 2
          message: at most two containers
        - expression: variables.all.all(c, c.image.contains(':'))
          messageExpression: "'untagged: ' + variables.all.filter(c, !c.image.contains(':')).map(c, c.name).join(', ')"
        - expression: object.metadata.labels.team != ''
"#;

#[test]
fn validate_cel_rules() {
    let p = policy(CEL_POLICY);
    assert_eq!(p.rules.len(), 3, "original, autogen- and autogen-cronjob-");
    let req = Request::default();
    let pod = |ns: &str, images: &[&str], labels: Value| {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": ns, "labels": labels},
                "spec": {"containers": containers}})
    };
    let status = |r: Vec<RuleResponse>| (r[0].status, r[0].message.clone());
    let ok = pod("apps", &["nginx:1"], json!({"team": "a"}));
    assert_eq!(status(p.evaluate(&ok, &req)).0, Status::Pass);
    let r = status(p.evaluate(&pod("apps", &["a:1", "b:1", "c:1"], json!({"team": "a"})), &req));
    assert_eq!(r, (Status::Fail, "at most two containers".into()));
    let r = status(p.evaluate(&pod("apps", &["a:1", "b"], json!({"team": "a"})), &req));
    assert_eq!(r, (Status::Fail, "untagged: c1".into()));
    // The failure points at the container that made `all` false, though the expression
    // iterates over a variable that concatenates lists.
    let r = p.evaluate(&pod("apps", &["a:1", "b"], json!({"team": "a"})), &req);
    assert_eq!(
        r[0].path.as_deref(),
        Some(&["spec".to_string(), "containers".into(), "1".into()][..])
    );
    let r = status(p.evaluate(&pod("kube-system", &["a", "b", "c"], json!({})), &req));
    assert_eq!(r.0, Status::Skip, "{r:?}");
    // An expression that cannot be evaluated fails the rule (failurePolicy Fail), naming
    // the expression and its line; it never passes.
    let r = status(p.evaluate(&pod("apps", &["a:1"], json!({})), &req));
    assert_eq!(r.0, Status::Fail);
    assert!(r.1.contains("`object.metadata.labels.team != ''` (line 24)"), "{}", r.1);
    assert!(r.1.contains("no such key: team"), "{}", r.1);
    let r = p.evaluate(&pod("apps", &["a:1"], json!({})), &req);
    assert_eq!(r[0].path.as_deref().map(|p| p.join("/")), Some("metadata/labels/team".into()));
    // With failurePolicy Ignore it is an error instead.
    let ignore =
        policy(&CEL_POLICY.replace("spec:\n  rules:", "spec:\n  failurePolicy: Ignore\n  rules:"));
    let r = status(ignore.evaluate(&pod("apps", &["a:1"], json!({})), &req));
    assert_eq!(r.0, Status::Error);
    // Autogen moves `object.spec` to the pod template.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "apps"},
            "spec": {"template": {"metadata": {"labels": {"team": "a"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    let r = p.evaluate(&deploy, &req);
    assert_eq!((r[0].rule.as_str(), r[0].status), ("autogen-containers", Status::Fail));
    assert_eq!(r[0].message, "untagged: c");
    // A budget reached is an error, whatever the failure policy.
    let tight = Request {
        limits: crate::limits::Limits { cel_steps: 5, ..Default::default() },
        ..Default::default()
    };
    let r = status(p.evaluate(&ok, &tight));
    assert_eq!(r.0, Status::Error, "{r:?}");
    assert!(r.1.contains("--limit cel-steps=N"), "{}", r.1);
}

#[test]
fn validate_cel_params_come_from_the_tree() {
    let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: max-containers}
spec:
  rules:
  - name: max
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        paramKind: {apiVersion: v1, kind: ConfigMap}
        paramRef: {name: limits, namespace: params}
        expressions:
        - expression: size(object.spec.containers) <= int(params.data.max)
          messageExpression: "'at most ' + params.data.max + ' containers'"
"#;
    let mut store = store::ObjectStore::default();
    let cm = |ns: &str, name: &str, max: &str, team: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": ns, "labels": {"team": team}},
                "data": {"max": max}})
    };
    store.objects.push(cm("params", "limits", "1", "a"));
    store.objects.push(cm("apps", "limits", "2", "a"));
    store.objects.push(cm("apps", "other", "3", "b"));
    let pod = |n: usize| {
        let containers: Vec<Value> = (0..n).map(|i| json!({"name": format!("c{i}")})).collect();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
                "spec": {"containers": containers}})
    };
    let req = Request { cluster: Some(&store), ..Request::default() };
    let run = |text: &str, n: usize, req: &Request<'_>| {
        let r = policy(text).evaluate(&pod(n), req);
        (r[0].status, r[0].message.clone())
    };
    assert_eq!(run(text, 1, &req).0, Status::Pass);
    assert_eq!(run(text, 2, &req), (Status::Fail, "at most 1 containers".into()));
    // Without a namespace, a namespaced param kind is looked up in the resource's.
    let own =
        text.replace("paramRef: {name: limits, namespace: params}", "paramRef: {name: limits}");
    assert_eq!(run(&own, 2, &req).0, Status::Pass);
    // A selector binds every object it picks; each must pass.
    let selected = text.replace(
        "paramRef: {name: limits, namespace: params}",
        "paramRef: {namespace: apps, selector: {matchLabels: {team: b}}}",
    );
    assert_eq!(run(&selected, 3, &req).0, Status::Pass);
    let all =
        text.replace("paramRef: {name: limits, namespace: params}", "paramRef: {namespace: apps}");
    assert_eq!(run(&all, 3, &req), (Status::Fail, "at most 2 containers".into()));
    // Missing params fail the rule, unless parameterNotFoundAction is Allow.
    let missing = text.replace("name: limits, namespace: params", "name: nope, namespace: params");
    let (status, message) = run(&missing, 1, &req);
    assert_eq!(status, Status::Fail);
    assert!(message.contains("ConfigMap `params/nope` is not in the tree"), "{message}");
    let allowed =
        missing.replace("namespace: params}", "namespace: params, parameterNotFoundAction: Allow}");
    assert_eq!(run(&allowed, 9, &req).0, Status::Pass);
    assert_eq!(run(text, 1, &Request::default()).0, Status::Fail, "no cluster data: no params");
    // A selector Kubernetes would reject makes the rule an error, never a pass.
    let bad = text.replace(
        "paramRef: {name: limits, namespace: params}",
        "paramRef: {namespace: apps, selector: {matchExpressions: [{key: team, operator: Near}]}}",
    );
    let (status, message) = run(&bad, 1, &req);
    assert_eq!(status, Status::Error);
    assert!(message.contains("paramRef: unknown selector operator `Near`"), "{message}");
    // Selector operators are not condition operators: `Exists` is fine.
    let exists = bad.replace("operator: Near", "operator: Exists");
    assert_eq!(run(&exists, 2, &req).0, Status::Pass, "both ConfigMaps of `apps` allow 2");
    assert_eq!(run(&exists, 3, &req).0, Status::Fail, "`limits` allows 2");
}

#[test]
fn invalid_cel_is_a_policy_error_at_its_line() {
    let text = CEL_POLICY.replace("size(variables.all) <= 2", "size(variables.all) <=");
    let doc = parse_stream(&text, &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert_eq!(e.pos.map(|p| p.line), Some(20), "{e:?}");
    assert!(
        e.message.contains("rule `containers`: expressions[0] is not valid CEL"),
        "{}",
        e.message
    );
    // A function that does not exist is caught when the policy is compiled.
    let text = CEL_POLICY.replacen("c.image.contains(':')", "c.image.contians(':')", 1);
    let doc = parse_stream(&text, &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert_eq!(e.pos.map(|p| p.line), Some(22), "{e:?}");
    assert!(
        e.message.contains("expressions[1] calls `contians`, which is not a CEL function"),
        "{}",
        e.message
    );
    // Two-variable comprehensions bind both names.
    let text = CEL_POLICY.replace(
        "variables.all.all(c, c.image.contains(':'))",
        "variables.all.all(i, image, image.image.contains(':') && i >= 0)",
    );
    let doc = parse_stream(&text, &Limits::default());
    assert!(Policy::from_node(&doc.documents[0].root).is_ok());
    // A comprehension variable may shadow a function namespace.
    let text = CEL_POLICY.replace(
        "variables.all.all(c, c.image.contains(':'))",
        "variables.all.all(image, image.image.contains(':'))",
    );
    let doc = parse_stream(&text, &Limits::default());
    assert!(Policy::from_node(&doc.documents[0].root).is_ok());
    let text = CEL_POLICY.replace("size(variables.all) <= 2", "sets.union([1], [2]) == [1, 2]");
    let doc = parse_stream(&text, &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert!(e.message.contains("calls `sets.union`"), "{}", e.message);
}

#[test]
fn invalid_jmespath_is_a_policy_error_at_its_line() {
    let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate:\n      deny:\n        conditions:\n        - key: \"{{ request.object.spec.[ }}\"\n          operator: Equals\n          value: x\n";
    let doc = parse_stream(text, &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert_eq!(e.pos.map(|p| p.line), Some(11), "{e:?}");
    assert!(e.message.contains("invalid JMESPath `request.object.spec.[`"), "{}", e.message);
}

#[test]
fn malformed_policies_are_errors_with_positions() {
    let doc = parse_stream("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules: nope\n", &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert_eq!(e.pos.map(|p| p.line), Some(5));
    assert!(e.message.contains("must be a list"));
}

#[test]
fn a_rule_does_exactly_one_thing() {
    let rule = |body: &str| {
        format!("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: x}}\nspec:\n  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n{body}")
    };
    let compile = |text: &str| {
        let doc = parse_stream(text, &Limits::default());
        Policy::from_node(&doc.documents[0].root)
    };
    let e = compile(&rule("")).unwrap_err();
    assert!(e.message.contains("rule `r`: a rule needs exactly one of"), "{}", e.message);
    assert!(e.message.ends_with("(it has none)"), "{}", e.message);
    assert_eq!(e.pos.map(|p| p.line), Some(6), "at the rule: {e:?}");
    let both = rule("    validate: {deny: {}}\n    mutate: {patchStrategicMerge: {}}\n");
    let e = compile(&both).unwrap_err();
    assert!(e.message.ends_with("(it has `validate` and `mutate`)"), "{}", e.message);
    let p = compile(&rule("    mutate: {patchStrategicMerge: {}}\n")).unwrap();
    assert!(!p.rules[0].is_validate() && p.rules[0].is_mutate());
    assert_eq!(p.rules[0].unsupported(), None);
    let p = compile(&rule(
        "    mutate: {targets: [{kind: ConfigMap}], patchStrategicMerge: {}}
",
    ))
    .unwrap();
    assert!(p.rules[0].is_mutate() && p.rules[0].unsupported().is_none());
    let p = compile(&rule("    generate: {kind: ConfigMap, name: x, data: {}}\n")).unwrap();
    assert!(p.rules[0].is_generate() && p.rules[0].unsupported().is_none());
    let p = compile(&rule("    verifyImages: [{imageReferences: ['*']}]\n")).unwrap();
    assert_eq!(p.rules[0].unsupported(), Some("a verifyImages rule"));
    let p = compile(&rule("    validate: {deny: {}}\n")).unwrap();
    assert!(p.rules[0].is_validate() && p.rules[0].is_non_cel_validate());
    assert_eq!(p.rules[0].unsupported(), None);
}

#[test]
fn compile_errors_point_at_the_text_at_fault() {
    // A JMESPath error in a map key is at the key; an unknown operator at its value.
    let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate:\n      pattern:\n        metadata:\n          labels:\n            \"{{ request.object.[ }}\": x\n";
    let doc = parse_stream(text, &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert_eq!(e.pos.map(|p| (p.line, p.col)), Some((12, 12)), "{e:?}");
    assert!(
        e.message.starts_with("rule `r`: invalid JMESPath `request.object.[`"),
        "{}",
        e.message
    );
    let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    preconditions:\n      all:\n      - key: a\n        operator: Sometimes\n        value: b\n    validate: {deny: {}}\n";
    let doc = parse_stream(text, &Limits::default());
    let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
    assert_eq!(e.pos.map(|p| (p.line, p.col)), Some((11, 18)), "{e:?}");
    assert!(e.message.contains("unknown condition operator `Sometimes`"), "{}", e.message);
}

#[test]
fn an_unresolved_variable_in_a_condition_is_an_error_for_the_rule() {
    let p = policy(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team-label}
spec:
  rules:
  - name: pre
    match: {any: [{resources: {kinds: [Pod]}}]}
    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.team }}"
        operator: Equals
        value: payments
    validate: {deny: {}}
  - name: deny
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.labels.team }}"
            operator: NotEquals
            value: payments
"#,
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
    let out = p.evaluate(&pod, &Request::default());
    let status: Vec<(&str, Status, &str)> =
        out.iter().map(|r| (r.rule.as_str(), r.status, r.message.as_str())).collect();
    assert_eq!(status.len(), 2, "{status:?}");
    assert_eq!(status[0].1, Status::Error, "{status:?}");
    assert!(status[0].2.starts_with("failed to evaluate preconditions: Unknown key"), "{status:?}");
    assert_eq!(status[1].1, Status::Error, "{status:?}");
    assert!(status[1].2.starts_with("failed to check deny conditions: Unknown key"), "{status:?}");
}

#[test]
fn values_for_the_object_change_the_resource_that_is_matched_and_checked() {
    let p = policy(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team}
spec:
  rules:
  - name: team-label
    match:
      any:
      - resources:
          kinds: [Pod]
          selector: {matchLabels: {tier: web}}
    validate:
      pattern:
        metadata:
          labels:
            team: "?*"
"#,
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": {"tier": "db"}}});
    assert!(p.evaluate(&pod, &Request::default()).is_empty(), "not matched as written");
    let mut values = Values::default();
    values.global.insert("request.object.metadata.labels.tier".into(), json!("web"));
    let request = Request { values: Some(&values), ..Request::default() };
    let out = p.evaluate(&pod, &request);
    assert_eq!(out.len(), 1, "matched once the values set the label: {out:?}");
    assert_eq!(out[0].status, Status::Fail, "{out:?}");
    let mut per_resource = serde_json::Map::new();
    per_resource.insert("request.object.metadata.labels.team".into(), json!("payments"));
    values.resources.insert(("team".into(), "x".into()), per_resource);
    let request = Request { values: Some(&values), ..Request::default() };
    let out = p.evaluate(&pod, &request);
    assert_eq!(out[0].status, Status::Pass, "the pattern sees the value: {out:?}");
}

#[test]
fn an_enforced_update_keeps_a_violation_the_old_object_had() {
    let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        metadata:
          labels:
            team: "?*"
"#;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let status = |text: &str, operation: &str, values: Option<&Values>| {
        let request = Request { operation, values, ..Request::default() };
        let out = policy(text).evaluate(&cm, &request);
        (out[0].status, out[0].message.clone())
    };
    // The old object of an UPDATE is the object itself unless values say otherwise.
    let (skipped, why) = status(text, "UPDATE", None);
    assert_eq!(skipped, Status::Skip, "{why}");
    assert_eq!(why, "skipping the rule evaluation as pre-existing violations are allowed");
    assert_eq!(status(text, "CREATE", None).0, Status::Fail);
    assert_eq!(status(&text.replace("Enforce", "Audit"), "UPDATE", None).0, Status::Fail);
    let strict =
        text.replace("    validate:\n", "    validate:\n      allowExistingViolations: false\n");
    assert_eq!(status(&strict, "UPDATE", None).0, Status::Fail);
    // An old object that complied: the update introduces the violation.
    let mut values = Values::default();
    values.global.insert("request.oldObject.metadata.labels.team".into(), json!("payments"));
    assert_eq!(status(text, "UPDATE", Some(&values)).0, Status::Fail);
}

#[test]
fn pod_security_honours_the_version_of_the_standards() {
    let text = |level: &str, version: &str| {
        format!("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: pss}}\nspec:\n  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    validate:\n      podSecurity: {{level: {level}, version: {version}}}\n")
    };
    let run = |level: &str, version: &str, pod: &serde_json::Value| {
        let out = policy(&text(level, version)).evaluate(pod, &Request::default());
        (out[0].status, out[0].message.clone())
    };
    // A sysctl safe from 1.27 only.
    let sysctl = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports", "value": "1"}]},
                 "containers": [{"name": "c", "image": "nginx"}]}});
    assert_eq!(run("baseline", "v1.26", &sysctl).0, Status::Fail);
    assert_eq!(run("baseline", "v1.27", &sysctl).0, Status::Pass);
    assert_eq!(run("baseline", "latest", &sysctl).0, Status::Pass);
    // Restricted: a container that runs as root by uid is checked from 1.23; capabilities
    // must drop ALL from 1.22.
    let restricted_pod = |extra: serde_json::Value| {
        let mut sc = json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true,
            "seccompProfile": {"type": "RuntimeDefault"}});
        for (k, v) in extra.as_object().unwrap() {
            sc[k] = v.clone();
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": sc}]}})
    };
    let root = restricted_pod(json!({"runAsUser": 0, "capabilities": {"drop": ["ALL"]}}));
    assert_eq!(run("restricted", "v1.22", &root).0, Status::Pass);
    assert_eq!(run("restricted", "v1.23", &root).0, Status::Fail);
    let keeps_caps = restricted_pod(json!({}));
    assert_eq!(run("restricted", "v1.21", &keeps_caps).0, Status::Pass);
    assert_eq!(run("restricted", "v1.22", &keeps_caps).0, Status::Fail);
    // Windows pods are exempt from the Linux-only restricted checks from 1.25.
    let mut windows = restricted_pod(json!({"allowPrivilegeEscalation": true}));
    windows["spec"]["os"] = json!({"name": "windows"});
    assert_eq!(run("restricted", "v1.24", &windows).0, Status::Fail);
    assert_eq!(run("restricted", "v1.25", &windows).0, Status::Pass);
    // Before 1.19, seccomp is read from annotations.
    let mut annotated = restricted_pod(json!({"capabilities": {"drop": ["ALL"]}}));
    annotated["metadata"]["annotations"] =
        json!({"seccomp.security.alpha.kubernetes.io/pod": "unconfined"});
    assert_eq!(run("baseline", "v1.18", &annotated).0, Status::Fail);
    assert_eq!(run("baseline", "v1.19", &annotated).0, Status::Pass);
    // A version that is not one is an error, as a number or as text.
    for version in ["1.24", "'1.24'"] {
        let (status, message) = run("baseline", version, &sysctl);
        assert_eq!(status, Status::Error, "{version}");
        assert!(message.contains("not `latest` or `v1.N`"), "{message}");
    }
}

/// A context variable, a context that fails half-way (its first variable set) and a foreach
/// binding (for the shared-context test).
const SHARES_ADDS: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: adds}
spec:
  rules:
  - name: pool
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: pool
      variable: {value: blue}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ pool }}", operator: Equals, value: blue}
  - name: half
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: first
      variable: {value: set}
    - name: second
      variable: {jmesPath: request.object.spec.nothing}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ first }}", operator: Equals, value: set}
  - name: each
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      foreach:
      - list: request.object.spec.containers
        deny:
          conditions:
            any:
            - {key: "{{ element.name }}", operator: Equals, value: bad}
"#;

/// Reads `pool` without defining it.
const SHARES_READS: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: reads}
spec:
  rules:
  - name: pool
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ pool }}", operator: Equals, value: blue}
"#;

/// Redefines `images.containers`, a variable of the base context.
const SHARES_REDEFINES: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: redefines}
spec:
  rules:
  - name: images
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: images.containers
      variable: {value: none}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ images.containers }}", operator: Equals, value: none}
"#;

#[test]
fn rules_share_one_base_context_per_object_and_leave_it_as_built() {
    // One policy adds variables, the next reads one it does not define, the last redefines a
    // variable of the base.
    let adds = policy(SHARES_ADDS);
    let reads = policy(SHARES_READS);
    let redefines = policy(SHARES_REDEFINES);
    assert!(adds.rules.iter().all(|r| r.adds_only));
    assert!(!redefines.rules[0].adds_only, "it names `images`, a variable of the base");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "bad", "image": "nginx:1.27"}]}});
    let outcomes = |request: &Request<'_>| -> Vec<(String, Status, String)> {
        [&adds, &reads, &redefines]
            .iter()
            .flat_map(|p| p.evaluate(&pod, request))
            .map(|r| (r.rule, r.status, r.message))
            .collect()
    };
    let alone = outcomes(&Request::default());
    let statuses: Vec<(&str, Status)> = alone.iter().map(|(r, s, _)| (r.as_str(), *s)).collect();
    assert_eq!(
        statuses,
        vec![
            ("pool", Status::Fail),
            ("half", Status::Error),
            ("each", Status::Fail),
            ("pool", Status::Error),
            ("images", Status::Fail)
        ]
    );
    assert!(alone[1].2.starts_with("failed to load context: Unknown key"), "{alone:?}");
    assert!(alone[3].2.contains("Unknown key"), "{alone:?}");

    let shared = crate::engine::PolicyContext::default();
    let request = Request { shared_context: Some(&shared), ..Request::default() };
    assert_eq!(outcomes(&request), alone, "sharing the base changes no answer");
    // What is left in the cell is the base as built: no `pool`, no `first`, no `element`, and
    // `images` as the object has them.
    let pristine = crate::engine::PolicyContext::default();
    let only_base = Request { shared_context: Some(&pristine), ..Request::default() };
    // `reads` reads no part of the object: run first, it builds no base; run again, it does.
    assert_eq!(reads.evaluate(&pod, &only_base)[0].status, Status::Error);
    assert_eq!(*pristine.borrow(), Some(Value::Null));
    assert_eq!(reads.evaluate(&pod, &only_base)[0].status, Status::Error);
    let left = shared.borrow().clone().unwrap();
    assert_eq!(Some(left), pristine.borrow().clone());
    let keys: Vec<String> =
        pristine.borrow().as_ref().unwrap().as_object().unwrap().keys().cloned().collect();
    let mut expected: Vec<String> = context::BASE_KEYS.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(pristine.borrow().as_ref().unwrap()["images"]["containers"]["bad"]["tag"], "1.27");
}

const PATTERNS_ONLY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: patterns
  annotations: {pod-policies.kyverno.io/autogen-controllers: none}
spec:
  rules:
  - name: tagged
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: An image needs a tag other than latest.
      pattern: {spec: {containers: [{image: "*:* & !*:latest"}]}}
  - name: baseline
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {podSecurity: {level: baseline, version: latest}}
  - name: named
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "{{ request.object.metadata.name }} needs a tag"
      pattern: {spec: {containers: [{image: "*:*"}]}}
"#;

/// A validate rule whose patterns and message hold no variable, with no context entries or
/// preconditions, runs without a context: the shared cell stays empty until a rule that reads
/// one (here, a message variable) builds it, and no answer changes.
#[test]
fn rules_that_read_no_context_run_without_building_one() {
    let p = policy(PATTERNS_ONLY);
    let reads: Vec<bool> = p.rules.iter().map(|r| r.reads_context).collect();
    assert_eq!(reads, vec![false, false, true]);
    for text in [SHARES_ADDS, SHARES_READS, SHARES_REDEFINES] {
        assert!(policy(text).rules.iter().all(|r| r.reads_context), "{text}");
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}});
    let answers = |request: &Request<'_>| -> Vec<(String, Status, String)> {
        p.evaluate(&pod, request).into_iter().map(|r| (r.rule, r.status, r.message)).collect()
    };
    let alone = answers(&Request::default());
    let statuses: Vec<Status> = alone.iter().map(|(_, s, _)| *s).collect();
    assert_eq!(statuses, vec![Status::Fail, Status::Pass, Status::Pass]);
    assert!(alone[0].2.contains("An image needs a tag"), "{alone:?}");

    let shared = crate::engine::PolicyContext::default();
    let request = Request { shared_context: Some(&shared), ..Request::default() };
    let first_two = Policy { rules: p.rules[..2].to_vec(), ..p.clone() };
    let two: Vec<Status> = first_two.evaluate(&pod, &request).iter().map(|r| r.status).collect();
    assert_eq!(two, vec![Status::Fail, Status::Pass]);
    assert!(shared.borrow().is_none(), "no rule that reads a context ran: none was built");
    assert_eq!(answers(&request), alone, "running without a context changes no answer");
    assert_eq!(*shared.borrow(), Some(Value::Null), "the message variable reads a part: no base");
}

/// What filters compare an object by is read from its JSON as the paths say: names, the
/// namespace (the request's first), labels and annotations (their string entries only, read
/// when a filter asks), and nothing from a `metadata` that is not a mapping.
#[test]
fn admission_reads_the_fields_filters_compare() {
    let pod = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generateName": "web-", "namespace": "shop",
                     "labels": {"app": "web", "n": 3}, "annotations": {"a/b": "c"}},
    });
    let request = Request {
        namespace_labels: std::borrow::Cow::Owned([("t".into(), "p".into())].into()),
        ..Request::default()
    };
    let adm = policy::admission(&pod, &request);
    assert_eq!((adm.group, adm.version, adm.kind), ("apps", "v1", "Deployment"));
    assert_eq!((adm.name, adm.generate_name, adm.namespace), ("web", "web-", "shop"));
    assert_eq!(adm.operation, "CREATE");
    assert_eq!(adm.labels.get(), &[("app".to_string(), "web".to_string())].into());
    assert_eq!(adm.annotations.get(), &[("a/b".to_string(), "c".to_string())].into());
    assert_eq!(adm.namespace_labels, request.namespace_labels);
    let elsewhere = Request { namespace: Some("other"), ..Request::default() };
    assert_eq!(policy::admission(&pod, &elsewhere).namespace, "other");
    let odd = json!({"apiVersion": "v1", "kind": "Pod", "metadata": ["name", "web"]});
    let adm = policy::admission(&odd, &request);
    assert_eq!((adm.group, adm.version, adm.name, adm.namespace), ("", "v1", "", ""));
    assert!(adm.labels.get().is_empty() && adm.annotations.get().is_empty());
}

const READS_PARTS: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: parts
  annotations: {pod-policies.kyverno.io/autogen-controllers: none}
spec:
  rules:
  - name: named
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "{{ request.object.metadata.name }} in {{ request.namespace }} needs a tag"
      pattern: {spec: {containers: [{image: "*:* & !*:latest"}]}}
  - name: counted
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[].image | length(@) }}"
            operator: GreaterThan
            value: 1
  - name: missing
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions: {any: [{key: "{{ request.object.spec.missing }}", operator: Equals, value: x}]}
  - name: labelled
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: labels
      variable: {jmesPath: request.object.metadata.labels}
    preconditions: {all: [{key: "{{ request.object.metadata.labels.app || '' }}", operator: Equals, value: web}]}
    validate:
      deny:
        conditions: {any: [{key: "{{ labels.team || 'none' }}", operator: Equals, value: none}]}
  - name: tagged
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions: {any: [{key: "{{ images.containers.c.tag }}", operator: Equals, value: latest}]}
  - name: noted
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "note: {{ request.object.metadata.annotations.note }}"
      deny:
        conditions: {any: [{key: "{{ request.object.metadata.annotations.note }}", operator: NotEquals, value: ""}]}
  - name: whole
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions: {any: [{key: "{{ length(request.object) }}", operator: GreaterThan, value: 9}]}
"#;

/// A validate rule whose variables read plain field paths of the object runs in a context
/// that holds just those parts (not the shared base, which copies the whole object): its
/// answers are those of the whole context, a missing field's error and a value that holds a
/// variable of its own (substituted again, which may read any part) included.
#[test]
fn rules_that_read_parts_of_the_object_run_in_a_context_of_those_parts() {
    use context::Reads;
    use Status::{Error, Fail, Pass};
    type Answer = (String, Status, String, Option<Vec<String>>);
    let p = policy(READS_PARTS);
    let path = |fields: &[&str]| fields.iter().map(ToString::to_string).collect::<Vec<_>>();
    let parts = |paths: &[&[&str]], images| Reads::Parts {
        object: paths.iter().map(|p| path(p)).collect(),
        images,
    };
    let reads: Vec<&Reads> = p.rules.iter().map(|r| &r.reads).collect();
    assert_eq!(
        reads,
        vec![
            &parts(&[&["metadata", "name"]], false),
            &parts(&[&["spec", "containers"]], false),
            &parts(&[&["spec", "missing"]], false),
            // `labels` whole: the longer path below it is copied with it.
            &parts(&[&["metadata", "labels"]], false),
            &parts(&[], true),
            &parts(&[&["metadata", "annotations", "note"]], false),
            &Reads::Whole,
        ]
    );
    for (rule, whole) in [
        ("{{ request.object }}", true),
        ("{{ to_string(request) }}", true),
        ("{{ @ }}", true),
        ("{{ request.object.{{ request.name }} }}", true),
        ("{{ request.object.spec.containers[0].name }}", false),
        ("{{ request.object.spec | keys(@) }}", false),
    ] {
        let r = json!({"name": "r", "validate": {"message": rule, "pattern": {}}});
        assert_eq!(Reads::of(&r) == Reads::Whole, whole, "{rule}");
    }
    let foreach = json!({"name": "r", "validate": {"foreach": [{"list": "request.object.x"}]}});
    assert_eq!(Reads::of(&foreach), Reads::Whole);

    let every_whole = Policy {
        rules: p.rules.iter().map(|r| Rule { reads: Reads::Whole, ..r.clone() }).collect(),
        ..p.clone()
    };
    let pods = [
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "labels": {"app": "web", "team": "a"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}),
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "y", "labels": {"app": "web"},
                         "annotations": {"note": "{{ request.object.spec.containers[0].name }}"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}, {"name": "d", "image": "a:1"}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "z"}, "spec": null}),
    ];
    let answers = |policy: &Policy, pod: &Value, request: &Request<'_>| -> Vec<Answer> {
        policy
            .evaluate(pod, request)
            .into_iter()
            .map(|r| (r.rule, r.status, r.message, r.path))
            .collect()
    };
    let only = |name: &str| Policy {
        rules: p.rules.iter().filter(|r| r.name == name).cloned().collect(),
        ..p.clone()
    };
    for (pod, noted) in pods.iter().zip([false, true, false]) {
        // Without a shared context every rule that reads parts runs on them.
        let whole = answers(&every_whole, pod, &Request::default());
        assert_eq!(answers(&p, pod, &Request::default()), whole, "{pod}");
        // With one, the first rule that reads a context runs on parts and the next builds the
        // shared base, which the rest use.
        let shared = crate::engine::PolicyContext::default();
        let request = Request { shared_context: Some(&shared), ..Request::default() };
        assert_eq!(answers(&p, pod, &request), whole, "{pod}");
        assert!(shared.borrow().as_ref().is_some_and(Value::is_object), "{pod}");
        let shared = crate::engine::PolicyContext::default();
        let request = Request { shared_context: Some(&shared), ..Request::default() };
        assert_eq!(answers(&only("named"), pod, &request), whole[..1], "{pod}");
        assert_eq!(*shared.borrow(), Some(Value::Null), "parts only, no base: {pod}");
        assert_eq!(answers(&only("counted"), pod, &request), whole[1..2], "{pod}");
        assert!(shared.borrow().as_ref().is_some_and(Value::is_object), "{pod}");
        // A note that holds a variable sends its rule to the whole base.
        let shared = crate::engine::PolicyContext::default();
        let request = Request { shared_context: Some(&shared), ..Request::default() };
        assert_eq!(answers(&only("noted"), pod, &request), whole[5..6], "{pod}");
        assert_eq!(shared.borrow().as_ref().is_some_and(Value::is_object), noted, "{pod}");
    }
    let first = answers(&p, &pods[0], &Request::default());
    let statuses: Vec<Status> = first.iter().map(|a| a.1).collect();
    assert_eq!(statuses, vec![Fail, Pass, Error, Pass, Fail, Error, Pass]);
    assert!(first[0].2.contains("x in  needs a tag"), "{first:?}");
    assert!(first[2].2.contains("Unknown key") && first[2].2.contains("missing"), "{first:?}");
    // The note holds a variable, substituted again: it reads the first container's name.
    let second = answers(&p, &pods[1], &Request::default());
    assert_eq!(second[5].1, Fail, "{second:?}");
    assert!(second[5].2.contains("note: c"), "{second:?}");
    assert_eq!(second[1].1, Fail, "two images: {second:?}");
}

/// A rule run on parts of the object whose context entries load a value holding a variable
/// (here a ConfigMap's) goes on to the whole context: substituted again, the value reads a part
/// the rule's own expressions did not name.
#[test]
fn a_loaded_value_that_holds_a_variable_sends_a_rule_to_the_whole_context() {
    let p = policy(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: notes
  annotations: {pod-policies.kyverno.io/autogen-controllers: none}
spec:
  rules:
  - name: noted
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: notes
      configMap: {name: notes, namespace: apps}
    validate:
      message: "note: {{ notes.data.note }}"
      deny:
        conditions: {any: [{key: "{{ notes.data.note }}", operator: NotEquals, value: ""}]}
"#,
    );
    assert_eq!(p.rules[0].reads, context::Reads::Parts { object: vec![], images: false });
    let mut store = store::ObjectStore::default();
    store.objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "notes", "namespace": "apps"},
        "data": {"note": "{{ request.object.spec.containers[0].name }}"}}));
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}});
    let shared = crate::engine::PolicyContext::default();
    let request =
        Request { cluster: Some(&store), shared_context: Some(&shared), ..Request::default() };
    let answer = &p.evaluate(&pod, &request)[0];
    assert_eq!(
        (answer.status, answer.message.as_str()),
        (Status::Fail, "validation error: note: c"),
        "{answer:?}"
    );
    assert!(shared.borrow().as_ref().is_some_and(Value::is_object), "the whole base was built");
}
