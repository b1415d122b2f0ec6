//! The `policies.kyverno.io` GeneratingPolicy (and NamespacedGeneratingPolicy): matching,
//! conditions and variables as a [`CelPolicy`] has them, then `generate` expressions whose
//! `generator.Apply(namespace, objects)` calls say what the policy creates for the trigger.
//! Lookups (`resource.Get`, for clones) are answered from the tree or a test's context file.

use std::cell::RefCell;

use serde_json::Value;

use super::compile::err;
use super::generate::Generated;
use super::vpol::{CelPolicy, Role};
use super::{cel, PolicyError, Request, RuleResponse, Status};
use crate::engine::cel::admission::{Compiled, Outcome};
use crate::engine::cel::Host;
use crate::load::Node;

/// The `generate` expressions of a GeneratingPolicy.
#[derive(Clone, Debug)]
pub(super) struct Generations {
    exprs: Vec<Compiled>,
}

/// Compiles `spec.generate`; a `template` generation is not supported (an error naming it).
pub(super) fn compile(spec: &Node) -> Result<Generations, PolicyError> {
    let list = spec.get("generate").ok_or_else(|| err(spec, "spec.generate is missing"))?;
    let items = list.as_seq().ok_or_else(|| err(list, "spec.generate must be a list"))?;
    let mut exprs = Vec::new();
    for (i, g) in items.iter().enumerate() {
        if let Some(t) = g.get("template") {
            return Err(err(t, format!("generate[{i}].template is not supported yet")));
        }
        let node = g
            .get("expression")
            .ok_or_else(|| err(g, format!("generate[{i}] has no expression")))?;
        let expr = crate::engine::cel::admission::compile(node, &format!("generate[{i}]"))
            .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
        exprs.push(expr);
    }
    Ok(Generations { exprs })
}

/// The host of a GeneratingPolicy's expressions: lookups go to the cluster, and what
/// `generator.Apply` gives is recorded (namespaced into the namespace it names).
struct Recorder<'a> {
    cluster: cel::ClusterHost<'a>,
    generated: RefCell<Vec<Value>>,
}

impl Host for Recorder<'_> {
    fn resource_get(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, String> {
        self.cluster.resource_get(api_version, resource, namespace, name)
    }

    fn resource_list(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<Value, String> {
        self.cluster.resource_list(api_version, resource, namespace)
    }

    fn image_metadata(&self, image: &str) -> Result<Value, String> {
        self.cluster.image_metadata(image)
    }

    fn generate(&self, namespace: &str, objects: Vec<Value>) -> Result<(), String> {
        for mut object in objects {
            // A list object gives its items.
            let items = match object.get_mut("items").map(Value::take) {
                Some(Value::Array(items))
                    if object
                        .get("kind")
                        .and_then(Value::as_str)
                        .is_some_and(|k| k.ends_with("List")) =>
                {
                    items
                }
                Some(other) => {
                    object["items"] = other;
                    vec![object]
                }
                None => vec![object],
            };
            for mut item in items {
                let Some(meta) = item
                    .as_object_mut()
                    .map(|o| o.entry("metadata").or_insert_with(|| serde_json::json!({})))
                else {
                    return Err("a generated object must be a map".into());
                };
                if let Some(m) = meta.as_object_mut() {
                    m.insert("namespace".into(), Value::String(namespace.to_string()));
                }
                self.generated.borrow_mut().push(item);
            }
        }
        Ok(())
    }
}

impl CelPolicy {
    /// Runs a GeneratingPolicy on a trigger: no response when it does not match or its
    /// conditions do not hold (as Kyverno's engine gives none), else a pass with what it
    /// generated, or an error.
    pub(super) fn generate(&self, resource: &Value, request: &Request<'_>) -> Option<Generated> {
        let Role::Generate(g) = &self.role else { return None };
        let failed = |e: String| Generated {
            response: RuleResponse {
                rule: String::new(),
                status: Status::Error,
                message: format!("failed to evaluate policy: {e}"),
                path: None,
            },
            objects: Vec::new(),
        };
        let program = match self.select(resource, request) {
            Ok(Some((program, _))) => program,
            Ok(None) => return None,
            Err(e) => return Some(failed(e)),
        };
        let adm = super::policy::admission(resource, request);
        let vars = cel::activation(resource, request, &adm);
        let host = Recorder {
            cluster: cel::ClusterHost { cluster: request.cluster },
            generated: RefCell::new(Vec::new()),
        };
        match program.run(&vars, &request.limits, Some(&host), (false, false)) {
            Outcome::NotMatched(_) => return None,
            Outcome::Error(e) => return Some(failed(e)),
            Outcome::Pass | Outcome::Fail(..) => {}
        }
        for expr in &g.exprs {
            if let Err(e) = program.evaluate(expr, &vars, &request.limits, Some(&host)) {
                return Some(failed(e));
            }
        }
        let objects = host.generated.into_inner();
        let response = RuleResponse {
            rule: String::new(),
            status: Status::Pass,
            message: "policy evaluated successfully".into(),
            path: None,
        };
        Some(Generated { response, objects })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::policy;
    use super::super::{Request, Status};

    const GPOL: &str = r#"
apiVersion: policies.kyverno.io/v1alpha1
kind: GeneratingPolicy
metadata: {name: default-deny}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ['']
      apiVersions: [v1]
      operations: [CREATE]
      resources: [namespaces]
  matchConditions:
  - name: not-system
    expression: "!object.metadata.name.startsWith('kube-')"
  variables:
  - name: policy
    expression: >-
      {"apiVersion": dyn("networking.k8s.io/v1"), "kind": dyn("NetworkPolicy"),
       "metadata": dyn({"name": "default-deny"}), "spec": dyn({"podSelector": dyn({})})}
  generate:
  - expression: generator.Apply(object.metadata.name, [variables.policy])
"#;

    #[test]
    fn generator_apply_gives_the_objects_in_the_namespace() {
        let p = policy(GPOL);
        let ns = |name: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let out = p.generate(&ns("team-a"), &Request::default(), &[]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].response.status, Status::Pass, "{:?}", out[0].response);
        assert_eq!(out[0].objects.len(), 1);
        assert_eq!(
            out[0].objects[0]["metadata"],
            json!({"name": "default-deny", "namespace": "team-a"})
        );
        // Conditions that do not hold: no response.
        assert!(p.generate(&ns("kube-system"), &Request::default(), &[]).is_empty());
        // An expression that fails: an error.
        let broken = policy(&GPOL.replace("object.metadata.name, [", "object.metadata.nope, ["));
        let out = broken.generate(&ns("team-a"), &Request::default(), &[]);
        assert_eq!(out[0].response.status, Status::Error);
    }
}
