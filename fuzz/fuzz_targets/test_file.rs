//! The test-file loader: the input is a `kyverno-test.yaml` next to fixed policies (a
//! ClusterPolicy, a ValidatingPolicy), a resource and a CEL context file, run by `mtk-lint test`
//! (references, results, values, user info and context files, confinement).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mtk_lint::harness::{self, TestOptions};

const POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  validationFailureAction: Enforce
  rules:
    - name: check-team
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: label team is required
        pattern:
          metadata:
            labels:
              team: \"?*\"
";

/// A ValidatingPolicy reading the context file (`resource.List`) and `namespaceObject`.
const VPOL: &str = "apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: needs-config
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  variables:
    - name: cms
      expression: resource.List('v1', 'configmaps', object.metadata.?namespace.orValue('default')).items
  validations:
    - expression: variables.cms.size() > 0 || namespaceObject.metadata.?labels.?free.orValue('') == 'yes'
";

const CONTEXT: &str = "apiVersion: cli.kyverno.io/v1alpha1
kind: Context
metadata: {name: context}
spec:
  resources:
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: default}}
  images:
    - {image: nginx:1.25, config: {created: '2024-01-01T00:00:00Z'}}
";

const RESOURCE: &str = "apiVersion: v1
kind: Pod
metadata:
  name: good
  labels: {team: a}
spec:
  containers: [{name: c, image: nginx:1.25}]
";

/// One directory for the whole run: the policy and resource, and the test file rewritten for
/// every input.
fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("policy.yaml"), POLICY).expect("write");
        std::fs::write(dir.path().join("resource.yaml"), RESOURCE).expect("write");
        std::fs::write(dir.path().join("vpol.yaml"), VPOL).expect("write");
        std::fs::write(dir.path().join("context.yaml"), CONTEXT).expect("write");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    std::fs::write(dir.path().join("kyverno-test.yaml"), data).expect("write");
    let options = TestOptions { paths: vec![dir.path().to_path_buf()], ..TestOptions::default() };
    let _ = harness::run(&options, dir.path());
});
