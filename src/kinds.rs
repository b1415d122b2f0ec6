//! Kubernetes kinds: which are cluster-scoped, and their plural (URL) names.
//!
//! Built-in kinds come from `k8s-openapi` (generated from the Kubernetes OpenAPI spec), so the
//! table follows Kubernetes releases; custom resources take their scope from the
//! CustomResourceDefinitions in the tree, then from a short list of well-known ecosystem kinds.

use std::collections::HashMap;
use std::sync::OnceLock;

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};

/// What is known about a built-in kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Plural resource name used in API paths (`networkpolicies`).
    pub plural: &'static str,
    pub namespaced: bool,
}

trait Scope {
    const NAMESPACED: bool;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

fn info<T>() -> KindInfo
where
    T: Resource,
    T::Scope: Scope,
{
    KindInfo {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        plural: T::URL_PATH_SEGMENT,
        namespaced: <T::Scope as Scope>::NAMESPACED,
    }
}

macro_rules! builtin_kinds {
    ($($ty:path,)*) => {
        fn builtin_table() -> Vec<KindInfo> {
            vec![$(info::<$ty>(),)*]
        }
    };
}

builtin_kinds! {
    k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::certificates::v1::CertificateSigningRequest,
    k8s_openapi::api::certificates::v1::ClusterTrustBundle,
    k8s_openapi::api::certificates::v1::PodCertificateRequest,
    k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle,
    k8s_openapi::api::certificates::v1beta1::PodCertificateRequest,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::coordination::v1alpha2::LeaseCandidate,
    k8s_openapi::api::coordination::v1beta1::LeaseCandidate,
    k8s_openapi::api::core::v1::ComponentStatus,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::LimitRange,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::PodTemplate,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::ResourceQuota,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::core::v1::ServiceAccount,
    k8s_openapi::api::discovery::v1::EndpointSlice,
    k8s_openapi::api::events::v1::Event,
    k8s_openapi::api::flowcontrol::v1::FlowSchema,
    k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration,
    k8s_openapi::api::lifecycle::v1alpha1::EvictionRequest,
    k8s_openapi::api::networking::v1::IPAddress,
    k8s_openapi::api::networking::v1::Ingress,
    k8s_openapi::api::networking::v1::IngressClass,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::networking::v1::ServiceCIDR,
    k8s_openapi::api::node::v1::RuntimeClass,
    k8s_openapi::api::policy::v1::PodDisruptionBudget,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
    k8s_openapi::api::resource::v1::DeviceClass,
    k8s_openapi::api::resource::v1::DeviceTaintRule,
    k8s_openapi::api::resource::v1::ResourceClaim,
    k8s_openapi::api::resource::v1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1::ResourceSlice,
    k8s_openapi::api::resource::v1alpha3::DeviceTaintRule,
    k8s_openapi::api::resource::v1alpha3::ResourcePoolStatusRequest,
    k8s_openapi::api::resource::v1beta1::DeviceClass,
    k8s_openapi::api::resource::v1beta1::ResourceClaim,
    k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta1::ResourceSlice,
    k8s_openapi::api::resource::v1beta2::DeviceClass,
    k8s_openapi::api::resource::v1beta2::DeviceTaintRule,
    k8s_openapi::api::resource::v1beta2::ResourceClaim,
    k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta2::ResourceSlice,
    k8s_openapi::api::scheduling::v1::PriorityClass,
    k8s_openapi::api::scheduling::v1alpha3::CompositePodGroup,
    k8s_openapi::api::scheduling::v1alpha3::PodGroup,
    k8s_openapi::api::scheduling::v1alpha3::Workload,
    k8s_openapi::api::scheduling::v1beta1::PodGroup,
    k8s_openapi::api::scheduling::v1beta1::Workload,
    k8s_openapi::api::storage::v1::CSIDriver,
    k8s_openapi::api::storage::v1::CSINode,
    k8s_openapi::api::storage::v1::CSIStorageCapacity,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::storage::v1::VolumeAttachment,
    k8s_openapi::api::storage::v1::VolumeAttributesClass,
    k8s_openapi::api::storagemigration::v1::StorageVersionMigration,
    k8s_openapi::api::storagemigration::v1beta1::StorageVersionMigration,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
}

/// Cluster-scoped custom resources common in GitOps repos, by (group, kind).
const CLUSTER_SCOPED_CRDS: &[(&str, &str)] = &[
    ("kyverno.io", "ClusterPolicy"),
    ("kyverno.io", "ClusterCleanupPolicy"),
    ("policies.kyverno.io", "ValidatingPolicy"),
    ("policies.kyverno.io", "MutatingPolicy"),
    ("policies.kyverno.io", "GeneratingPolicy"),
    ("policies.kyverno.io", "ImageValidatingPolicy"),
    ("policies.kyverno.io", "DeletingPolicy"),
    ("wgpolicyk8s.io", "ClusterPolicyReport"),
    ("cert-manager.io", "ClusterIssuer"),
    ("gateway.networking.k8s.io", "GatewayClass"),
    ("external-secrets.io", "ClusterSecretStore"),
    ("external-secrets.io", "ClusterExternalSecret"),
    ("cilium.io", "CiliumClusterwideNetworkPolicy"),
    ("crd.projectcalico.org", "GlobalNetworkPolicy"),
    ("projectcalico.org", "GlobalNetworkPolicy"),
    ("policy.networking.k8s.io", "AdminNetworkPolicy"),
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
    ("templates.gatekeeper.sh", "ConstraintTemplate"),
    ("capsule.clastix.io", "Tenant"),
    ("karpenter.sh", "NodePool"),
];

struct Table {
    /// foldhash: looked up for every object many times over while rendering.
    by_group_kind: foldhash::HashMap<(&'static str, &'static str), KindInfo>,
    /// [`CLUSTER_SCOPED_CRDS`], looked up as often (a fleet's custom resources miss the table).
    cluster_crds: foldhash::HashSet<(&'static str, &'static str)>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_group_kind = foldhash::HashMap::default();
        for k in builtin_table() {
            // Several versions of one kind share a scope; keep the first (stable) entry.
            by_group_kind.entry((k.group, k.kind)).or_insert(k);
        }
        Table { by_group_kind, cluster_crds: CLUSTER_SCOPED_CRDS.iter().copied().collect() }
    })
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
#[must_use]
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    // A byte search: asked for every object many times over while rendering, and a char
    // searcher's set-up costs more than the dozen bytes it would search.
    match api_version.bytes().rposition(|b| b == b'/') {
        Some(at) => (&api_version[..at], &api_version[at + 1..]),
        None => ("", api_version),
    }
}

/// The built-in kind for an apiVersion and kind, if Kubernetes defines it.
#[must_use]
pub fn builtin(api_version: &str, kind: &str) -> Option<KindInfo> {
    let (group, _) = split_api_version(api_version);
    table().by_group_kind.get(&(group, kind)).copied()
}

/// Every built-in kind.
pub fn builtins() -> impl Iterator<Item = KindInfo> {
    table().by_group_kind.values().copied()
}

/// The built-in kind with this API group and plural resource name (`networkpolicies`).
#[must_use]
pub fn kind_for_plural(group: &str, plural: &str) -> Option<&'static str> {
    table().by_group_kind.values().find(|k| k.group == group && k.plural == plural).map(|k| k.kind)
}

/// Whether a kind is cluster-scoped. `crd_scopes` holds (group, kind) → namespaced from the
/// CustomResourceDefinitions in the tree. Unknown kinds are taken as namespaced, as most
/// custom resources are.
#[must_use]
pub fn is_cluster_scoped<S: std::hash::BuildHasher>(
    api_version: &str,
    kind: &str,
    crd_scopes: &HashMap<(String, String), bool, S>,
) -> bool {
    let (group, _) = split_api_version(api_version);
    if let Some(info) = table().by_group_kind.get(&(group, kind)) {
        return !info.namespaced;
    }
    if !crd_scopes.is_empty() {
        if let Some(namespaced) = crd_scopes.get(&(group.to_string(), kind.to_string())) {
            return !namespaced;
        }
    }
    table().cluster_crds.contains(&(group, kind))
}

/// JSON pointer of the pod spec inside an object of a pod-bearing kind.
#[must_use]
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "PodTemplate" => "/template/spec",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group is what comes before the last `/`; an apiVersion without one is the core
    /// group's.
    #[test]
    fn an_api_version_splits_at_its_last_slash() {
        for (api_version, split) in [
            ("apps/v1", ("apps", "v1")),
            ("v1", ("", "v1")),
            ("", ("", "")),
            ("a/b/v1", ("a/b", "v1")),
            ("/v1", ("", "v1")),
            ("apps/", ("apps", "")),
            ("größe.example/v1β", ("größe.example", "v1β")),
        ] {
            assert_eq!(split_api_version(api_version), split, "{api_version}");
        }
    }

    #[test]
    fn scopes_come_from_the_kubernetes_spec() {
        let none = HashMap::new();
        assert!(is_cluster_scoped("v1", "Namespace", &none));
        assert!(is_cluster_scoped("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &none));
        assert!(!is_cluster_scoped("apps/v1", "Deployment", &none));
        assert!(!is_cluster_scoped("networking.k8s.io/v1", "NetworkPolicy", &none));
        assert!(is_cluster_scoped("kyverno.io/v1", "ClusterPolicy", &none));
        assert!(!is_cluster_scoped("example.com/v1", "Widget", &none));
        let crds = HashMap::from([(("example.com".to_string(), "Widget".to_string()), false)]);
        assert!(is_cluster_scoped("example.com/v1", "Widget", &crds));
        assert_eq!(
            builtin("networking.k8s.io/v1", "NetworkPolicy").unwrap().plural,
            "networkpolicies"
        );
    }
}
