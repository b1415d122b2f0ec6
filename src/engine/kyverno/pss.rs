//! `validate.podSecurity`: the Kubernetes Pod Security Standards, baseline and restricted
//! (kyverno-compat.md, section 15), with Kyverno's `exclude` entries, as Kubernetes'
//! pod-security-admission library defines them for each version of the standards (`v1.0` …
//! `v1.35`; `latest` is [`LATEST`]). A check applies in the newest form at or below the version
//! asked for, and not at all below its first version:
//!
//! - sysctls: the safe list of 1.0, with `ip_local_reserved_ports` from 1.27, the four
//!   `tcp_keepalive`/`tcp_fin_timeout` ones from 1.29, `tcp_rmem`/`tcp_wmem` from 1.32;
//! - seccomp: annotations (`seccomp.security.alpha.kubernetes.io/…`) before 1.19, fields from
//!   1.19 (restricted: a profile required from 1.19);
//! - SELinux: `container_engine_t` allowed from 1.31;
//! - restricted: `allowPrivilegeEscalation: false` required from 1.8, capabilities (drop `ALL`,
//!   add only `NET_BIND_SERVICE`) from 1.22 (before, the baseline capabilities), `runAsUser`
//!   not 0 from 1.23; from 1.25 Windows pods are exempt from those three and the seccomp one;
//! - probes and lifecycle hooks: no `host` from 1.34;
//! - a pod in a user namespace (`hostUsers: false`): from 1.35 `runAsNonRoot`, `runAsUser` and
//!   (baseline only) `procMount` do not apply to it.

use crate::pointer::Pointer as _;
use serde_json::Value;

use super::wildcard;

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub control: &'static str,
    /// Image of the container concerned; `None` for pod-level checks.
    pub image: Option<String>,
    /// The offending value, as text.
    pub value: String,
    /// Path segments of the field, from the pod spec.
    pub path: Vec<String>,
}

const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The version `latest` stands for: the newest standards of the library Kyverno's CLI builds
/// with (the policy library's suites agree with it).
pub const LATEST: u32 = 33;

/// The newest version a check distinguishes.
pub const NEWEST: u32 = 35;

/// Safe sysctls, each with the minor version from which it is safe.
const SAFE_SYSCTLS: &[(&str, u32)] = &[
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
];

/// A `version` of the standards: `latest`, or `v1.N` (the minor `N`); versions past the
/// newest one a check distinguishes are that one.
pub fn parse_version(text: &str) -> Result<u32, String> {
    if text.is_empty() || text == "latest" {
        return Ok(LATEST);
    }
    let minor = text
        .strip_prefix("v1.")
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("podSecurity version `{text}` is not `latest` or `v1.N`"))?;
    Ok(minor.min(NEWEST))
}

const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

const SELINUX_TYPES: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];

/// The pod spec of a Pod or pod controller, with its path segments.
#[must_use]
pub fn pod_spec(resource: &Value) -> Option<(&Value, Vec<String>)> {
    for path in [
        &["spec", "template", "spec"][..],
        &["spec", "jobTemplate", "spec", "template", "spec"],
        &["spec"],
    ] {
        let node = path.iter().try_fold(resource, |node, k| node.get(*k));
        if let Some(node) = node.filter(|n| n.get("containers").is_some()) {
            return Some((node, path.iter().map(|s| (*s).to_string()).collect()));
        }
    }
    None
}

fn truthy(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

/// The standards a pod is checked against: the level, the version (minor), and what of the pod
/// decides exemptions.
#[derive(Clone, Copy)]
struct Standard {
    restricted: bool,
    version: u32,
    /// `spec.os.name: windows` (from 1.25, exempt from some restricted checks).
    windows: bool,
    /// `spec.hostUsers: false` (from 1.35, exempt from the user checks).
    user_namespace: bool,
}

impl Standard {
    /// Whether a restricted check for Linux pods applies (Windows pods are exempt from 1.25).
    fn linux_restricted(self) -> bool {
        self.restricted && !(self.windows && self.version >= 25)
    }

    /// Whether the user checks apply (a pod in a user namespace is exempt from 1.35).
    fn user_checks(self) -> bool {
        !(self.user_namespace && self.version >= 35)
    }
}

/// Every check of a level (`baseline` or `restricted`; `privileged` checks nothing) at the
/// latest version.
#[must_use]
pub fn evaluate(level: &str, resource: &Value) -> Vec<Violation> {
    evaluate_version(level, LATEST, resource)
}

/// Every check of a level at a version of the standards (the minor of `v1.N`).
#[must_use]
pub fn evaluate_version(level: &str, version: u32, resource: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    if level == "privileged" {
        return out;
    }
    let Some((spec, base)) = pod_spec(resource) else { return out };
    let std = Standard {
        restricted: level == "restricted",
        version,
        windows: spec.at("/os/name").and_then(Value::as_str) == Some("windows"),
        user_namespace: spec.get("hostUsers").and_then(Value::as_bool) == Some(false),
    };
    let restricted = std.restricted;
    let at = |rest: &[&str]| -> Vec<String> {
        base.iter().cloned().chain(rest.iter().map(|s| (*s).to_string())).collect()
    };
    let mut pod = |control: &'static str, value: String, path: Vec<String>| {
        out.push(Violation { control, image: None, value, path });
    };
    for ns in ["hostNetwork", "hostPID", "hostIPC"] {
        if truthy(spec.get(ns)) {
            pod("Host Namespaces", ns.into(), at(&[ns]));
        }
    }
    let psc = spec.get("securityContext");
    if truthy(psc.and_then(|s| s.at("/windowsOptions/hostProcess"))) {
        pod(
            "HostProcess",
            "hostProcess".into(),
            at(&["securityContext", "windowsOptions", "hostProcess"]),
        );
    }
    for (i, v) in spec.get("volumes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let idx = i.to_string();
        if v.get("hostPath").is_some() {
            pod("HostPath Volumes", "hostPath".into(), at(&["volumes", &idx, "hostPath"]));
        }
        if restricted {
            if let Some(kind) = v.as_object().and_then(|m| m.keys().find(|k| *k != "name")) {
                if !RESTRICTED_VOLUMES.contains(&kind.as_str()) {
                    pod("Volume Types", kind.clone(), at(&["volumes", &idx, kind]));
                }
            }
        }
    }
    for (i, s) in psc
        .and_then(|s| s.get("sysctls"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = s.get("name").and_then(Value::as_str).unwrap_or("");
        if !SAFE_SYSCTLS.iter().any(|(safe, from)| *safe == name && version >= *from) {
            pod("Sysctls", name.into(), at(&["securityContext", "sysctls", &i.to_string()]));
        }
    }
    if let Some(annotations) = resource.at("/metadata/annotations").and_then(Value::as_object) {
        for (k, v) in annotations {
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/") {
                let v = v.as_str().unwrap_or("");
                if v != "runtime/default" && !v.starts_with("localhost/") {
                    pod(
                        "AppArmor",
                        v.into(),
                        vec!["metadata".into(), "annotations".into(), k.clone()],
                    );
                }
            }
        }
    }
    if version < 19 {
        seccomp_annotations(resource, spec, &mut out);
    }
    check_context(psc, None, &at(&["securityContext"]), std, &mut out);
    containers(spec, psc, &base, std, &mut out);
    out
}

/// Seccomp before 1.19: the alpha annotations, for the pod and each container, must name
/// `runtime/default`, `docker/default` or a `localhost/` profile.
fn seccomp_annotations(resource: &Value, spec: &Value, out: &mut Vec<Violation>) {
    let Some(annotations) = resource.at("/metadata/annotations").and_then(Value::as_object) else {
        return;
    };
    let names: Vec<&str> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|l| spec.get(*l).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    for (k, v) in annotations {
        let ours = k == "seccomp.security.alpha.kubernetes.io/pod"
            || k.strip_prefix("container.seccomp.security.alpha.kubernetes.io/")
                .is_some_and(|c| names.contains(&c));
        let v = v.as_str().unwrap_or("");
        if ours
            && !matches!(v, "runtime/default" | "docker/default")
            && !v.starts_with("localhost/")
        {
            out.push(Violation {
                control: "Seccomp",
                image: None,
                value: v.into(),
                path: vec!["metadata".into(), "annotations".into(), k.clone()],
            });
        }
    }
}

/// Checks of every container (`initContainers`, `containers`, `ephemeralContainers`).
fn containers(
    spec: &Value,
    psc: Option<&Value>,
    base: &[String],
    std: Standard,
    out: &mut Vec<Violation>,
) {
    let (restricted, version) = (std.restricted, std.version);
    let at = |rest: &[&str]| -> Vec<String> {
        base.iter().cloned().chain(rest.iter().map(|s| (*s).to_string())).collect()
    };
    let pod_non_root = psc.and_then(|s| s.get("runAsNonRoot")).and_then(Value::as_bool);
    let pod_seccomp = psc.and_then(|s| s.at("/seccompProfile/type")).and_then(Value::as_str);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("").to_string();
            let cpath = at(&[list, &i.to_string()]);
            let sc = c.get("securityContext");
            let mut push = |control: &'static str, value: String, rest: &[&str]| {
                let mut path = cpath.clone();
                path.extend(rest.iter().map(|s| (*s).to_string()));
                out.push(Violation { control, image: Some(image.clone()), value, path });
            };
            if truthy(sc.and_then(|s| s.get("privileged"))) {
                push("Privileged Containers", "true".into(), &["securityContext", "privileged"]);
            }
            for (j, p) in c.get("ports").and_then(Value::as_array).into_iter().flatten().enumerate()
            {
                if p.get("hostPort").and_then(Value::as_i64).is_some_and(|h| h != 0) {
                    push(
                        "Host Ports",
                        p["hostPort"].to_string(),
                        &["ports", &j.to_string(), "hostPort"],
                    );
                }
            }
            let added: Vec<&str> = sc
                .and_then(|s| s.at("/capabilities/add"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // Restricted capabilities replace the baseline ones from 1.22 (Linux pods).
            let restricted_caps = std.linux_restricted() && version >= 22;
            for cap in &added {
                let allowed = if restricted_caps {
                    *cap == "NET_BIND_SERVICE"
                } else if restricted && version >= 22 {
                    true
                } else {
                    BASELINE_CAPABILITIES.contains(cap)
                };
                if !allowed {
                    push(
                        "Capabilities",
                        (*cap).to_string(),
                        &["securityContext", "capabilities", "add"],
                    );
                }
            }
            for (control, value, rest) in restricted_container(sc, std, (pod_non_root, pod_seccomp))
            {
                push(control, value, rest);
            }
            if version >= 34 {
                host_probes(c, &cpath, &image, out);
            }
            let mut sc_path = cpath.clone();
            sc_path.push("securityContext".into());
            check_context(sc, Some(&image), &sc_path, std, out);
        }
    }
}

/// The restricted checks of one container (its security context, with the pod's
/// `runAsNonRoot` and seccomp type for what it does not set): (control, value, path below the
/// container).
fn restricted_container(
    sc: Option<&Value>,
    std: Standard,
    (pod_non_root, pod_seccomp): (Option<bool>, Option<&str>),
) -> Vec<(&'static str, String, &'static [&'static str])> {
    let mut out = Vec::new();
    let version = std.version;
    let linux = std.linux_restricted();
    if linux && version >= 22 {
        let drops_all = sc
            .and_then(|s| s.at("/capabilities/drop"))
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("ALL")));
        if !drops_all {
            out.push((
                "Capabilities",
                "drop ALL".into(),
                &["securityContext", "capabilities", "drop"][..],
            ));
        }
    }
    let escalates =
        sc.and_then(|s| s.get("allowPrivilegeEscalation")).and_then(Value::as_bool) != Some(false);
    if linux && version >= 8 && escalates {
        out.push((
            "Privilege Escalation",
            "allowPrivilegeEscalation".into(),
            &["securityContext", "allowPrivilegeEscalation"][..],
        ));
    }
    let non_root = sc.and_then(|s| s.get("runAsNonRoot")).and_then(Value::as_bool).or(pod_non_root);
    if std.restricted && std.user_checks() && non_root != Some(true) {
        out.push((
            "Running as Non-root",
            "runAsNonRoot".into(),
            &["securityContext", "runAsNonRoot"][..],
        ));
    }
    let seccomp =
        sc.and_then(|s| s.at("/seccompProfile/type")).and_then(Value::as_str).or(pod_seccomp);
    if linux && version >= 19 && !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
        out.push((
            "Seccomp",
            seccomp.unwrap_or("").into(),
            &["securityContext", "seccompProfile", "type"][..],
        ));
    }
    out
}

/// From 1.34, probes and lifecycle hooks name no `host` (an HTTP or TCP check of another
/// machine, from the node).
fn host_probes(c: &Value, cpath: &[String], image: &str, out: &mut Vec<Violation>) {
    let handlers = [
        ["livenessProbe", ""],
        ["readinessProbe", ""],
        ["startupProbe", ""],
        ["lifecycle", "postStart"],
        ["lifecycle", "preStop"],
    ];
    for [first, second] in handlers {
        let mut at: Vec<&str> = vec![first];
        if !second.is_empty() {
            at.push(second);
        }
        let Some(handler) = at.iter().try_fold(c, |n, k| n.get(*k)) else { continue };
        for action in ["httpGet", "tcpSocket"] {
            if let Some(host) = handler.at(&format!("/{action}/host")).and_then(Value::as_str) {
                if !host.is_empty() {
                    let mut path = cpath.to_vec();
                    path.extend(at.iter().map(|s| (*s).to_string()));
                    path.extend([action.to_string(), "host".to_string()]);
                    out.push(Violation {
                        control: "Host Probes / Lifecycle Hooks",
                        image: Some(image.to_string()),
                        value: host.to_string(),
                        path,
                    });
                }
            }
        }
    }
}

/// Checks shared by pod and container security contexts.
fn check_context(
    sc: Option<&Value>,
    image: Option<&str>,
    path: &[String],
    std: Standard,
    out: &mut Vec<Violation>,
) {
    let (restricted, version) = (std.restricted, std.version);
    let Some(sc) = sc else { return };
    let mut push = |control: &'static str, value: String, rest: &str| {
        let mut p = path.to_vec();
        p.push(rest.to_string());
        out.push(Violation { control, image: image.map(String::from), value, path: p });
    };
    if truthy(sc.at("/windowsOptions/hostProcess")) && image.is_some() {
        push("HostProcess", "hostProcess".into(), "windowsOptions");
    }
    if let Some(t) = sc.at("/seLinuxOptions/type").and_then(Value::as_str) {
        let allowed = SELINUX_TYPES.contains(&t) || (t == "container_engine_t" && version >= 31);
        if !allowed {
            push("SELinux", t.into(), "seLinuxOptions");
        }
    }
    for k in ["user", "role"] {
        if sc
            .at(&format!("/seLinuxOptions/{k}"))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            push("SELinux", k.into(), "seLinuxOptions");
        }
    }
    // From 1.35 a pod in a user namespace may set any procMount, but under restricted.
    let proc_mount_checked = std.user_checks() || restricted;
    if let Some(pm) = sc.get("procMount").and_then(Value::as_str).filter(|_| proc_mount_checked) {
        if pm != "Default" {
            push("/proc Mount Type", pm.into(), "procMount");
        }
    }
    if version >= 19 && sc.at("/seccompProfile/type").and_then(Value::as_str) == Some("Unconfined")
    {
        push("Seccomp", "Unconfined".into(), "seccompProfile");
    }
    if sc.at("/appArmorProfile/type").and_then(Value::as_str) == Some("Unconfined") {
        push("AppArmor", "Unconfined".into(), "appArmorProfile");
    }
    if restricted
        && version >= 23
        && std.user_checks()
        && sc.get("runAsUser").and_then(Value::as_i64) == Some(0)
    {
        push("Running as Non-root user", "0".into(), "runAsUser");
    }
    if sc.get("runAsNonRoot").and_then(Value::as_bool) == Some(false)
        && restricted
        && std.user_checks()
        && image.is_none()
    {
        push("Running as Non-root", "false".into(), "runAsNonRoot");
    }
}

/// Whether an `exclude` entry removes a violation.
#[must_use]
pub fn excluded(v: &Violation, excludes: &[Value]) -> bool {
    excludes.iter().any(|e| {
        if e.get("controlName").and_then(Value::as_str) != Some(v.control) {
            return false;
        }
        let images: Vec<&str> = e
            .get("images")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let image_ok = match &v.image {
            Some(img) => !images.is_empty() && images.iter().any(|p| wildcard::matches(p, img)),
            None => images.is_empty(),
        };
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        image_ok && (values.is_empty() || values.contains(&v.value.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: &Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec.clone()})
    }

    #[test]
    fn baseline_and_restricted() {
        let good = pod(
            &json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "nginx", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}),
        );
        assert_eq!(evaluate("restricted", &good), vec![]);
        assert_eq!(evaluate("baseline", &good), vec![]);
        let bad = pod(
            &json!({"hostNetwork": true, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}}}]}),
        );
        let controls: Vec<&str> = evaluate("baseline", &bad).iter().map(|v| v.control).collect();
        assert_eq!(
            controls,
            ["Host Namespaces", "HostPath Volumes", "Privileged Containers", "Capabilities"]
        );
        assert!(evaluate("restricted", &bad).iter().any(|v| v.control == "Volume Types"));
    }

    #[test]
    fn excludes_match_control_and_image() {
        let p = pod(
            &json!({"containers": [{"name": "c", "image": "redis:7", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}),
        );
        let v = &evaluate("baseline", &p)[0];
        assert!(excluded(v, &[json!({"controlName": "Capabilities", "images": ["redis*"]})]));
        assert!(!excluded(v, &[json!({"controlName": "Capabilities", "images": ["nginx*"]})]));
        assert!(!excluded(v, &[json!({"controlName": "Seccomp", "images": ["*"]})]));
    }
}
