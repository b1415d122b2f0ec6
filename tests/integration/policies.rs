//! Linting with Kyverno policies: the tree's own, and `--policy`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{mtk_in, repo};

fn generate(dir: &std::path::Path, seed: u64, rate: f64) -> Value {
    crate::fleetgen::generate(dir, seed, 20, rate)
}

/// (file, document) of the findings of one policy (prefix of `policy/rule`).
fn policy_hits(report: &Value, policy_rule_prefix: &str) -> BTreeSet<(String, u64)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with(policy_rule_prefix))
        .map(|f| (f["file"].as_str().unwrap().to_string(), f["document"].as_u64().unwrap()))
        .collect()
}

fn truth(t: &Value, code: &str) -> BTreeSet<(String, u64)> {
    t["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["violation"] == code)
        .map(|v| (v["file"].as_str().unwrap().to_string(), v["doc"].as_u64().unwrap()))
        .collect()
}

/// The fleet's own policies (infrastructure/configs/kyverno-policies) find exactly what the
/// generator seeded for the matching codes, through autogen, deny conditions and an apiCall
/// answered from the tree's Namespace objects.
#[test]
fn a_fleets_own_policies_report_its_seeded_violations_at_the_right_lines() {
    for seed in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let t = generate(dir.path(), seed, 0.15);
        let run = mtk_in(dir.path(), &["--format", "json", "."], None);
        assert_eq!(run.code, 1);
        let report = run.json();
        assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{}", report["errors"]);
        for (prefix, code) in [
            ("disallow-privileged/", "MTK-SEC-001"),
            ("require-limits/", "MTK-SEC-003"),
            ("restrict-ingress-host/", "MTK-ISO-001"),
            ("require-pool-toleration/", "MTK-SCHED-001"),
        ] {
            assert_eq!(
                policy_hits(&report, prefix),
                truth(&t, code),
                "seed {seed}: {prefix} vs {code}"
            );
        }
        // The serviceAccountName rule also catches the platform's HelmReleases (it only exempts
        // flux-system); within tenant files it equals the seeded violations.
        let sa: BTreeSet<_> = policy_hits(&report, "verify-flux-sa/serviceAccountName")
            .into_iter()
            .filter(|(f, _)| f.starts_with("tenants/"))
            .collect();
        assert_eq!(sa, truth(&t, "MTK-FLUX-001"));
        // Kyverno resolves a missing sourceRef.namespace to "", so the policy is stricter than
        // the generator: every seeded cross-namespace ref is among its findings (seeds 1 and 2
        // seed 4 and 1 of them).
        assert!(truth(&t, "MTK-FLUX-002")
            .is_subset(&policy_hits(&report, "verify-flux-sa/kustomizationSourceRef")));

        for f in report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with("disallow-privileged/"))
        {
            assert_eq!(f["severity"], "error", "Enforce policies give errors");
            assert_eq!(f["policy"], "disallow-privileged");
            let text =
                std::fs::read_to_string(dir.path().join(f["file"].as_str().unwrap())).unwrap();
            let line = text
                .lines()
                .nth(usize::try_from(f["line"].as_u64().unwrap() - 1).unwrap())
                .unwrap();
            assert!(line.trim_start().starts_with("privileged: true"), "{f}: `{line}`");
        }
    }
}

#[test]
fn tree_policies_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 1, 0.15);
    let run = mtk_in(dir.path(), &["--format", "json", "--no-tree-policies", "."], None);
    let report = run.json();
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["policy"].is_null()));
}

const POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: team-label
  annotations: {policies.kyverno.io/severity: medium}
spec:
  validationFailureAction: Audit
  rules:
  - name: needs-team
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: settings
      configMap: {name: lint-settings, namespace: platform}
    validate:
      message: \"team label must be one of {{ settings.data.teams }}\"
      deny:
        conditions:
          any:
          - key: \"{{ request.object.metadata.labels.team || '' }}\"
            operator: AnyNotIn
            value: \"{{ settings.data.teams }}\"
";

const TREE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: lint-settings
  namespace: platform
  labels: {team: core}
data:
  teams: '[\"core\", \"web\"]'
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: web
  labels: {team: marketing}
";

#[test]
fn policy_flags_apply_policies_with_config_maps_from_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(dir.path().join("policies/team.yaml"), POLICY).unwrap();
    std::fs::write(dir.path().join("tree/cm.yaml"), TREE).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--policy", "policies", "tree"], None);
    assert_eq!(run.code, 0, "Audit findings are warnings: {}", run.stdout);
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    let f = &findings[0];
    assert_eq!(
        (f["rule"].as_str(), f["severity"].as_str()),
        (Some("team-label/needs-team"), Some("warning"))
    );
    assert_eq!(f["resource"]["name"], "app");
    assert!(
        f["message"].as_str().unwrap().contains("team label must be one of [\"core\", \"web\"]"),
        "{f}"
    );
    assert_eq!((f["file"].as_str(), f["line"].as_u64()), (Some("tree/cm.yaml"), Some(10)));

    // The severity annotation, when the config asks for it.
    std::fs::write(dir.path().join("tree/.mtk-lint.yaml"), "policies: {severity: annotation}\n")
        .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--policy", "policies", "tree"], None);
    assert_eq!(run.json()["findings"][0]["severity"], "warning", "medium is a warning");
}

#[test]
fn unusable_policies_are_errors_naming_file_and_line_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(dir.path().join("tree/cm.yaml"), TREE).unwrap();
    std::fs::write(dir.path().join("good.yaml"), POLICY).unwrap();
    let bad = POLICY
        .replace("operator: AnyNotIn", "operator: Sometimes")
        .replace("name: team-label", "name: bad-op");
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let cel = "apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata: {name: cel}\nspec:\n  evaluation: {mode: JSON}\n";
    std::fs::write(dir.path().join("cel.yaml"), cel).unwrap();
    let run = mtk_in(
        dir.path(),
        &[
            "--format",
            "json",
            "--policy",
            "good.yaml",
            "--policy",
            "bad.yaml",
            "--policy",
            "cel.yaml",
            "tree",
        ],
        None,
    );
    assert_eq!(run.code, 2);
    let report = run.json();
    let errors = crate::support::error_lines(&report);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("bad.yaml:20: invalid policy `bad-op`: rule `needs-team`: unknown condition operator `Sometimes`")), "{errors:?}");
    assert!(
        errors.iter().any(
            |e| e.contains("cel.yaml") && e.contains("evaluation mode `JSON` is not supported")
        ),
        "{errors:?}"
    );
    assert_eq!(report["findings"].as_array().unwrap().len(), 1, "the good policy still runs");
    let run = mtk_in(dir.path(), &["--format", "json", "--policy", "tree/cm.yaml", "tree"], None);
    assert!(run.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no Kyverno policy found"));
}

/// A tree holding CEL policies: a ValidatingPolicy whose `resource.List` is answered from the
/// tree (every Deployment needs a HorizontalPodAutoscaler), and a ClusterPolicy with
/// `validate.cel` whose autogen reaches the Deployment's pod template.
const CEL_TREE: &str = "apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: require-hpa}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  variables:
  - name: hpas
    expression: >-
      resource.List('autoscaling/v2', 'horizontalpodautoscalers', object.metadata.namespace).items
  validations:
  - expression: variables.hpas.exists(h, h.spec.scaleTargetRef.name == object.metadata.name)
    messageExpression: \"'no HPA scales ' + object.metadata.name\"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-latest}
spec:
  validationFailureAction: Audit
  rules:
  - name: tagged
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      cel:
        expressions:
        - expression: object.spec.containers.all(c, !c.image.endsWith(':latest'))
          message: images must not use the latest tag
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: two-replicas}
spec:
  validationActions: [Warn]
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: object.spec.?replicas.orValue(1) >= 2
    message: run at least two replicas
";

const CEL_APPS: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - {name: web, image: 'nginx:latest'}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      containers:
      - {name: api, image: 'api:1.2'}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 3
";

#[test]
fn cel_policies_in_the_tree_are_applied_with_lookups_served_from_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policies.yaml"), CEL_TREE).unwrap();
    std::fs::write(dir.path().join("apps.yaml"), CEL_APPS).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{}", run.stdout);
    let findings: BTreeSet<(String, String, u64, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"].is_string())
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["severity"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Each points at what it is about: the name no HPA refers to (the first field of `object`
    // the expression reads), the container that made `all` false.
    let expected: BTreeSet<(String, String, u64, String, String)> = [
        ("require-hpa", 3, "error", "no HPA scales web"),
        ("no-latest/autogen-tagged", 8, "warning", "images must not use the latest tag"),
        // A policy that only warns still reports, at warning severity.
        ("two-replicas", 4, "warning", "run at least two replicas"),
        ("two-replicas", 13, "warning", "run at least two replicas"),
    ]
    .into_iter()
    .map(|(r, l, s, m)| (r.to_string(), "apps.yaml".to_string(), l, s.to_string(), m.to_string()))
    .collect();
    assert_eq!(findings, expected);
    // The human report names a policy's finding once, as the JSON does.
    let human = mtk_in(dir.path(), &["--color", "never", "."], None);
    let headers: Vec<&str> = human
        .stdout
        .lines()
        .filter(|l| l.starts_with("require-hpa") || l.starts_with("no-latest"))
        .collect();
    assert_eq!(headers, ["require-hpa", "no-latest/autogen-tagged"], "{}", human.stdout);
}

/// An ImageValidatingPolicy in a tree: what can be known offline is a finding at the line
/// of the image (a tag where a digest is needed, once `mutateDigest` is off); a signature
/// check, which reads the registry, is a finding saying it could not be made, never a pass.
#[test]
fn image_validating_policies_report_digests_and_never_pass_what_needs_a_registry() {
    let policy = "apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {name: signed}
spec:
  validationActions: [Deny]
  validationConfigurations: {mutateDigest: false}
  matchConstraints:
    resourceRules:
    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  matchImageReferences:
  - glob: ghcr.io/acme/*
  attestors:
  - name: notary
    notary: {certs: {value: CERT}}
  validations:
  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.notary]) > 0)
    message: unsigned image
";
    let pods = "apiVersion: v1
kind: Pod
metadata: {name: tagged, namespace: shop}
spec:
  containers:
  - {name: a, image: 'docker.io/library/nginx:1.27'}
  - {name: b, image: 'ghcr.io/acme/app:v2'}
---
apiVersion: v1
kind: Pod
metadata: {name: pinned, namespace: shop}
spec:
  containers:
  - name: b
    image: 'ghcr.io/acme/app@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945'
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: shop}
spec:
  containers:
  - {name: a, image: 'docker.io/library/nginx:1.27'}
";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    std::fs::write(dir.path().join("pods.yaml"), pods).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{}", run.stdout);
    let findings: Vec<(u64, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"] == "signed")
        .map(|f| (f["line"].as_u64().unwrap(), f["message"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(findings[0], (7, "image ghcr.io/acme/app:v2 does not have a digest".to_string()));
    assert_eq!(findings[1].0, 9, "the pinned pod, where the check could not be made");
    assert!(
        findings[1].1.starts_with("could not evaluate the rule:")
            && findings[1].1.contains("verifyImageSignatures()"),
        "{findings:?}"
    );
}

#[test]
fn an_invalid_cel_expression_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken =
        CEL_TREE.replace("h.spec.scaleTargetRef.name ==", "h.spec.scaleTargetRef.name ==)");
    std::fs::write(dir.path().join("policies.yaml"), broken).unwrap();
    std::fs::write(dir.path().join("apps.yaml"), CEL_APPS).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let error = &report["errors"][0];
    assert_eq!(error["file"], "policies.yaml");
    assert_eq!(error["line"], 17);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("invalid policy `require-hpa`")
            && message.contains("validations[0] is not valid CEL"),
        "{message}"
    );
    // The other policy still runs.
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"].is_string())
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["two-replicas", "no-latest/autogen-tagged", "two-replicas"]);
}

/// examples/policies: its Kyverno suite passes, and on the example fleet its two CEL policies
/// give the findings its README lists.
#[test]
fn the_cel_policy_example_tests_itself_and_finds_what_its_readme_lists() {
    let run = crate::support::mtk(&["test", "examples/policies"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with("5 passed, 0 failed"), "{}", run.stdout);

    let run = crate::support::mtk(&[
        "--format",
        "json",
        "--policy",
        "examples/policies",
        "examples/flux-fleet",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{}", run.stdout);
    let mut found: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"].is_string())
        .map(|f| {
            format!(
                "| {} | `{}:{}:{}` | {} |",
                f["rule"].as_str().unwrap(),
                f["file"].as_str().unwrap().trim_start_matches("examples/flux-fleet/"),
                f["line"],
                f["column"],
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    let readme = std::fs::read_to_string(repo().join("examples/policies/README.md")).unwrap();
    let mut listed: Vec<String> = readme
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(".yaml:"))
        .map(String::from)
        .collect();
    found.sort();
    listed.sort();
    assert_eq!(found, listed);
}

/// A mutate rule that cannot run offline is one error per reason (naming the first object and
/// how many others), not one per object; the objects are checked as written.
#[test]
fn a_mutator_that_cannot_run_is_one_error_naming_how_many_objects() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: dns}\nspec:\n  rules:\n  - name: dns\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    context:\n    - name: cfg\n      configMap: {name: kubeadm-config, namespace: kube-system}\n    mutate:\n      patchStrategicMerge:\n        spec: {dnsPolicy: None}\n";
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let pods: Vec<String> = (0..3)
        .map(|i| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: a}}\nspec:\n  containers: [{{name: c, image: x:1}}]\n"))
        .collect();
    std::fs::write(dir.path().join("pods.yaml"), pods.join("---\n")).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let errors = run.json()["errors"].as_array().unwrap().clone();
    let mutate: Vec<&Value> = errors
        .iter()
        .filter(|e| e["message"].as_str().unwrap().contains("could not mutate"))
        .collect();
    assert_eq!(mutate.len(), 1, "{errors:?}");
    let message = mutate[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("ClusterPolicy dns rule `dns` could not mutate Pod `a/p0` and 2 other objects: failed to load context"),
        "{message}"
    );
    assert_eq!(
        (mutate[0]["file"].as_str(), mutate[0]["line"].as_u64()),
        (Some("pods.yaml"), Some(1))
    );
}

const VAP: &str = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: max-replicas}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}\n  validations:\n  - expression: object.spec.replicas <= 5\n    message: at most 5 replicas\n";
const VAP_BINDING: &str = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: max-replicas}\nspec:\n  policyName: max-replicas\n  validationActions: [Deny]\n";
const DEPLOYMENTS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: big, namespace: a}\nspec:\n  replicas: 9\n  template: {spec: {containers: [{name: c, image: x:1}]}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: small, namespace: a}\nspec:\n  replicas: 2\n  template: {spec: {containers: [{name: c, image: x:1}]}}\n";

/// A ValidatingAdmissionPolicy validates where a binding binds it, with the binding's actions;
/// `mtk-lint test` runs its rows.
#[test]
fn validating_admission_policies_apply_through_their_bindings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deployments.yaml"), DEPLOYMENTS).unwrap();
    std::fs::write(dir.path().join("vap.yaml"), VAP).unwrap();
    let vap_findings = |run: &crate::support::Run| -> Vec<(String, String, u64)> {
        run.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "max-replicas")
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap().to_string();
                (s("severity"), s("file"), f["line"].as_u64().unwrap())
            })
            .collect()
    };
    // Bound to nothing, it does nothing.
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert!(vap_findings(&run).is_empty(), "{}", run.stdout);
    std::fs::write(dir.path().join("binding.yaml"), VAP_BINDING).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(vap_findings(&run), [("error".to_string(), "deployments.yaml".to_string(), 5)]);
    // A binding with no actions is an error at the binding.
    std::fs::write(
        dir.path().join("binding.yaml"),
        VAP_BINDING.replace("  validationActions: [Deny]\n", ""),
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let errors = run.json()["errors"].as_array().unwrap().clone();
    assert!(
        errors.iter().any(|e| e["file"] == "binding.yaml"
            && e["message"].as_str().unwrap().contains("needs validationActions")),
        "{errors:?}"
    );

    // `mtk-lint test`: rows of isValidatingAdmissionPolicy results.
    let suite = tempfile::tempdir().unwrap();
    std::fs::write(suite.path().join("policy.yaml"), format!("{VAP}---\n{VAP_BINDING}")).unwrap();
    std::fs::write(suite.path().join("resources.yaml"), DEPLOYMENTS).unwrap();
    std::fs::write(
        suite.path().join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: vap}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n- {policy: max-replicas, resources: [big], kind: Deployment, result: fail, isValidatingAdmissionPolicy: true}\n- {policy: max-replicas, resources: [small], kind: Deployment, result: pass, isValidatingAdmissionPolicy: true}\n",
    )
    .unwrap();
    let run = mtk_in(suite.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with("2 passed, 0 failed"), "{}", run.stdout);
}

const MAP: &str = "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingAdmissionPolicy\nmetadata: {name: cap-replicas}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}\n  matchConditions:\n  - {name: too-many, expression: object.spec.replicas > 5}\n  mutations:\n  - patchType: ApplyConfiguration\n    applyConfiguration:\n      expression: 'Object{spec: Object.spec{replicas: 5}}'\n";
const MAP_BINDING: &str = "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingAdmissionPolicyBinding\nmetadata: {name: cap-replicas}\nspec:\n  policyName: cap-replicas\n";

/// A MutatingAdmissionPolicy mutates at admission where its binding binds it, before the
/// validating policies see the object; `mtk-lint test` compares what it made.
#[test]
fn mutating_admission_policies_mutate_before_validation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deployments.yaml"), DEPLOYMENTS).unwrap();
    std::fs::write(dir.path().join("vap.yaml"), format!("{VAP}---\n{VAP_BINDING}")).unwrap();
    std::fs::write(dir.path().join("map.yaml"), MAP).unwrap();
    let replicas = |run: &crate::support::Run| {
        run.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "max-replicas")
            .count()
    };
    // Bound to nothing, the mutating policy does nothing: the big Deployment is reported.
    assert_eq!(replicas(&mtk_in(dir.path(), &["--format", "json", "."], None)), 1);
    std::fs::write(dir.path().join("map.yaml"), format!("{MAP}---\n{MAP_BINDING}")).unwrap();
    assert_eq!(replicas(&mtk_in(dir.path(), &["--format", "json", "."], None)), 0);
    let written = mtk_in(dir.path(), &["--format", "json", "--no-admission", "."], None);
    assert_eq!(replicas(&written), 1);

    let suite = tempfile::tempdir().unwrap();
    std::fs::write(suite.path().join("policy.yaml"), format!("{MAP}---\n{MAP_BINDING}")).unwrap();
    std::fs::write(suite.path().join("resources.yaml"), DEPLOYMENTS).unwrap();
    std::fs::write(
        suite.path().join("patched.yaml"),
        DEPLOYMENTS.replace("replicas: 9", "replicas: 5"),
    )
    .unwrap();
    std::fs::write(
        suite.path().join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: map}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n- {policy: cap-replicas, resources: [big], kind: Deployment, result: pass, patchedResources: patched.yaml, isMutatingAdmissionPolicy: true}\n- {policy: cap-replicas, resources: [small], kind: Deployment, result: skip, patchedResources: patched.yaml, isMutatingAdmissionPolicy: true}\n",
    )
    .unwrap();
    let run = mtk_in(suite.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with("2 passed, 0 failed"), "{}", run.stdout);
}

/// A policy's `namespaceSelector` reads the labels of the object's namespace as the tree
/// defines it: its first Namespace object (tree order), none for a namespace the tree does not
/// define, and the labels a mutating policy set at admission.
#[test]
fn namespace_selectors_see_the_namespace_labels_admission_leaves() {
    const PODS: [&str; 4] = ["team", "dev", "later", "ghost"];
    let dir = tempfile::tempdir().unwrap();
    let namespace = |name: &str, tier: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{tier: {tier}}}\n---\n")
    };
    // `team` twice: the first (in `a-namespaces.yaml`) is the one a policy sees.
    let first = namespace("team", "prod") + &namespace("dev", "dev") + &namespace("later", "dev");
    std::fs::write(dir.path().join("a-namespaces.yaml"), first).unwrap();
    std::fs::write(dir.path().join("b-namespaces.yaml"), namespace("team", "dev")).unwrap();
    // One pod per namespace, nine lines each.
    let digest = "a".repeat(64);
    let pod = |ns: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: {ns}\nspec:\n  containers:\n  - {{name: c, image: 'r.example/c@sha256:{digest}'}}\n---\n")
    };
    std::fs::write(dir.path().join("pods.yaml"), PODS.map(pod).concat()).unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: prod-only}\nspec:\n  rules:\n  - name: no-pods-in-prod\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          namespaceSelector:\n            matchLabels: {tier: prod}\n    validate:\n      message: no pods in prod\n      deny: {}\n",
    )
    .unwrap();
    // The namespaces of the pods the policy denies.
    let denied = || -> BTreeSet<&str> {
        let report = mtk_in(dir.path(), &["--format", "json", "."], None).json();
        let findings = report["findings"].as_array().unwrap().clone();
        findings
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with("prod-only/"))
            .map(|f| {
                assert_eq!(f["file"], "pods.yaml", "{f}");
                PODS[(f["line"].as_u64().unwrap() as usize - 1) / 9]
            })
            .collect()
    };
    assert_eq!(denied(), BTreeSet::from(["team"]));

    // A mutating policy labels `later` at admission: the selector sees the label then.
    std::fs::write(
        dir.path().join("label.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: label-later}\nspec:\n  rules:\n  - name: prod\n    match:\n      any:\n      - resources:\n          kinds: [Namespace]\n          names: [later]\n    mutate:\n      patchStrategicMerge:\n        metadata:\n          labels:\n            tier: prod\n",
    )
    .unwrap();
    assert_eq!(denied(), BTreeSet::from(["team", "later"]));
}
