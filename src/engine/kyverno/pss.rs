//! `validate.podSecurity`: the Kubernetes Pod Security Standards, baseline and restricted
//! (kyverno-compat.md, section 15), with Kyverno's `exclude` entries.

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

const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

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

const SELINUX_TYPES: &[&str] =
    &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

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

/// Every check of a level (`baseline` or `restricted`; `privileged` checks nothing).
#[must_use]
pub fn evaluate(level: &str, resource: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    if level == "privileged" {
        return out;
    }
    let restricted = level == "restricted";
    let Some((spec, base)) = pod_spec(resource) else { return out };
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
    if truthy(psc.and_then(|s| s.pointer("/windowsOptions/hostProcess"))) {
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
        if !SAFE_SYSCTLS.contains(&name) {
            pod("Sysctls", name.into(), at(&["securityContext", "sysctls", &i.to_string()]));
        }
    }
    if let Some(annotations) = resource.pointer("/metadata/annotations").and_then(Value::as_object)
    {
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
    check_context(psc, None, &at(&["securityContext"]), restricted, &mut out);
    containers(spec, psc, &base, restricted, &mut out);
    out
}

/// Checks of every container (`initContainers`, `containers`, `ephemeralContainers`).
fn containers(
    spec: &Value,
    psc: Option<&Value>,
    base: &[String],
    restricted: bool,
    out: &mut Vec<Violation>,
) {
    let at = |rest: &[&str]| -> Vec<String> {
        base.iter().cloned().chain(rest.iter().map(|s| (*s).to_string())).collect()
    };
    let pod_non_root = psc.and_then(|s| s.get("runAsNonRoot")).and_then(Value::as_bool);
    let pod_seccomp = psc.and_then(|s| s.pointer("/seccompProfile/type")).and_then(Value::as_str);
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
                .and_then(|s| s.pointer("/capabilities/add"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for cap in &added {
                let allowed = if restricted {
                    *cap == "NET_BIND_SERVICE"
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
            if restricted {
                let drops_all = sc
                    .and_then(|s| s.pointer("/capabilities/drop"))
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("ALL")));
                if !drops_all {
                    push(
                        "Capabilities",
                        "drop ALL".into(),
                        &["securityContext", "capabilities", "drop"],
                    );
                }
                if sc.and_then(|s| s.get("allowPrivilegeEscalation")).and_then(Value::as_bool)
                    != Some(false)
                {
                    push(
                        "Privilege Escalation",
                        "allowPrivilegeEscalation".into(),
                        &["securityContext", "allowPrivilegeEscalation"],
                    );
                }
                let non_root = sc
                    .and_then(|s| s.get("runAsNonRoot"))
                    .and_then(Value::as_bool)
                    .or(pod_non_root);
                if non_root != Some(true) {
                    push(
                        "Running as Non-root",
                        "runAsNonRoot".into(),
                        &["securityContext", "runAsNonRoot"],
                    );
                }
                let seccomp = sc
                    .and_then(|s| s.pointer("/seccompProfile/type"))
                    .and_then(Value::as_str)
                    .or(pod_seccomp);
                if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                    push(
                        "Seccomp",
                        seccomp.unwrap_or("").into(),
                        &["securityContext", "seccompProfile", "type"],
                    );
                }
            }
            let mut sc_path = cpath.clone();
            sc_path.push("securityContext".into());
            check_context(sc, Some(&image), &sc_path, restricted, out);
        }
    }
}

/// Checks shared by pod and container security contexts.
fn check_context(
    sc: Option<&Value>,
    image: Option<&str>,
    path: &[String],
    restricted: bool,
    out: &mut Vec<Violation>,
) {
    let Some(sc) = sc else { return };
    let mut push = |control: &'static str, value: String, rest: &str| {
        let mut p = path.to_vec();
        p.push(rest.to_string());
        out.push(Violation { control, image: image.map(String::from), value, path: p });
    };
    if truthy(sc.pointer("/windowsOptions/hostProcess")) && image.is_some() {
        push("HostProcess", "hostProcess".into(), "windowsOptions");
    }
    if let Some(t) = sc.pointer("/seLinuxOptions/type").and_then(Value::as_str) {
        if !SELINUX_TYPES.contains(&t) {
            push("SELinux", t.into(), "seLinuxOptions");
        }
    }
    for k in ["user", "role"] {
        if sc
            .pointer(&format!("/seLinuxOptions/{k}"))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            push("SELinux", k.into(), "seLinuxOptions");
        }
    }
    if let Some(pm) = sc.get("procMount").and_then(Value::as_str) {
        if pm != "Default" {
            push("/proc Mount Type", pm.into(), "procMount");
        }
    }
    if sc.pointer("/seccompProfile/type").and_then(Value::as_str) == Some("Unconfined") {
        push("Seccomp", "Unconfined".into(), "seccompProfile");
    }
    if sc.pointer("/appArmorProfile/type").and_then(Value::as_str) == Some("Unconfined") {
        push("AppArmor", "Unconfined".into(), "appArmorProfile");
    }
    if restricted && sc.get("runAsUser").and_then(Value::as_i64) == Some(0) {
        push("Running as Non-root user", "0".into(), "runAsUser");
    }
    if sc.get("runAsNonRoot").and_then(Value::as_bool) == Some(false)
        && restricted
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
