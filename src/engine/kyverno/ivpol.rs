//! The `policies.kyverno.io` ImageValidatingPolicy (and NamespacedImageValidatingPolicy):
//! Kyverno's image verification as a CEL policy (Kyverno's
//! `pkg/image/verification/evaluator`). Matching, match conditions, variables, exceptions and
//! autogen are a ValidatingPolicy's ([`super::vpol`]); this module adds what is its own:
//!
//! - `images`: the image references of the resource by category — `containers`,
//!   `initContainers` and `ephemeralContainers` of a Pod, a pod controller's template or a
//!   CronJob's, then the policy's own `images` extractors (one of the same name replaces the
//!   built-in) — keeping those `matchImageReferences` selects (a glob where `*` crosses `/`,
//!   or an expression over `ref`; none selects every image);
//! - `validationConfigurations.verifyDigest` (on unless `false`): a selected image without a
//!   digest fails, before any validation; in `check`, `mutateDigest` (on unless `false`)
//!   pins tags to digests first, as the cluster's mutating webhook does;
//! - `attestors` and `attestations`, for the validations;
//! - `validationConfigurations.required` (on unless `false`): every selected image must pass
//!   a signature or attestation check.
//!
//! Offline, what needs the image's registry is an error, never a pass: the signature and
//! attestation functions (`verifyImageSignatures`, …), and `required` once images are
//! selected. Kyverno also fetches each selected image's metadata before the validations; that
//! fetch is not made (`getImageData` reads the test's context file, as `image.GetMetadata`
//! does).

use std::rc::Rc;

use serde_json::Value;

use super::compile::err;
use super::matching::Admission;
use super::vpol::{response, CelPolicy, Variants};
use super::{cel, PolicyError, Request, RuleResponse, Status};
use crate::engine::cel::admission::{compile as compile_expr, Compiled, Outcome, Program};
use crate::engine::cel::Val;
use crate::load::Node;

/// What an ImageValidatingPolicy adds to a ValidatingPolicy.
#[derive(Clone, Debug)]
pub(super) struct Images {
    /// `spec.images`: named extractors.
    extractors: Vec<(String, Compiled)>,
    /// The extractors rewritten for each autogen variant (as the policy's program is).
    autogen_extractors: Vec<Vec<(String, Compiled)>>,
    references: Vec<Reference>,
    /// `attestors` by name (the attestor as written) and `attestations` by name.
    attestors: Value,
    attestations: Value,
    verify_digest: bool,
    mutate_digest: bool,
    required: bool,
}

/// One `matchImageReferences` entry.
#[derive(Clone, Debug)]
enum Reference {
    /// A glob as gobwas/glob reads it, as a regular expression.
    Glob(regex::Regex),
    /// A CEL expression over `ref`, the image reference.
    Expression(Compiled),
}

/// The image references of a resource by category, each with where it is in the resource
/// when a built-in extractor found it.
type Extracted = Vec<(String, Vec<(String, Option<Vec<String>>)>)>;

fn list<'a>(spec: &'a Node, key: &str) -> Result<&'a [Node], PolicyError> {
    match spec.get(key) {
        None => Ok(&[]),
        Some(n) if n.is_null() => Ok(&[]),
        Some(n) => n.as_seq().ok_or_else(|| err(n, format!("spec.{key} must be a list"))),
    }
}

/// The entries of a list of named entries (`images`, `attestors`, …), each with its name.
fn named<'a>(spec: &'a Node, key: &str) -> Result<Vec<(&'a str, &'a Node)>, PolicyError> {
    let entries = list(spec, key)?.iter().enumerate();
    entries
        .map(|(i, n)| {
            let name = n.get("name").and_then(Node::as_str);
            Ok((name.ok_or_else(|| err(n, format!("spec.{key}[{i}] has no name")))?, n))
        })
        .collect()
}

fn compiled(node: &Node, what: &str) -> Result<Compiled, PolicyError> {
    compile_expr(node, what).map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })
}

/// A policy for JSON payloads (`evaluation.mode` other than `Kubernetes`) is an error: only
/// Kubernetes resources are checked.
pub(super) fn kubernetes_mode(spec: &Node) -> Result<(), PolicyError> {
    match spec.at(&["evaluation", "mode"]).filter(|m| m.as_str() != Some("Kubernetes")) {
        None => Ok(()),
        Some(mode) => {
            let what = mode.as_str().unwrap_or("?");
            let why = format!(
                "evaluation mode `{what}` is not supported: only Kubernetes resources are checked"
            );
            Err(err(mode, why))
        }
    }
}

/// Reads what an ImageValidatingPolicy adds to a ValidatingPolicy's spec; `autogen` are the
/// variants the policy's program was rewritten to.
pub(super) fn compile(spec: &Node, autogen: &Variants) -> Result<Images, PolicyError> {
    let mut extractors = Vec::new();
    for (i, (name, n)) in named(spec, "images")?.into_iter().enumerate() {
        let expression = n
            .get("expression")
            .ok_or_else(|| err(n, format!("spec.images[{i}] has no expression")))?;
        extractors.push((name.to_string(), compiled(expression, &format!("images `{name}`"))?));
    }
    let autogen_extractors = autogen
        .iter()
        .map(|(kinds, _)| {
            let template = if kinds.iter().any(|k| k == "CronJob") {
                "spec.jobTemplate.spec.template"
            } else {
                "spec.template"
            };
            extractors
                .iter()
                .map(|(name, c)| {
                    let c = c
                        .for_pod_template(template, true)
                        .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
                    Ok((name.clone(), c))
                })
                .collect::<Result<Vec<_>, PolicyError>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut references = Vec::new();
    for (i, n) in list(spec, "matchImageReferences")?.iter().enumerate() {
        if let Some(glob) = n.get("glob").and_then(Node::as_str).filter(|g| !g.is_empty()) {
            let matcher = glob_regex(glob)
                .map_err(|e| err(n, format!("matchImageReferences[{i}].glob: {e}")))?;
            references.push(Reference::Glob(matcher));
        } else if let Some(expression) = n.get("expression") {
            let what = format!("matchImageReferences[{i}].expression");
            references.push(Reference::Expression(compiled(expression, &what)?));
        } else {
            let why = format!("matchImageReferences[{i}]: either glob or expression must be set");
            return Err(err(n, why));
        }
    }
    let mut attestors = serde_json::Map::new();
    for (name, n) in named(spec, "attestors")? {
        attestors.insert(name.to_string(), n.to_json());
    }
    let mut attestations = serde_json::Map::new();
    for (name, _) in named(spec, "attestations")? {
        attestations.insert(name.to_string(), Value::String(name.to_string()));
    }
    let config = spec.get("validationConfigurations");
    let on = |key: &str| config.and_then(|c| c.get(key)).and_then(Node::as_bool).unwrap_or(true);
    Ok(Images {
        extractors,
        autogen_extractors,
        references,
        attestors: Value::Object(attestors),
        attestations: Value::Object(attestations),
        verify_digest: on("verifyDigest"),
        mutate_digest: on("mutateDigest"),
        required: on("required"),
    })
}

/// Where a Pod's containers are in a resource of the kinds Kyverno has built-in image
/// extractors for (by the request's resource: Pods, the plain pod controllers, CronJobs).
fn pod_spec_path(adm: &Admission<'_>) -> Option<&'static [&'static str]> {
    match (adm.group, adm.version, adm.kind) {
        ("", "v1", "Pod") => Some(&["spec"]),
        ("apps", "v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "v1", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "v1", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

impl Images {
    /// Evaluates the policy (`cel`, the CEL part of `policy`) on a resource: no response when
    /// its constraints or a match condition do not select the resource, as Kyverno gives none.
    /// Exceptions come after the match conditions, and skip the resource whatever their
    /// `reportResult`; they do not reach the autogen variants (Kyverno's CLI attaches none to
    /// them).
    pub(super) fn evaluate(
        &self,
        policy: &super::Policy,
        cel: &CelPolicy,
        resource: &Value,
        request: &Request<'_>,
    ) -> Option<RuleResponse> {
        let (program, variant) = match cel.select(resource, request) {
            Ok(Some(selected)) => selected,
            Ok(None) => return None,
            Err(e) => return Some(response(Status::Error, e)),
        };
        let adm = super::policy::admission(resource, request);
        let mut vars = cel::activation(resource, request, &adm);
        let host = cel::ClusterHost { cluster: request.cluster };
        let limits = &request.limits;
        match program.conditions_hold(&vars, limits, Some(&host), cel.errors_ignored) {
            None => {}
            Some(Outcome::Error(e)) => return Some(response(Status::Error, e)),
            Some(_) => return None,
        }
        if variant.is_none() {
            if let Some(mut excepted) = policy.cel_excepted(resource, request) {
                if excepted.status == Status::Pass {
                    excepted.status = Status::Skip;
                    excepted.message = excepted.message.replace("is passed", "is skipped");
                }
                return Some(excepted);
            }
        }
        let extractors = match variant {
            Some(i) => self.autogen_extractors.get(i).unwrap_or(&self.extractors),
            None => &self.extractors,
        };
        let images = match self.extract(program, extractors, resource, &adm, (&vars, request)) {
            Ok(images) => images,
            Err(e) => return Some(response(Status::Error, e)),
        };
        let selected: Vec<(&str, Option<&Vec<String>>)> = images
            .iter()
            .flat_map(|(_, list)| list.iter().map(|(image, at)| (image.as_str(), at.as_ref())))
            .collect();
        // A failure is `fail` even when the policy only warns, as Kyverno reports it.
        let fails = Status::Fail;
        if self.verify_digest {
            // In `check`, mutateDigest pins the images of the containers (those the built-in
            // extractors find) before validation, as the cluster's mutating webhook does.
            let pinned = |at: Option<&Vec<String>>| {
                request.pins_digests && self.mutate_digest && at.is_some()
            };
            for (image, at) in &selected {
                match has_digest(image) {
                    Err(e) => return Some(response(Status::Error, e)),
                    Ok(false) if !pinned(*at) => {
                        return Some(RuleResponse {
                            rule: String::new(),
                            status: fails,
                            message: format!("image {image} does not have a digest"),
                            path: at.cloned(),
                        })
                    }
                    Ok(_) => {}
                }
            }
        }
        let by_category = images
            .iter()
            .map(|(category, list)| {
                let refs = list.iter().map(|(image, _)| Val::string(image)).collect();
                (Val::string(category), Val::list(refs))
            })
            .collect();
        vars.insert("images".into(), Val::Map(Rc::new(by_category)));
        vars.insert("attestors".into(), Val::from_json(&self.attestors));
        vars.insert("attestations".into(), Val::from_json(&self.attestations));
        Some(match program.validate(&vars, limits, Some(&host), false) {
            Outcome::Pass => match selected.first() {
                Some((image, _)) if self.required => response(
                    Status::Error,
                    format!(
                        "image {image} must pass a signature or attestation check \
                         (validationConfigurations.required), which reads the image's registry: \
                         an offline linter cannot make it"
                    ),
                ),
                _ => response(Status::Pass, "success".into()),
            },
            Outcome::Fail(message, path) => {
                RuleResponse { rule: String::new(), status: fails, message, path }
            }
            Outcome::Error(e) => response(Status::Error, e),
            Outcome::NotMatched(name) => {
                response(Status::Skip, format!("match condition `{name}` is false"))
            }
        })
    }

    /// The images of the resource by category, those `matchImageReferences` selects.
    fn extract(
        &self,
        program: &Program,
        extractors: &[(String, Compiled)],
        resource: &Value,
        adm: &Admission<'_>,
        (vars, request): (&std::collections::BTreeMap<String, Val>, &Request<'_>),
    ) -> Result<Extracted, String> {
        let mut found: Extracted = Vec::new();
        if let Some(path) = pod_spec_path(adm) {
            let spec = path.iter().try_fold(resource, |v, key| v.get(key));
            for category in ["containers", "initContainers", "ephemeralContainers"] {
                let containers = spec.and_then(|s| s.get(category)).and_then(Value::as_array);
                let mut images = Vec::new();
                for (i, c) in containers.into_iter().flatten().enumerate() {
                    let at = || path.iter().map(|s| (*s).to_string()).chain([category.into()]);
                    let image = c.get("image").and_then(Value::as_str).ok_or_else(|| {
                        format!("{}[{i}] has no image", at().collect::<Vec<_>>().join("."))
                    })?;
                    let at = at().chain([i.to_string(), "image".into()]).collect();
                    images.push((image.to_string(), Some(at)));
                }
                found.push((category.to_string(), images));
            }
        }
        let host = cel::ClusterHost { cluster: request.cluster };
        for (name, c) in extractors {
            let value = program.evaluate(c, vars, &request.limits, Some(&host))?;
            let images = match &value {
                Val::List(items) => items
                    .iter()
                    .map(|v| v.as_str().map(|s| (s.to_string(), None)))
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            }
            .ok_or_else(|| {
                format!("images `{name}` gave a `{}`, not a list of strings", value.type_name())
            })?;
            match found.iter_mut().find(|(category, _)| category == name) {
                Some(slot) => slot.1 = images,
                None => found.push((name.clone(), images)),
            }
        }
        for (_, images) in &mut found {
            let mut kept = Vec::with_capacity(images.len());
            for image in images.drain(..) {
                if self.selects(&image.0, request)? {
                    kept.push(image);
                }
            }
            *images = kept;
        }
        Ok(found)
    }

    /// Whether `matchImageReferences` selects an image (none selects every image).
    fn selects(&self, image: &str, request: &Request<'_>) -> Result<bool, String> {
        if self.references.is_empty() {
            return Ok(true);
        }
        for reference in &self.references {
            let selected = match reference {
                Reference::Glob(glob) => glob.is_match(image),
                Reference::Expression(c) => {
                    let vars = std::iter::once(("ref".to_string(), Val::string(image))).collect();
                    match Program::default().evaluate(c, &vars, &request.limits, None)? {
                        Val::Bool(b) => b,
                        other => {
                            return Err(format!(
                                "matchImageReferences expression gave a `{}`, not a bool",
                                other.type_name()
                            ))
                        }
                    }
                }
            };
            if selected {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A glob as gobwas/glob reads it without separators (what Kyverno compiles
/// `matchImageReferences` globs with): `*` (and `**`) any text, `/` included, `?` one
/// character, `[abc]`, `[a-z]`, `[!abc]`, `{a,b}` alternatives, `\` escaping the next
/// character.
fn glob_regex(glob: &str) -> Result<regex::Regex, String> {
    let mut out = String::from("(?s)^");
    let mut chars = glob.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                let next = chars.next().ok_or("a trailing `\\` escapes nothing")?;
                out.push_str(&regex::escape(&next.to_string()));
            }
            '[' => {
                out.push('[');
                let mut first = true;
                loop {
                    let c = chars.next().ok_or("unclosed `[`")?;
                    match c {
                        ']' if !first => break,
                        '!' if first => out.push('^'),
                        '-' => out.push('-'),
                        c => out.push_str(&regex::escape(&c.to_string())),
                    }
                    first = false;
                }
                out.push(']');
            }
            '{' => {
                depth += 1;
                out.push_str("(?:");
            }
            ',' if depth > 0 => out.push('|'),
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    if depth > 0 {
        return Err("unclosed `{`".into());
    }
    out.push('$');
    regex::Regex::new(&out).map_err(|e| e.to_string())
}

/// Whether an image reference has a digest, as go-containerregistry's `ParseReference`
/// (with its default, weak validation) reads it: a tag reference, else a digest one, else
/// an error.
fn has_digest(image: &str) -> Result<bool, String> {
    let repository_ok = |name: &str| -> bool {
        let (registry, repo) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) => (first, rest),
            _ => ("", name),
        };
        let registry_ok = registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
        registry_ok
            && (2..=255).contains(&repo.len())
            && repo.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'.' | b'/')
            })
    };
    // A tag reference: `name[:tag]`, the tag after the last `:` that no `/` follows.
    let tag_reference = || -> Option<&str> {
        let (base, tag) = match image.rsplit_once(':') {
            Some((base, tag)) if !tag.contains('/') => (base, tag),
            _ => (image, "latest"),
        };
        let tag_ok = (1..=128).contains(&tag.len())
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        (tag_ok && repository_ok(base)).then_some(base)
    };
    if tag_reference().is_some() {
        return Ok(false);
    }
    if let [base, digest] = image.split('@').collect::<Vec<_>>()[..] {
        let digest_ok = digest.len() == 71
            && digest.starts_with("sha256:")
            && digest[7..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        // The name may carry a tag too.
        let name = match base.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') && repository_ok(name) => name,
            _ => base,
        };
        if digest_ok && repository_ok(name) {
            return Ok(true);
        }
    }
    Err(format!("failed to parse image reference {image}: could not parse reference: {image}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::policy;
    use super::super::{Policy, PolicyError, Request, RuleResponse, Status};
    use crate::load::yaml::{parse_stream, Limits};

    /// An ImageValidatingPolicy for Pods with images from `ghcr.io`, with `extra` appended
    /// to its spec.
    fn ivpol(extra: &str) -> String {
        format!(
            r"
apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {{name: signed-images}}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: ['']
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  matchConditions:
  - name: prod
    expression: object.metadata.?labels.?env.orValue('') == 'prod'
  matchImageReferences:
  - glob: ghcr.io/*
  - expression: ref.startsWith('registry.example.com/')
  attestors:
  - name: notary
    notary: {{certs: {{value: CERT}}}}
  attestations:
  - name: sbom
    referrer: {{type: sbom/cyclone-dx}}
{extra}"
        )
    }

    fn pod(images: &[&str]) -> serde_json::Value {
        let containers: Vec<_> = images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "apps", "labels": {"env": "prod"}},
            "spec": {"containers": containers}})
    }

    fn one(p: &Policy, resource: &serde_json::Value, request: &Request<'_>) -> RuleResponse {
        let mut out = p.evaluate(resource, request);
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
    }

    const DIGEST: &str = "@sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn an_image_without_a_digest_fails_before_any_validation() {
        let p = policy(&ivpol(
            "  validations:\n  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.notary]) > 0)\n",
        ));
        assert!(p.is_validating_policy());
        let r = one(&p, &pod(&["docker.io/nginx:1", "ghcr.io/acme/app:v1"]), &Request::default());
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.message, "image ghcr.io/acme/app:v1 does not have a digest");
        // The finding points at the image that lacks it.
        let at = r.path.unwrap();
        assert_eq!(at, ["spec", "containers", "1", "image"]);
        // In `check`, mutateDigest pins the tag first (as the cluster's mutating webhook
        // does): what remains is the signature check, which cannot run offline.
        let check = Request { pins_digests: true, ..Request::default() };
        let r = one(&p, &pod(&["ghcr.io/acme/app:v1"]), &check);
        assert_eq!(r.status, Status::Error);
        assert!(r.message.contains("verifyImageSignatures() reads signatures"), "{}", r.message);
        // ... unless mutateDigest is off.
        let unpinned = policy(&ivpol(
            "  validationConfigurations: {mutateDigest: false}\n  validations:\n  - expression: 'true'\n",
        ));
        assert_eq!(one(&unpinned, &pod(&["ghcr.io/acme/app:v1"]), &check).status, Status::Fail);
    }

    #[test]
    fn signature_checks_are_errors_never_passes() {
        let p = policy(&ivpol(
            "  validations:\n  - expression: images.containers.map(i, verifyAttestationSignatures(i, attestations.sbom, [attestors.notary])).all(e, e > 0)\n",
        ));
        let image = format!("ghcr.io/acme/app:v1{DIGEST}");
        let r = one(&p, &pod(&[&image]), &Request::default());
        assert_eq!(r.status, Status::Error);
        assert!(r.message.contains("verifyAttestationSignatures()"), "{}", r.message);
        // No image selected: nothing to verify, the validations pass over empty lists.
        let r = one(&p, &pod(&["docker.io/nginx:1"]), &Request::default());
        assert_eq!((r.status, r.message.as_str()), (Status::Pass, "success"));
    }

    #[test]
    fn validations_see_the_selected_images_and_required_needs_a_verification() {
        let rule = "  validations:\n  - expression: images.containers.all(i, i.contains('@'))\n    message: pin it\n  - expression: \"images.containers.size() == 2 && attestations.sbom == 'sbom' && attestors.notary.notary.certs.value == 'CERT'\"\n";
        let p =
            policy(&ivpol(&format!("  validationConfigurations: {{verifyDigest: false}}\n{rule}")));
        let pinned = format!("ghcr.io/acme/web{DIGEST}");
        let other = format!("registry.example.com/team/b:2{DIGEST}");
        // `docker.io` is not selected; both others are (glob, expression).
        let r = one(&p, &pod(&["docker.io/nginx:1", &pinned, &other]), &Request::default());
        assert_eq!(r.status, Status::Error);
        assert!(r.message.contains("validationConfigurations.required"), "{}", r.message);
        let r = one(&p, &pod(&["ghcr.io/acme/web:1", &other]), &Request::default());
        assert_eq!((r.status, r.message.as_str()), (Status::Fail, "pin it"));
        let optional = policy(&ivpol(&format!(
            "  validationConfigurations: {{verifyDigest: false, required: false}}\n{rule}"
        )));
        let r = one(&optional, &pod(&["docker.io/nginx:1", &pinned, &other]), &Request::default());
        assert_eq!(r.status, Status::Pass);
        // A false match condition gives no response at all, as Kyverno gives none.
        let mut dev = pod(&[&pinned]);
        dev["metadata"]["labels"]["env"] = json!("dev");
        assert!(optional.evaluate(&dev, &Request::default()).is_empty());
    }

    #[test]
    fn pod_controllers_and_custom_extractors() {
        let p = policy(&ivpol(
            "  validationConfigurations: {required: false}\n  images:\n  - name: sidecars\n    expression: object.spec.?sidecars.orValue([]).map(s, s.ref)\n  validations:\n  - expression: images.sidecars.size() == 0\n    message: no sidecars\n",
        ));
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "apps"},
            "spec": {"template": {"metadata": {"labels": {"env": "prod"}}, "spec": {
                "containers": [{"name": "c", "image": "ghcr.io/acme/web:1"}],
                "sidecars": [{"ref": "ghcr.io/acme/sidecar:1"}]}}}});
        let r = one(&p, &deployment, &Request::default());
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.message, "image ghcr.io/acme/web:1 does not have a digest");
        assert_eq!(r.path.unwrap(), ["spec", "template", "spec", "containers", "0", "image"]);
        let mut pinned = deployment.clone();
        pinned["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!(format!("ghcr.io/acme/web:1{DIGEST}"));
        pinned["spec"]["template"]["spec"]["sidecars"][0]["ref"] =
            json!(format!("ghcr.io/acme/sidecar{DIGEST}"));
        let r = one(&p, &pinned, &Request::default());
        assert_eq!((r.status, r.message.as_str()), (Status::Fail, "no sidecars"));
    }

    #[test]
    fn references_and_globs_as_kyverno_reads_them() {
        use super::{glob_regex, has_digest};
        assert_eq!(has_digest("nginx"), Ok(false));
        assert_eq!(has_digest("ghcr.io/acme/web:v1"), Ok(false));
        assert_eq!(has_digest(&format!("ghcr.io/acme/web{DIGEST}")), Ok(true));
        assert_eq!(has_digest(&format!("ghcr.io/acme/web:v1{DIGEST}")), Ok(true));
        // What go-containerregistry refuses is an error: upper case, a one-letter
        // repository, a short digest.
        for bad in ["ghcr.io/Acme/web:v1", "ghcr.io/a:1", "ghcr.io/acme/web@sha256:abc"] {
            assert!(
                has_digest(bad).unwrap_err().contains("failed to parse image reference"),
                "{bad}"
            );
        }
        let glob = |g: &str, image: &str| glob_regex(g).unwrap().is_match(image);
        assert!(glob("ghcr.io/*", "ghcr.io/acme/web:v1"));
        assert!(glob("*nginx*", "docker.io/library/nginx:1"));
        // No path semantics: `**/` needs a `/`, `[^a]` is `^` or `a`.
        assert!(!glob("**/nginx*", "nginx:1"));
        assert!(glob("[^a]", "^") && !glob("[^a]", "b"));
        assert!(glob("[!a]", "b") && !glob("[!a]", "a"));
        assert!(glob("{ghcr.io,quay.io}/acme/*", "quay.io/acme/x"));
        assert!(glob_regex("[ab").is_err());
    }

    #[test]
    fn exceptions_come_after_match_conditions_and_always_skip() {
        use crate::engine::kyverno::exception::PolicyException;
        let p = policy(&ivpol(
            "  validationConfigurations: {required: false}\n  validations:\n  - expression: 'false'\n",
        ));
        let doc = parse_stream(
            "apiVersion: policies.kyverno.io/v1beta1\nkind: PolicyException\nmetadata: {name: all, namespace: apps}\nspec:\n  policyRefs:\n  - {name: signed-images, kind: ImageValidatingPolicy}\n  matchConditions:\n  - {name: any, expression: 'true'}\n  reportResult: pass\n",
            &Limits::default(),
        );
        let exceptions = vec![PolicyException::from_node(&doc.documents[0].root).unwrap()];
        let req = Request { exceptions: Some(&exceptions), ..Request::default() };
        let image = format!("ghcr.io/acme/web{DIGEST}");
        let r = one(&p, &pod(&[&image]), &req);
        assert_eq!((r.status, r.rule.as_str()), (Status::Skip, "exception"), "{r:?}");
        // A pod its match conditions leave out gets no row, exception or not.
        let mut dev = pod(&[&image]);
        dev["metadata"]["labels"]["env"] = json!("dev");
        assert!(p.evaluate(&dev, &req).is_empty());
    }

    #[test]
    fn autogen_as_kyverno_can_autogen() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "apps"},
            "spec": {"template": {"metadata": {"labels": {"env": "prod"}}, "spec": {
                "containers": [{"name": "c", "image": "ghcr.io/acme/web:1"}]}}}});
        let rc = json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "r", "namespace": "apps"},
            "spec": {"template": {"metadata": {"labels": {"env": "prod"}}, "spec": {
                "containers": [{"name": "c", "image": "ghcr.io/acme/web:1"}]}}}});
        let p = policy(&ivpol("  validations:\n  - expression: 'true'\n"));
        assert_eq!(p.evaluate(&deployment, &Request::default()).len(), 1);
        assert!(p.evaluate(&rc, &Request::default()).is_empty(), "no ReplicationControllers");
        // An object selector means no autogen.
        let selecting = policy(&ivpol("  validations:\n  - expression: 'true'\n").replace(
            "      resources: [pods]\n",
            "      resources: [pods]\n    objectSelector: {matchLabels: {app: web}}\n",
        ));
        assert!(selecting.evaluate(&deployment, &Request::default()).is_empty());
        // `object.metadata.namespace` stays the controller's.
        let ns = policy(&ivpol(
            "  validationConfigurations: {verifyDigest: false, required: false}\n  validations:\n  - expression: object.metadata.namespace == 'apps'\n",
        ));
        assert_eq!(one(&ns, &deployment, &Request::default()).status, Status::Pass);
    }

    fn compile_error(text: &str) -> PolicyError {
        let doc = parse_stream(text, &Limits::default());
        Policy::from_node(&doc.documents[0].root).unwrap_err()
    }

    #[test]
    fn what_cannot_be_checked_is_a_policy_error() {
        let e = compile_error(&ivpol("  evaluation: {mode: JSON}\n"));
        assert!(e.message.contains("evaluation mode `JSON` is not supported"), "{}", e.message);
        let e = compile_error(&ivpol("  images:\n  - name: x\n"));
        assert!(e.message.contains("spec.images[0] has no expression"), "{}", e.message);
        let text = ivpol("").replace("  - glob: ghcr.io/*\n", "  - {}\n");
        let e = compile_error(&text);
        assert!(e.message.contains("either glob or expression"), "{}", e.message);
    }
}
