//! Tenancy models read with no configuration: Capsule Tenants, HNC hierarchies, Argo CD projects
//! (examples/ shows each; these pin the edges).

use crate::support::{locations, mtk_in};

const SELECT: &str = "MTK-NET-002,MTK-ISO-005";

fn lint(files: &[(&str, &str)]) -> Vec<(String, String, u64, u64)> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let run = mtk_in(dir.path(), &["--format", "json", "--select", SELECT, "."], None);
    assert_eq!(run.json()["errors"], serde_json::json!([]), "{}", run.stdout);
    locations(&run.json())
}

const NAMESPACE: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: oil-prod
  labels: {capsule.clastix.io/tenant: oil}
";

const TENANT: &str = "apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata: {name: oil}
spec:
  networkPolicies:
    items:
    - {podSelector: {}, policyTypes: [Ingress]}
  resourceQuotas:
    items:
    - hard: {pods: '10'}
  limitRanges:
    items:
    - limits: [{type: Container, default: {cpu: 100m}}]
";

/// The namespace is the tenant's through Capsule's label either way; only the Tenant's own
/// policies, quotas and limit ranges make it isolated.
#[test]
fn a_capsule_tenant_provides_default_deny_and_quotas_to_its_namespaces() {
    assert_eq!(lint(&[("ns.yaml", NAMESPACE), ("tenant.yaml", TENANT)]), vec![]);
    let without = lint(&[("ns.yaml", NAMESPACE)]);
    assert_eq!(
        without,
        [
            crate::support::loc("MTK-ISO-005", "ns.yaml", 3, 1),
            crate::support::loc("MTK-NET-002", "ns.yaml", 3, 1)
        ]
    );
    // v1alpha1 spells the lists without `items`.
    let alpha = "apiVersion: capsule.clastix.io/v1alpha1\nkind: Tenant\nmetadata: {name: oil}\nspec:\n  networkPolicies: [{podSelector: {}, policyTypes: [Ingress]}]\n  resourceQuotas: [{hard: {pods: '10'}}]\n  limitRanges: [{limits: [{type: Container, default: {cpu: 100m}}]}]\n";
    assert_eq!(lint(&[("ns.yaml", NAMESPACE), ("tenant.yaml", alpha)]), vec![]);
    // A policy that does not select every pod is no default deny.
    let partial = TENANT.replace("{podSelector: {}, ", "{podSelector: {matchLabels: {app: web}}, ");
    let found = lint(&[("ns.yaml", NAMESPACE), ("tenant.yaml", &partial)]);
    assert_eq!(found, [crate::support::loc("MTK-NET-002", "ns.yaml", 3, 1)]);
}

/// A platform namespace is never a tenant's, even with Capsule's label.
#[test]
fn platform_namespaces_are_never_tenant_namespaces() {
    let ns = NAMESPACE.replace("oil-prod", "kube-system");
    assert_eq!(lint(&[("ns.yaml", &ns)]), vec![]);
}

/// HierarchyConfigurations that name each other as parents end (no tenant, no hang).
#[test]
fn a_cycle_of_hierarchy_configurations_ends() {
    let hc = |ns: &str, parent: &str| {
        format!(
            "apiVersion: hnc.x-k8s.io/v1alpha2\nkind: HierarchyConfiguration\nmetadata: {{name: hierarchy, namespace: {ns}}}\nspec: {{parent: {parent}}}\n"
        )
    };
    let a = hc("a", "b");
    let b = hc("b", "a");
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";
    assert_eq!(lint(&[("a.yaml", &a), ("b.yaml", &b), ("ns.yaml", ns)]), vec![]);
    // With a labelled root above the cycle's entry, the child is the root tenant's.
    let c = hc("c", "root");
    let root = "apiVersion: v1\nkind: Namespace\nmetadata: {name: root, labels: {mtk.io/tenant: t}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n";
    let found = lint(&[("a.yaml", &a), ("b.yaml", &b), ("c.yaml", &c), ("root.yaml", root)]);
    let namespaces: Vec<u64> = found.iter().filter(|f| f.0 == "MTK-NET-002").map(|f| f.2).collect();
    assert_eq!(namespaces, [3, 7], "root and c (their metadata), not a or b: {found:?}");
}

/// Regression (field trial, onedr0p/home-ops): kustomize's `namespace:` renames the Namespace
/// objects it includes (`name: _` is a common placeholder), so the tenant namespace is
/// `team-a`, guarded by the quota, limit range and default deny beside it; without the rename
/// it was a namespace `_` with none of them.
#[test]
fn kustomize_renames_the_namespace_objects_it_includes() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: _\n  labels: {toolkit.fluxcd.io/tenant: team-a}\n";
    let guard = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {pods: '1'}}\n---\napiVersion: v1\nkind: LimitRange\nmetadata: {name: l}\nspec: {limits: [{type: Container, default: {cpu: 100m}}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";
    let kustomization = "namespace: team-a\nresources: [ns.yaml, guard.yaml]\n";
    let files = [("kustomization.yaml", kustomization), ("ns.yaml", ns), ("guard.yaml", guard)];
    assert_eq!(lint(&files), vec![]);
    // Without the kustomization, `_` is the tenant namespace and the guards are elsewhere.
    let found = lint(&files[1..]);
    assert_eq!(found.len(), 2, "{found:?}");
}

/// A team label on a controller's namespace under `infrastructure/` marks ownership, not a
/// tenant (field trial, flux2-kustomize-helm-example): no tenant rule applies to it, unless a
/// tenant reconciler (a Flux Kustomization or HelmRelease with a serviceAccountName) runs there.
#[test]
fn labelled_namespaces_the_platform_deploys_are_not_tenant_namespaces() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n  labels: {toolkit.fluxcd.io/tenant: sre-team}\n";
    assert_eq!(lint(&[("infrastructure/controllers/cert-manager.yaml", ns)]), vec![]);
    let found = lint(&[("apps/cert-manager.yaml", ns)]);
    assert_eq!(found.len(), 2, "outside infrastructure/ it is a tenant namespace: {found:?}");
    let reconciler = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: cm, namespace: cert-manager}\nspec: {serviceAccountName: sre-team, chart: {spec: {chart: cert-manager}}}\n";
    let found = lint(&[
        ("infrastructure/controllers/cert-manager.yaml", ns),
        ("infrastructure/controllers/release.yaml", reconciler),
    ]);
    assert_eq!(found.len(), 2, "a tenant reconciler makes it a tenant's: {found:?}");
    // Only directories within the linted tree count: a checkout named `infrastructure` is not
    // the platform's folder.
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("infrastructure");
    std::fs::create_dir_all(checkout.join("apps")).unwrap();
    std::fs::write(checkout.join("apps/cert-manager.yaml"), ns).unwrap();
    for (cwd, input) in [(dir.path(), "infrastructure"), (checkout.as_path(), ".")] {
        let run = mtk_in(cwd, &["--format", "json", "--select", SELECT, input], None);
        assert_eq!(locations(&run.json()).len(), 2, "{input}: {}", run.stdout);
    }
}

/// Regression (review): a namespace declared once per cluster is reported at every declaration,
/// so a suppression on one copy accepts that copy only (and is not stale).
#[test]
fn every_declaration_of_a_tenant_namespace_is_reported() {
    let ns = |ignore: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels: {{mtk.io/tenant: team-a}}\n{ignore}")
    };
    let ignored = ns(
        "  annotations: {mtk-lint.dev/ignore: 'MTK-NET-002: staging has no policy engine yet'}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    for (cluster, text) in [("production", ns("")), ("staging", ignored)] {
        std::fs::create_dir_all(dir.path().join("clusters").join(cluster)).unwrap();
        std::fs::write(dir.path().join("clusters").join(cluster).join("ns.yaml"), text).unwrap();
    }
    let args = ["--format", "json", "--select", "MTK-NET-002,MTK-GEN-002", "."];
    let run = mtk_in(dir.path(), &args, None);
    assert_eq!(
        locations(&run.json()),
        [crate::support::loc("MTK-NET-002", "clusters/production/ns.yaml", 3, 1)]
    );
    assert_eq!(run.json()["summary"]["suppressed"], 1);
}

/// A Capsule `allowedRegex` that does not compile is an error at its line: silently dropping it
/// would leave the tenant with no registry list, and the image rule with nothing to check.
#[test]
fn an_invalid_capsule_regex_is_an_error_at_its_line() {
    let tenant = "apiVersion: capsule.clastix.io/v1beta2\nkind: Tenant\nmetadata: {name: oil}\nspec:\n  containerRegistries:\n    allowedRegex: '^registry(\\.example\\.com$'\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tenant.yaml"), tenant).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let errors = run.json()["errors"].clone();
    assert_eq!(
        (errors[0]["file"].as_str(), errors[0]["line"].as_u64()),
        (Some("tenant.yaml"), Some(6))
    );
    assert!(
        errors[0]["message"].as_str().unwrap().contains("Capsule Tenant `oil`: allowedRegex"),
        "{errors}"
    );
}
