//! A synthetic multi-tenant Flux fleet with seeded policy violations and its ground truth,
//! generated in-process so that the tests need nothing beside the checkout.
//!
//! The layout follows fluxcd/flux2-multi-tenancy and a node-pool-per-tenant platform design
//! (one tainted node pool per tenant, Kyverno-enforced rules):
//!
//! ```text
//! clusters/{staging,production}/   Flux bootstrap + infrastructure/tenants Kustomizations
//! infrastructure/                  controllers (kyverno, ingress-nginx) and Kyverno policies
//! tenants/base/<tenant>/           Namespace, ServiceAccount, RoleBindings, NetworkPolicies,
//!                                  ResourceQuota, LimitRange, GitRepository, Kustomization
//! tenants/{staging,production}/    kustomize overlays listing the tenants
//! tenants/<tenant>/apps/<app>/     Deployments, StatefulSets, CronJobs, Services, Ingresses,
//!                                  ConfigMaps, HPAs, PDBs, Secrets (SOPS), ServiceAccounts
//! ```
//!
//! This is the flat layout of the benchmark fleet generator (`bench/gen_fleet.py` of the shared
//! folder), ported: the same files, objects, YAML styles and seeded violations, with the same
//! probability model, drawn from a small PRNG of its own (so not the same bytes as the script
//! for a given seed). The YAML varies the way hand-written repositories do: multi-document files
//! with or without a leading `---`, file and document comments, flow or block sequences,
//! indented or indentless sequences, literal block scalars, anchors and aliases, trailing
//! comments, quoted keys, `.yml` files, SOPS-encrypted Secrets, and YAML files that are not
//! Kubernetes objects.
//!
//! Output is deterministic for a given (seed, tenants, rate); a tenant's content depends only on
//! the seed and its index, so growing `tenants` keeps existing tenants byte-identical (except for
//! the names of foreign tenants they refer to, and the lists of all tenants).
//!
//! Violations are seeded with probability `rate` per opportunity and recorded in
//! `<dir>/expected-violations.json`. "doc" is the 0-based index of the document in the file;
//! "namespace" is the effective namespace (kustomize sets it when metadata.namespace is absent),
//! "" for cluster-scoped objects; "path" is a dotted path to the offending field (or to the
//! parent that lacks a field). Anything not listed is clean with respect to these rule ids;
//! Kustomizations in flux-system are exempt from MTK-FLUX-001/002 (as in flux2-multi-tenancy's
//! Kyverno policy).

#[macro_use]
mod yaml;
mod rng;

use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use rng::Rng;
use yaml::{render_doc, Map, Style, Y};

/// The rule ids the generator seeds, with what each seeded violation is.
const VIOLATIONS: [(&str, &str); 12] = [
    ("MTK-SEC-001", "privileged container (securityContext.privileged: true)"),
    ("MTK-SEC-002", "hostPath volume in a tenant pod"),
    ("MTK-SEC-003", "container without resources.limits (cpu and memory)"),
    ("MTK-SEC-004", "image uses the latest tag or no tag"),
    ("MTK-SEC-005", "Secret with plaintext data (not SOPS-encrypted)"),
    ("MTK-NET-001", "Service of type NodePort in a tenant namespace"),
    ("MTK-NET-002", "tenant namespace has no default-deny NetworkPolicy"),
    ("MTK-ISO-001", "Ingress host belongs to another tenant's domain"),
    ("MTK-ISO-002", "RoleBinding to cluster-admin includes a subject from another tenant"),
    ("MTK-FLUX-001", "tenant Flux Kustomization without spec.serviceAccountName"),
    ("MTK-FLUX-002", "tenant Flux Kustomization with cross-namespace sourceRef"),
    ("MTK-SCHED-001", "tenant pod without the tenant node-pool toleration"),
];

const APPS_PER_TENANT: usize = 5;
/// Written beside the tree; a directory holding it may be generated over.
const MARKER: &str = ".fleetgen.json";
const DOMAIN: &str = "apps.example.com";
const REGISTRY: &str = "registry.example.com";
const AGE_RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

const ADJ: [&str; 38] = [
    "payments",
    "search",
    "checkout",
    "identity",
    "catalog",
    "billing",
    "ledger",
    "media",
    "maps",
    "ads",
    "mail",
    "chat",
    "risk",
    "fraud",
    "growth",
    "data",
    "ml",
    "infra-tools",
    "support",
    "partner",
    "pricing",
    "orders",
    "shipping",
    "inventory",
    "loyalty",
    "reports",
    "audit",
    "notify",
    "edge",
    "mobile",
    "research",
    "library",
    "housing",
    "registrar",
    "athletics",
    "finance",
    "hr",
    "portal",
];
const TEAMS: [&str; 20] = [
    "alpha", "bravo", "core", "platform", "web", "api", "ops", "labs", "east", "west", "north",
    "south", "blue", "green", "red", "gold", "nova", "delta", "omega", "zeta",
];
const APP_WORDS: [&str; 24] = [
    "api",
    "web",
    "frontend",
    "backend",
    "worker",
    "gateway",
    "auth",
    "cache",
    "queue",
    "indexer",
    "scheduler",
    "exporter",
    "sync",
    "notifier",
    "renderer",
    "uploader",
    "search",
    "db",
    "reporter",
    "billing",
    "events",
    "graphql",
    "admin",
    "proxy",
];
const SIDECARS: [(&str, &str, &str); 3] = [
    ("envoy", "docker.io/envoyproxy/envoy", "v1.29.2"),
    ("log-shipper", "docker.io/fluent/fluent-bit", "3.0.4"),
    ("oauth2-proxy", "quay.io/oauth2-proxy/oauth2-proxy", "v7.6.0"),
];
/// What a StatefulSet's claim is mounted for (`/var/lib/<db>`).
const DBS: [&str; 3] = ["postgres", "redis", "mongo"];
const POOLS: usize = 16;

/// Generates the fleet into `dir` (created; a previous fleet there is replaced) and returns its
/// ground truth, also written to `dir/expected-violations.json`:
/// `{"violations": [{file, doc, kind, namespace, name, violation, path}], "counts": …, …}`.
pub(crate) fn generate(dir: &Path, seed: u64, tenants: u32, rate: f64) -> Value {
    assert!(tenants >= 1 && (0.0..=1.0).contains(&rate), "tenants >= 1, 0 <= rate <= 1");
    if dir.exists() && std::fs::read_dir(dir).unwrap().next().is_some() {
        assert!(dir.join(MARKER).is_file(), "{} is not empty and holds no fleet", dir.display());
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    let mut g =
        Gen { out: dir, rate, tenants: tenant_names(tenants as usize), expected: Vec::new() };
    g.root_files(&mut Rng::new(&format!("{seed}/root")));
    for env in ["staging", "production"] {
        g.cluster(env, &mut Rng::new(&format!("{seed}/cluster/{env}")));
    }
    g.infrastructure(&mut Rng::new(&format!("{seed}/infra")));
    for i in 0..g.tenants.len() {
        let mut rng = Rng::new(&format!("{seed}/tenant/{i}"));
        g.tenant_base(i, &mut rng);
        g.tenant_apps(i, &mut rng);
    }
    for env in ["staging", "production"] {
        g.tenant_overlay(env, &mut Rng::new(&format!("{seed}/overlay/{env}")));
    }

    let mut expected = std::mem::take(&mut g.expected);
    expected.sort_by(|a, b| {
        (&a.file, a.doc, a.violation, &a.path).cmp(&(&b.file, b.doc, b.violation, &b.path))
    });
    let mut counts = serde_json::Map::new();
    for e in &expected {
        let n = counts.get(e.violation).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(e.violation.to_string(), json!(n + 1));
    }
    let params = json!({
        "seed": seed,
        "tenants": tenants,
        "apps_per_tenant": APPS_PER_TENANT,
        "violations": rate,
    });
    let rules: serde_json::Map<String, Value> =
        VIOLATIONS.iter().map(|(id, what)| ((*id).to_string(), json!(what))).collect();
    let manifest = json!({
        "generator": "tests/integration/fleetgen.rs",
        "format": 1,
        "params": params,
        "doc_index": "0-based index of the YAML document within the file",
        "rules": rules,
        "counts": counts,
        "violations": expected,
    });
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut text,
        serde_json::ser::PrettyFormatter::with_indent(b" "),
    );
    manifest.serialize(&mut ser).unwrap();
    text.push(b'\n');
    std::fs::write(dir.join("expected-violations.json"), text).unwrap();
    std::fs::write(dir.join(MARKER), params.to_string()).unwrap();
    manifest
}

fn tenant_names(n: usize) -> Vec<String> {
    let base = ADJ.len() * TEAMS.len();
    (0..n)
        .map(|i| {
            let name = format!("{}-{}", ADJ[i % ADJ.len()], TEAMS[(i / ADJ.len()) % TEAMS.len()]);
            if i >= base {
                format!("{name}-{}", i / base + 1)
            } else {
                name
            }
        })
        .collect()
}

// ----------------------------------------------------------------- files and ground truth

/// One row of expected-violations.json.
#[derive(Serialize)]
struct Row {
    file: String,
    doc: usize,
    kind: String,
    namespace: String,
    name: String,
    violation: &'static str,
    path: String,
}

/// Seeded violations of a document: (rule id, dotted path).
type Violations = Vec<(&'static str, String)>;

/// Documents of an app before they are placed in files: (logical file, document, violations).
type Docs = Vec<(&'static str, Map, Violations)>;

/// The documents of one file.
struct FileOut {
    rel: String,
    comment: Option<String>,
    leading_sep: bool,
    parts: Vec<String>,
}

impl FileOut {
    fn new(rel: impl Into<String>, comment: Option<String>, leading_sep: bool) -> Self {
        FileOut { rel: rel.into(), comment, leading_sep, parts: Vec::new() }
    }

    /// Adds a document in a style drawn from `rng` and records its seeded violations
    /// (`ns`: the effective namespace, by default metadata.namespace).
    fn add(
        &mut self,
        truth: &mut Vec<Row>,
        doc: &Map,
        rng: &mut Rng,
        violations: &[(&'static str, String)],
        ns: Option<&str>,
        note: Option<&str>,
    ) {
        let st = Style { flow: rng.chance(0.2), indentless: rng.chance(0.7) };
        let mut text = render_doc(doc, st);
        if let Some(note) = note {
            text = format!("# {note}\n{text}");
        }
        self.parts.push(text);
        let meta = match doc.get("metadata") {
            Some(Y::Map(m)) => m.clone(),
            _ => Map::default(),
        };
        let ns = ns.unwrap_or_else(|| meta.str("namespace"));
        for (violation, path) in violations {
            truth.push(Row {
                file: self.rel.clone(),
                doc: self.parts.len() - 1,
                kind: doc.str("kind").to_string(),
                namespace: ns.to_string(),
                name: meta.str("name").to_string(),
                violation,
                path: path.clone(),
            });
        }
    }

    fn text(&self) -> String {
        let mut head = String::new();
        for c in self.comment.iter().flat_map(|c| c.split('\n')) {
            head += "#";
            if !c.is_empty() {
                head += " ";
                head += c;
            }
            head += "\n";
        }
        let body = self.parts.join("---\n");
        if self.leading_sep {
            head + "---\n" + &body
        } else {
            head + &body
        }
    }
}

// ----------------------------------------------------------------- the fleet

/// The fleet being written, and its ground truth so far.
struct Gen<'a> {
    out: &'a Path,
    rate: f64,
    tenants: Vec<String>,
    expected: Vec<Row>,
}

fn pool_of(i: usize) -> String {
    format!("pool-{:02}", i % POOLS)
}

fn kustomization(resources: Vec<Y>) -> Map {
    map! {
        "apiVersion" => "kustomize.config.k8s.io/v1beta1",
        "kind" => "Kustomization",
        "resources" => resources,
    }
}

impl Gen<'_> {
    fn write_text(&self, rel: &str, text: &str) {
        let path = self.out.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn write(&self, fo: &FileOut) {
        self.write_text(&fo.rel, &fo.text());
    }

    /// Adds `doc` to `fo`, recording its violations in the ground truth.
    fn add(
        &mut self,
        fo: &mut FileOut,
        doc: &Map,
        rng: &mut Rng,
        violations: &[(&'static str, String)],
        ns: Option<&str>,
        note: Option<&str>,
    ) {
        fo.add(&mut self.expected, doc, rng, violations, ns, note);
    }

    /// A file of one document.
    fn single(
        &mut self,
        rel: &str,
        doc: &Map,
        rng: &mut Rng,
        violations: &[(&'static str, String)],
        ns: Option<&str>,
        comment: Option<String>,
    ) {
        let mut fo = FileOut::new(rel, comment, rng.chance(0.3));
        self.add(&mut fo, doc, rng, violations, ns, None);
        self.write(&fo);
    }

    /// A file of one clean document.
    fn file(&mut self, rel: &str, comment: Option<&str>, doc: &Map, rng: &mut Rng) {
        let mut fo = FileOut::new(rel, comment.map(String::from), false);
        self.add(&mut fo, doc, rng, &[], None, None);
        self.write(&fo);
    }

    /// Whether to seed a violation at this opportunity.
    fn hit(&self, rng: &mut Rng) -> bool {
        rng.chance(self.rate)
    }

    /// Another tenant than `t`, if there is one. It takes one draw from `rng` whatever the
    /// number of tenants, so that the rest of the tenant does not depend on it.
    fn foreign(&self, rng: &mut Rng, t: &str) -> Option<String> {
        if self.tenants.len() < 2 {
            return None;
        }
        let mut rng = Rng::new(&rng.next_u64().to_string());
        loop {
            let o = &self.tenants[rng.below(self.tenants.len())];
            if o != t {
                return Some(o.clone());
            }
        }
    }

    fn root_files(&mut self, rng: &mut Rng) {
        self.write_text(
            "README.md",
            &format!(
                "# fleet-infra (synthetic)\n\nGenerated by mtk-lint's tests (tests/integration/fleetgen.rs). \
                 Layout follows flux2-multi-tenancy: `clusters/` bootstraps Flux, `infrastructure/` holds \
                 cluster add-ons and Kyverno policies, `tenants/` holds per-tenant onboarding \
                 (`tenants/base/<tenant>`) and tenant workloads (`tenants/<tenant>/apps`).\n\n\
                 Tenants: {}\n",
                self.tenants.len()
            ),
        );
        self.file(
            ".sops.yaml",
            Some("SOPS creation rules (not a Kubernetes object)"),
            &map! {"creation_rules" => list![map! {
                "path_regex" => r".*/secrets?\.ya?ml$",
                "encrypted_regex" => "^(data|stringData)$",
                "age" => AGE_RECIPIENT,
            }]},
            rng,
        );
        self.file(
            ".github/workflows/validate.yaml",
            Some("CI workflow (not Kubernetes)"),
            &map! {
                "name" => "validate",
                "on" => map! {"pull_request" => map! {"branches" => list!["main"]}},
                "jobs" => map! {"lint" => map! {
                    "runs-on" => "ubuntu-latest",
                    "steps" => list![
                        map! {"uses" => "actions/checkout@v4"},
                        map! {
                            "name" => "kustomize build",
                            "run" => "for d in clusters/*; do kubectl kustomize $d >/dev/null; done\n",
                        },
                        map! {"name" => "lint", "run" => "mtk-lint check . --format sarif > mtk.sarif\n"},
                    ],
                }},
            },
            rng,
        );
    }

    /// What `flux bootstrap` commits beside gotk-sync.yaml (here only its namespace): the
    /// kustomization lists it, and a build fails without it.
    fn flux_components(&mut self, base: &str, rng: &mut Rng) {
        let mut components = FileOut::new(
            format!("{base}/flux-system/gotk-components.yaml"),
            Some("This manifest was generated by flux. DO NOT EDIT.".into()),
            false,
        );
        let namespace = map! {
            "apiVersion" => "v1",
            "kind" => "Namespace",
            "metadata" => map! {
                "name" => "flux-system",
                "labels" => map! {"app.kubernetes.io/instance" => "flux-system"},
            },
        };
        self.add(&mut components, &namespace, rng, &[], None, None);
        self.write(&components);
    }

    fn cluster(&mut self, env: &str, rng: &mut Rng) {
        let base = format!("clusters/{env}");
        let flux_ref = || map! {"kind" => "GitRepository", "name" => "flux-system"};
        let mut fo = FileOut::new(
            format!("{base}/flux-system/gotk-sync.yaml"),
            Some("This manifest was generated by flux. DO NOT EDIT.".into()),
            false,
        );
        let repo = map! {
            "apiVersion" => "source.toolkit.fluxcd.io/v1",
            "kind" => "GitRepository",
            "metadata" => map! {"name" => "flux-system", "namespace" => "flux-system"},
            "spec" => map! {
                "interval" => "1m0s",
                "ref" => map! {"branch" => "main"},
                "secretRef" => map! {"name" => "flux-system"},
                "url" => "ssh://git@git.example.com/platform/fleet-infra",
            },
        };
        self.add(&mut fo, &repo, rng, &[], None, None);
        let sync = map! {
            "apiVersion" => "kustomize.toolkit.fluxcd.io/v1",
            "kind" => "Kustomization",
            "metadata" => map! {"name" => "flux-system", "namespace" => "flux-system"},
            "spec" => map! {
                "interval" => "10m0s",
                "path" => format!("./clusters/{env}"),
                "prune" => true,
                "sourceRef" => flux_ref(),
            },
        };
        self.add(&mut fo, &sync, rng, &[], None, None);
        self.write(&fo);

        let patch = |arg: &str, names: &str| {
            map! {
                "patch" => format!("- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: {arg}\n"),
                "target" => map! {"kind" => "Deployment", "name" => names},
            }
        };
        self.flux_components(&base, rng);
        let mut kz = kustomization(list!["gotk-components.yaml", "gotk-sync.yaml"]);
        kz.set(
            "patches",
            list![
                patch(
                    "--no-cross-namespace-refs=true",
                    "(kustomize-controller|helm-controller|notification-controller|image-reflector-controller|image-automation-controller)"
                ),
                patch("--default-service-account=default", "(kustomize-controller|helm-controller)"),
            ],
        );
        self.file(&format!("{base}/flux-system/kustomization.yaml"), None, &kz, rng);

        let mut fo = FileOut::new(format!("{base}/infrastructure.yaml"), None, true);
        let controllers = map! {
            "apiVersion" => "kustomize.toolkit.fluxcd.io/v1",
            "kind" => "Kustomization",
            "metadata" => map! {"name" => "infra-controllers", "namespace" => "flux-system"},
            "spec" => map! {
                "interval" => "1h",
                "retryInterval" => "1m",
                "timeout" => "5m",
                "sourceRef" => flux_ref(),
                "path" => "./infrastructure/controllers",
                "prune" => true,
                "wait" => true,
            },
        };
        self.add(&mut fo, &controllers, rng, &[], None, None);
        let configs = map! {
            "apiVersion" => "kustomize.toolkit.fluxcd.io/v1",
            "kind" => "Kustomization",
            "metadata" => map! {"name" => "infra-configs", "namespace" => "flux-system"},
            "spec" => map! {
                "dependsOn" => list![map! {"name" => "infra-controllers"}],
                "interval" => "1h",
                "sourceRef" => flux_ref(),
                "path" => "./infrastructure/configs",
                "prune" => true,
            },
        };
        self.add(&mut fo, &configs, rng, &[], None, None);
        self.write(&fo);

        let tenants = map! {
            "apiVersion" => "kustomize.toolkit.fluxcd.io/v1",
            "kind" => "Kustomization",
            "metadata" => map! {"name" => "tenants", "namespace" => "flux-system"},
            "spec" => map! {
                "dependsOn" => list![map! {"name" => "infra-configs"}],
                "interval" => "5m",
                "sourceRef" => flux_ref(),
                "path" => format!("./tenants/{env}"),
                "prune" => true,
            },
        };
        self.single(&format!("{base}/tenants.yaml"), &tenants, rng, &[], None, None);
    }

    fn infrastructure(&mut self, rng: &mut Rng) {
        let namespace = |name: &str| {
            map! {"apiVersion" => "v1", "kind" => "Namespace", "metadata" => map! {"name" => name}}
        };
        let helm_repo = |name: &str, url: &str| {
            map! {
                "apiVersion" => "source.toolkit.fluxcd.io/v1",
                "kind" => "HelmRepository",
                "metadata" => map! {"name" => name, "namespace" => name},
                "spec" => map! {"interval" => "24h", "url" => url},
            }
        };
        let mut fo = FileOut::new("infrastructure/controllers/kyverno.yaml", None, false);
        self.add(&mut fo, &namespace("kyverno"), rng, &[], None, None);
        self.add(
            &mut fo,
            &helm_repo("kyverno", "https://kyverno.github.io/kyverno/"),
            rng,
            &[],
            None,
            None,
        );
        let release = map! {
            "apiVersion" => "helm.toolkit.fluxcd.io/v2",
            "kind" => "HelmRelease",
            "metadata" => map! {"name" => "kyverno", "namespace" => "kyverno"},
            "spec" => map! {
                "interval" => "30m",
                "chart" => map! {"spec" => map! {
                    "chart" => "kyverno",
                    "version" => "3.2.x",
                    "sourceRef" => map! {
                        "kind" => "HelmRepository", "name" => "kyverno", "namespace" => "kyverno",
                    },
                }},
                "install" => map! {"crds" => "Create"},
                "upgrade" => map! {"crds" => "CreateReplace"},
                "values" => map! {
                    "admissionController" => map! {"replicas" => 3},
                    "backgroundController" => map! {
                        "resources" => map! {"limits" => map! {"memory" => "512Mi"}},
                    },
                },
            },
        };
        self.add(&mut fo, &release, rng, &[], None, None);
        self.write(&fo);

        let mut fo = FileOut::new("infrastructure/controllers/ingress-nginx.yaml", None, false);
        self.add(&mut fo, &namespace("ingress-nginx"), rng, &[], None, None);
        self.add(
            &mut fo,
            &helm_repo("ingress-nginx", "https://kubernetes.github.io/ingress-nginx"),
            rng,
            &[],
            None,
            None,
        );
        let release = map! {
            "apiVersion" => "helm.toolkit.fluxcd.io/v2",
            "kind" => "HelmRelease",
            "metadata" => map! {"name" => "ingress-nginx", "namespace" => "ingress-nginx"},
            "spec" => map! {
                "interval" => "30m",
                "chart" => map! {"spec" => map! {
                    "chart" => "ingress-nginx",
                    "version" => "4.10.x",
                    "sourceRef" => map! {"kind" => "HelmRepository", "name" => "ingress-nginx"},
                }},
                "values" => map! {"controller" => map! {
                    "service" => map! {"type" => "LoadBalancer"},
                    "allowSnippetAnnotations" => false,
                }},
            },
        };
        self.add(&mut fo, &release, rng, &[], None, None);
        self.write(&fo);
        self.file(
            "infrastructure/controllers/kustomization.yaml",
            None,
            &kustomization(list!["kyverno.yaml", "ingress-nginx.yaml"]),
            rng,
        );

        let pol = "infrastructure/configs/kyverno-policies";
        let mut policies = kyverno_policies();
        for (fname, doc) in &policies {
            self.single(&format!("{pol}/{fname}"), doc, rng, &[], None, None);
        }
        policies.sort_by_key(|(fname, _)| *fname);
        let names: Vec<Y> = policies.iter().map(|(fname, _)| Y::from(*fname)).collect();
        self.file(&format!("{pol}/kustomization.yaml"), None, &kustomization(names), rng);
        self.file(
            "infrastructure/configs/kustomization.yaml",
            None,
            &kustomization(list!["kyverno-policies"]),
            rng,
        );
    }

    // -- tenants

    fn tenant_base(&mut self, ti: usize, rng: &mut Rng) {
        let t = self.tenants[ti].clone();
        let t = t.as_str();
        let d = format!("tenants/base/{t}");
        let pool = pool_of(ti);
        let missing_deny = self.hit(rng);
        let ns_doc = map! {
            "apiVersion" => "v1",
            "kind" => "Namespace",
            "metadata" => map! {
                "name" => t,
                "labels" => map! {
                    "toolkit.fluxcd.io/tenant" => t,
                    "mtk.io/tenant" => t,
                    "mtk.io/node-pool" => &pool,
                    "pod-security.kubernetes.io/enforce" => "baseline",
                },
                "annotations" => map! {
                    "scheduler.alpha.kubernetes.io/node-selector" => format!("mtk.io/pool={pool}"),
                },
            },
        };
        let viol: Violations =
            if missing_deny { vec![("MTK-NET-002", "metadata".into())] } else { vec![] };
        let comment = rng.chance(0.5).then(|| format!("Tenant {t}\nowner: team-{t}@example.com"));
        self.single(&format!("{d}/namespace.yaml"), &ns_doc, rng, &viol, Some(""), comment);
        self.tenant_rbac(t, &d, rng);
        self.tenant_network_policies(t, &d, missing_deny, rng);
        self.tenant_quotas(t, &d, rng);
        self.tenant_sync(t, &d, rng);
        self.file(
            &format!("{d}/kustomization.yaml"),
            None,
            &kustomization(list![
                "namespace.yaml",
                "rbac.yaml",
                "network-policies.yaml",
                "quotas.yaml",
                "sync.yaml",
            ]),
            rng,
        );
    }

    /// The tenant's reconciler ServiceAccount, RoleBindings and CI deployer.
    fn tenant_rbac(&mut self, t: &str, d: &str, rng: &mut Rng) {
        let mut fo = FileOut::new(format!("{d}/rbac.yaml"), None, rng.chance(0.5));
        let sa = map! {
            "apiVersion" => "v1",
            "kind" => "ServiceAccount",
            "metadata" => map! {
                "name" => t, "namespace" => t, "labels" => map! {"toolkit.fluxcd.io/tenant" => t},
            },
        };
        self.add(&mut fo, &sa, rng, &[], None, None);
        let mut subjects = list![map! {"kind" => "ServiceAccount", "name" => t, "namespace" => t}];
        let mut viol = Violations::new();
        if self.hit(rng) {
            if let Some(o) = self.foreign(rng, t) {
                subjects.push(
                    map! {"kind" => "ServiceAccount", "name" => &o, "namespace" => &o}.into(),
                );
                viol.push(("MTK-ISO-002", "subjects[1]".into()));
            }
        }
        let reconciler = map! {
            "apiVersion" => "rbac.authorization.k8s.io/v1",
            "kind" => "RoleBinding",
            "metadata" => map! {
                "name" => "gotk-reconciler",
                "namespace" => t,
                "labels" => map! {"toolkit.fluxcd.io/tenant" => t},
            },
            "roleRef" => map! {
                "apiGroup" => "rbac.authorization.k8s.io",
                "kind" => "ClusterRole",
                "name" => "cluster-admin",
            },
            "subjects" => subjects,
        };
        let note = "namespace-scoped admin for the tenant's Flux reconciler";
        self.add(&mut fo, &reconciler, rng, &viol, None, Some(note));
        let team = map! {
            "apiVersion" => "rbac.authorization.k8s.io/v1",
            "kind" => "RoleBinding",
            "metadata" => map! {"name" => "team-edit", "namespace" => t},
            "roleRef" => map! {
                "apiGroup" => "rbac.authorization.k8s.io", "kind" => "ClusterRole", "name" => "edit",
            },
            "subjects" => list![map! {
                "apiGroup" => "rbac.authorization.k8s.io",
                "kind" => "Group",
                "name" => format!("oidc:team-{t}"),
            }],
        };
        self.add(&mut fo, &team, rng, &[], None, None);
        let ci_sa = map! {
            "apiVersion" => "v1",
            "kind" => "ServiceAccount",
            "metadata" => map! {"name" => "ci-deployer", "namespace" => t},
        };
        self.add(&mut fo, &ci_sa, rng, &[], None, None);
        let ci_role = map! {
            "apiVersion" => "rbac.authorization.k8s.io/v1",
            "kind" => "Role",
            "metadata" => map! {"name" => "ci-deployer", "namespace" => t},
            "rules" => list![
                map! {
                    "apiGroups" => list!["apps"],
                    "resources" => list!["deployments", "statefulsets"],
                    "verbs" => list!["get", "list", "patch"],
                },
                map! {
                    "apiGroups" => list![""],
                    "resources" => list!["pods", "pods/log"],
                    "verbs" => list!["get", "list"],
                },
            ],
        };
        self.add(&mut fo, &ci_role, rng, &[], None, None);
        let ci_binding = map! {
            "apiVersion" => "rbac.authorization.k8s.io/v1",
            "kind" => "RoleBinding",
            "metadata" => map! {"name" => "ci-deployer", "namespace" => t},
            "roleRef" => map! {
                "apiGroup" => "rbac.authorization.k8s.io", "kind" => "Role", "name" => "ci-deployer",
            },
            "subjects" => list![map! {
                "kind" => "ServiceAccount", "name" => "ci-deployer", "namespace" => t,
            }],
        };
        self.add(&mut fo, &ci_binding, rng, &[], None, None);
        self.write(&fo);
    }

    /// The default deny (unless seeded away) and the allow policies.
    fn tenant_network_policies(&mut self, t: &str, d: &str, missing_deny: bool, rng: &mut Rng) {
        let netpol = |name: &str, spec: Map| {
            map! {
                "apiVersion" => "networking.k8s.io/v1",
                "kind" => "NetworkPolicy",
                "metadata" => map! {"name" => name, "namespace" => t},
                "spec" => spec,
            }
        };
        let ns_selector = |name: &str| {
            map! {"namespaceSelector" => map! {
                "matchLabels" => map! {"kubernetes.io/metadata.name" => name},
            }}
        };
        let mut fo = FileOut::new(format!("{d}/network-policies.yaml"), None, false);
        if !missing_deny {
            let deny = netpol(
                "default-deny-all",
                map! {"podSelector" => Map::default(), "policyTypes" => list!["Ingress", "Egress"]},
            );
            self.add(&mut fo, &deny, rng, &[], None, None);
        }
        let same = netpol(
            "allow-same-namespace",
            map! {
                "podSelector" => Map::default(),
                "policyTypes" => list!["Ingress"],
                "ingress" => list![map! {"from" => list![map! {"podSelector" => Map::default()}]}],
            },
        );
        self.add(&mut fo, &same, rng, &[], None, None);
        let ingress = netpol(
            "allow-ingress-controller",
            map! {
                "podSelector" => Map::default(),
                "policyTypes" => list!["Ingress"],
                "ingress" => list![map! {"from" => list![ns_selector("ingress-nginx")]}],
            },
        );
        self.add(&mut fo, &ingress, rng, &[], None, None);
        let dns = netpol(
            "allow-dns-egress",
            map! {
                "podSelector" => Map::default(),
                "policyTypes" => list!["Egress"],
                "egress" => list![map! {
                    "to" => list![ns_selector("kube-system")],
                    "ports" => list![
                        map! {"protocol" => "UDP", "port" => 53},
                        map! {"protocol" => "TCP", "port" => 53},
                    ],
                }],
            },
        );
        self.add(&mut fo, &dns, rng, &[], None, None);
        self.write(&fo);
    }

    /// ResourceQuota and LimitRange.
    fn tenant_quotas(&mut self, t: &str, d: &str, rng: &mut Rng) {
        let size = rng.pick(&["small", "medium", "large"]);
        let (cpu, mem) = match size {
            "small" => (4, "8Gi"),
            "medium" => (16, "32Gi"),
            _ => (64, "128Gi"),
        };
        let mut fo =
            FileOut::new(format!("{d}/quotas.yaml"), Some(format!("quota tier: {size}")), false);
        let quota = map! {
            "apiVersion" => "v1",
            "kind" => "ResourceQuota",
            "metadata" => map! {"name" => "compute", "namespace" => t},
            "spec" => map! {"hard" => map! {
                "requests.cpu" => cpu.to_string(),
                "requests.memory" => mem,
                "limits.cpu" => (cpu * 2).to_string(),
                "limits.memory" => mem,
                "pods" => "200",
                "services.nodeports" => Y::Note(Box::new(Y::Int(0)), "NodePorts are not allowed"),
                "services.loadbalancers" => 0,
            }},
        };
        self.add(&mut fo, &quota, rng, &[], None, None);
        let limits = map! {
            "apiVersion" => "v1",
            "kind" => "LimitRange",
            "metadata" => map! {"name" => "defaults", "namespace" => t},
            "spec" => map! {"limits" => list![map! {
                "type" => "Container",
                "default" => map! {"cpu" => "500m", "memory" => "512Mi"},
                "defaultRequest" => map! {"cpu" => "100m", "memory" => "128Mi"},
                "max" => map! {"cpu" => "4", "memory" => "8Gi"},
            }]},
        };
        self.add(&mut fo, &limits, rng, &[], None, None);
        self.write(&fo);
    }

    /// The tenant's GitRepository and Flux Kustomization.
    fn tenant_sync(&mut self, t: &str, d: &str, rng: &mut Rng) {
        let mut fo = FileOut::new(format!("{d}/sync.yaml"), None, rng.chance(0.5));
        let git = map! {
            "apiVersion" => "source.toolkit.fluxcd.io/v1",
            "kind" => "GitRepository",
            "metadata" => map! {"name" => t, "namespace" => t},
            "spec" => map! {
                "interval" => "1m",
                "url" => "ssh://git@git.example.com/platform/fleet-infra",
                "ref" => map! {"branch" => "main"},
                "secretRef" => map! {"name" => "fleet-deploy-key"},
                "ignore" => format!("/*\n!/tenants/{t}/\n"),
            },
        };
        self.add(&mut fo, &git, rng, &[], None, None);
        let mut spec = map! {
            "interval" => "5m",
            "serviceAccountName" => t,
            "path" => format!("./tenants/{t}/apps"),
            "prune" => true,
            "targetNamespace" => t,
            "sourceRef" => map! {"kind" => "GitRepository", "name" => t},
            "decryption" => map! {"provider" => "sops", "secretRef" => map! {"name" => "sops-age"}},
        };
        let mut viol = Violations::new();
        if self.hit(rng) {
            spec.remove("serviceAccountName");
            viol.push(("MTK-FLUX-001", "spec".into()));
        }
        if self.hit(rng) {
            spec.set(
                "sourceRef",
                map! {"kind" => "GitRepository", "name" => "flux-system", "namespace" => "flux-system"},
            );
            viol.push(("MTK-FLUX-002", "spec.sourceRef.namespace".into()));
        }
        let ks = map! {
            "apiVersion" => "kustomize.toolkit.fluxcd.io/v1",
            "kind" => "Kustomization",
            "metadata" => map! {"name" => t, "namespace" => t},
            "spec" => spec,
        };
        self.add(&mut fo, &ks, rng, &viol, None, None);
        self.write(&fo);
    }

    fn tenant_overlay(&mut self, env: &str, rng: &mut Rng) {
        let resources: Vec<Y> =
            self.tenants.iter().map(|t| format!("../base/{t}").into()).collect();
        let mut doc = kustomization(resources);
        if env == "production" {
            doc.set(
                "patches",
                list![map! {
                    "target" => map! {"kind" => "Kustomization", "group" => "kustomize.toolkit.fluxcd.io"},
                    "patch" => "- op: replace\n  path: /spec/interval\n  value: 10m\n",
                }],
            );
        }
        self.file(&format!("tenants/{env}/kustomization.yaml"), None, &doc, rng);
    }

    fn tenant_apps(&mut self, ti: usize, rng: &mut Rng) {
        let t = self.tenants[ti].clone();
        let base = format!("tenants/{t}/apps");
        let pool = pool_of(ti);
        let mut app_dirs: Vec<String> = Vec::new();
        for a in 0..APPS_PER_TENANT {
            let w = rng.pick(&APP_WORDS);
            let name =
                if app_dirs.iter().any(|d| d == w) { format!("{w}-{a}") } else { w.to_string() };
            let kind = rng.weighted(&[
                (AppKind::Web, 50),
                (AppKind::Worker, 20),
                (AppKind::Stateful, 15),
                (AppKind::Cron, 15),
            ]);
            self.app(&t, &pool, &name, kind, &format!("{base}/{name}"), rng);
            app_dirs.push(name);
        }
        let dirs: Vec<Y> = app_dirs.iter().map(Y::from).collect();
        self.file(&format!("{base}/kustomization.yaml"), None, &kustomization(dirs), rng);
        if rng.chance(0.6) {
            self.write_text(
                &format!("tenants/{t}/README.md"),
                &format!(
                    "# {t}\n\nOwned by team-{t}. Node pool: `{pool}`.\nApps: {}.\n\nHosts live under `*.{t}.{DOMAIN}`.\n",
                    app_dirs.join(", ")
                ),
            );
        }
    }

    /// A container of `app`: its main one, or a sidecar; `cron`: without ports or probes.
    fn container(t: &str, app: &str, rng: &mut Rng, main: bool, cron: bool) -> Map {
        let (cname, image, tag) = if main {
            let tag = format!("{}.{}.{}", rng.int(0, 4), rng.int(0, 30), rng.int(0, 9));
            (app.to_string(), format!("{REGISTRY}/{t}/{app}"), tag)
        } else {
            let (n, i, tag) = rng.pick(&SIDECARS);
            (n.to_string(), i.to_string(), tag.to_string())
        };
        let mut c = map! {"name" => cname, "image" => format!("{image}:{tag}")};
        if rng.chance(0.5) {
            c.set("imagePullPolicy", "IfNotPresent");
        }
        if main {
            if !cron {
                c.set(
                    "ports",
                    list![map! {"name" => "http", "containerPort" => 8080, "protocol" => "TCP"}],
                );
            }
            c.set(
                "envFrom",
                list![map! {"configMapRef" => map! {"name" => format!("{app}-config")}}],
            );
            c.set(
                "env",
                list![
                    map! {"name" => "TENANT", "value" => t},
                    map! {
                        "name" => "POD_NAME",
                        "valueFrom" => map! {"fieldRef" => map! {"fieldPath" => "metadata.name"}},
                    },
                ],
            );
            if rng.chance(0.3) {
                c.set("args", list!["--port=8080", "--log-format=json"]);
            }
        }
        let cpu = rng.pick(&["50m", "100m", "250m", "500m"]);
        let memr = rng.pick(&["64Mi", "128Mi", "256Mi", "512Mi"]);
        let lcpu = rng.pick(&["500m", "1", "2"]);
        let lmem = rng.pick(&["512Mi", "1Gi", "2Gi"]);
        c.set(
            "resources",
            map! {
                "requests" => map! {"cpu" => cpu, "memory" => memr},
                "limits" => map! {"cpu" => lcpu, "memory" => lmem},
            },
        );
        c.set(
            "securityContext",
            map! {
                "allowPrivilegeEscalation" => false,
                "runAsNonRoot" => true,
                "readOnlyRootFilesystem" => true,
                "capabilities" => map! {"drop" => list!["ALL"]},
            },
        );
        if main && !cron {
            c.set(
                "readinessProbe",
                map! {"httpGet" => map! {"path" => "/healthz", "port" => "http"}, "periodSeconds" => 10},
            );
            c.set(
                "livenessProbe",
                map! {"httpGet" => map! {"path" => "/livez", "port" => "http"}, "initialDelaySeconds" => 15},
            );
        }
        c
    }

    /// The pod spec of a workload, with its seeded violations (paths under `prefix`); `mount`:
    /// one more volume mount of the main container (a StatefulSet's claim).
    #[allow(clippy::too_many_arguments, reason = "the pod's place in its workload, as parameters")]
    fn pod(
        &self,
        t: &str,
        pool: &str,
        app: &str,
        rng: &mut Rng,
        prefix: &str,
        viol: &mut Violations,
        cron: bool,
        mount: Option<Map>,
    ) -> Map {
        let mut containers = vec![Self::container(t, app, rng, true, cron)];
        if rng.chance(0.25) {
            containers.push(Self::container(t, app, rng, false, cron));
        }
        let mut vols = vec![map! {"name" => "tmp", "emptyDir" => Map::default()}];
        containers[0].set("volumeMounts", list![map! {"name" => "tmp", "mountPath" => "/tmp"}]);
        if self.hit(rng) {
            let ci = rng.below(containers.len());
            let sc = containers[ci].map_mut("securityContext");
            sc.set("privileged", true);
            sc.set("allowPrivilegeEscalation", true);
            viol.push((
                "MTK-SEC-001",
                format!("{prefix}.containers[{ci}].securityContext.privileged"),
            ));
        }
        if self.hit(rng) {
            let hp = rng.pick(&["/var/run/docker.sock", "/var/log", "/etc/kubernetes", "/"]);
            vols.push(map! {"name" => "host", "hostPath" => map! {"path" => hp}});
            containers[0]
                .list_mut("volumeMounts")
                .push(map! {"name" => "host", "mountPath" => "/host"}.into());
            viol.push(("MTK-SEC-002", format!("{prefix}.volumes[{}].hostPath", vols.len() - 1)));
        }
        if self.hit(rng) {
            let ci = rng.below(containers.len());
            if rng.chance(0.5) {
                containers[ci].map_mut("resources").remove("limits");
            } else {
                containers[ci].remove("resources");
            }
            viol.push(("MTK-SEC-003", format!("{prefix}.containers[{ci}]")));
        }
        if self.hit(rng) {
            let ci = rng.below(containers.len());
            let image = containers[ci].str("image");
            let repo = image.rsplit_once(':').map_or(image, |(repo, _)| repo).to_string();
            let image = if rng.chance(0.6) { format!("{repo}:latest") } else { repo };
            containers[ci].set("image", image);
            viol.push(("MTK-SEC-004", format!("{prefix}.containers[{ci}].image")));
        }
        let pinned = !self.hit(rng);
        if !pinned {
            viol.push(("MTK-SCHED-001", prefix.to_string()));
        }
        if let Some(mount) = mount {
            containers[0].list_mut("volumeMounts").push(mount.into());
        }
        let mut spec = map! {
            "serviceAccountName" => app,
            "automountServiceAccountToken" => false,
            "securityContext" => map! {
                "runAsNonRoot" => true, "seccompProfile" => map! {"type" => "RuntimeDefault"},
            },
        };
        if pinned {
            spec.set("nodeSelector", map! {"mtk.io/pool" => pool});
            spec.set(
                "tolerations",
                list![map! {
                    "key" => "mtk.io/pool", "operator" => "Equal", "value" => pool, "effect" => "NoSchedule",
                }],
            );
        }
        spec.set("containers", containers.into_iter().map(Y::from).collect::<Vec<_>>());
        spec.set("volumes", vols.into_iter().map(Y::from).collect::<Vec<_>>());
        if cron {
            spec.set("restartPolicy", "OnFailure");
        }
        spec
    }

    #[allow(clippy::too_many_lines, reason = "an app's objects, in the order they are written")]
    fn app(&mut self, t: &str, pool: &str, app: &str, kind: AppKind, d: &str, rng: &mut Rng) {
        // Without metadata.namespace, the app's kustomization.yaml sets it.
        let ns = rng.chance(0.9).then_some(t);
        let labels = map! {
            "app.kubernetes.io/name" => app, "app.kubernetes.io/part-of" => t, "mtk.io/tenant" => t,
        };
        let meta = |name: &str, with_labels: bool| {
            let mut m = map! {"name" => name};
            if let Some(ns) = ns {
                m.set("namespace", ns);
            }
            if with_labels {
                m.set("labels", labels.clone());
            }
            m
        };

        let mut docs = Docs::new();
        let sa = map! {
            "apiVersion" => "v1",
            "kind" => "ServiceAccount",
            "metadata" => meta(app, false),
            "automountServiceAccountToken" => false,
        };
        docs.push(("serviceaccount", sa, vec![]));
        let log_level = rng.pick(&["info", "debug", "warn"]);
        let ttl = rng.int(10, 600);
        let cm = map! {
            "apiVersion" => "v1",
            "kind" => "ConfigMap",
            "metadata" => meta(&format!("{app}-config"), true),
            "data" => map! {
                "LOG_LEVEL" => log_level,
                "TENANT" => t,
                "app.yaml" => format!("server:\n  port: 8080\n  tenant: {t}\ncache:\n  ttl: {ttl}s\n"),
            },
        };
        docs.push(("configmap", cm, vec![]));

        let mut viol = Violations::new();
        // Some workloads anchor their labels and alias them in the selector and template.
        let anchored = rng.chance(0.15);
        let mut m = meta(app, true);
        let (sel, tlabels) = if anchored {
            m.set("labels", Y::Anchor("labels", labels.clone()));
            (Y::Alias("labels"), Y::Alias("labels"))
        } else {
            (Y::Map(labels.clone()), Y::Map(labels.clone()))
        };
        match kind {
            AppKind::Web | AppKind::Worker => {
                let spec =
                    self.pod(t, pool, app, rng, "spec.template.spec", &mut viol, false, None);
                let w = map! {
                    "apiVersion" => "apps/v1",
                    "kind" => "Deployment",
                    "metadata" => m,
                    "spec" => map! {
                        "replicas" => rng.int(1, 4),
                        "revisionHistoryLimit" => 5,
                        "selector" => map! {"matchLabels" => sel},
                        "strategy" => map! {
                            "type" => "RollingUpdate",
                            "rollingUpdate" => map! {"maxUnavailable" => 0, "maxSurge" => 1},
                        },
                        "template" => map! {
                            "metadata" => map! {
                                "labels" => tlabels,
                                "annotations" => map! {"kubectl.kubernetes.io/default-container" => app},
                            },
                            "spec" => spec,
                        },
                    },
                };
                docs.push(("deployment", w, viol));
            }
            AppKind::Stateful => {
                let db = rng.pick(&DBS);
                let data = map! {"name" => "data", "mountPath" => format!("/var/lib/{db}")};
                let spec =
                    self.pod(t, pool, app, rng, "spec.template.spec", &mut viol, false, Some(data));
                let storage = rng.pick(&[10, 20, 50, 100]);
                let w = map! {
                    "apiVersion" => "apps/v1",
                    "kind" => "StatefulSet",
                    "metadata" => m,
                    "spec" => map! {
                        "serviceName" => app,
                        "replicas" => 3,
                        "selector" => map! {"matchLabels" => sel},
                        "template" => map! {"metadata" => map! {"labels" => tlabels}, "spec" => spec},
                        "volumeClaimTemplates" => list![map! {
                            "metadata" => map! {"name" => "data"},
                            "spec" => map! {
                                "accessModes" => list!["ReadWriteOnce"],
                                "storageClassName" => "standard-rwo",
                                "resources" => map! {"requests" => map! {"storage" => format!("{storage}Gi")}},
                            },
                        }],
                    },
                };
                docs.push(("statefulset", w, viol));
            }
            AppKind::Cron => {
                let prefix = "spec.jobTemplate.spec.template.spec";
                let spec = self.pod(t, pool, app, rng, prefix, &mut viol, true, None);
                let schedule = rng.pick(&["*/15 * * * *", "0 3 * * *", "@hourly", "30 1 * * 0"]);
                let w = map! {
                    "apiVersion" => "batch/v1",
                    "kind" => "CronJob",
                    "metadata" => meta(app, true),
                    "spec" => map! {
                        "schedule" => schedule,
                        "concurrencyPolicy" => "Forbid",
                        "successfulJobsHistoryLimit" => 3,
                        "jobTemplate" => map! {"spec" => map! {
                            "backoffLimit" => 2,
                            "template" => map! {
                                "metadata" => map! {"labels" => labels.clone()}, "spec" => spec,
                            },
                        }},
                    },
                };
                docs.push(("cronjob", w, viol));
            }
        }
        if matches!(kind, AppKind::Web | AppKind::Stateful) {
            let mut sviol = Violations::new();
            let mut port =
                map! {"name" => "http", "port" => 80, "targetPort" => "http", "protocol" => "TCP"};
            let (key, value) = if kind == AppKind::Stateful {
                ("clusterIP", "None")
            } else if self.hit(rng) {
                port.set("nodePort", 30000 + rng.below(2767));
                sviol.push(("MTK-NET-001", "spec.type".into()));
                ("type", "NodePort")
            } else {
                ("type", "ClusterIP")
            };
            let svc = map! {
                "apiVersion" => "v1",
                "kind" => "Service",
                "metadata" => meta(app, true),
                "spec" => map! {"selector" => labels.clone(), "ports" => list![port], key => value},
            };
            docs.push(("service", svc, sviol));
        }
        if kind == AppKind::Web {
            let mut iviol = Violations::new();
            let mut owner = t.to_string();
            if self.hit(rng) {
                if let Some(o) = self.foreign(rng, t) {
                    owner = o;
                    iviol.push(("MTK-ISO-001", "spec.rules[0].host".into()));
                }
            }
            let host = format!("{app}.{owner}.{DOMAIN}");
            let mut im = meta(app, true);
            im.set(
                "annotations",
                map! {
                    "cert-manager.io/cluster-issuer" => "letsencrypt",
                    "nginx.ingress.kubernetes.io/proxy-body-size" => "8m",
                },
            );
            let ingress = map! {
                "apiVersion" => "networking.k8s.io/v1",
                "kind" => "Ingress",
                "metadata" => im,
                "spec" => map! {
                    "ingressClassName" => "nginx",
                    "tls" => list![map! {"hosts" => list![&host], "secretName" => format!("{app}-tls")}],
                    "rules" => list![map! {
                        "host" => &host,
                        "http" => map! {"paths" => list![map! {
                            "path" => "/",
                            "pathType" => "Prefix",
                            "backend" => map! {"service" => map! {
                                "name" => app, "port" => map! {"name" => "http"},
                            }},
                        }]},
                    }],
                },
            };
            docs.push(("ingress", ingress, iviol));
            let hpa = map! {
                "apiVersion" => "autoscaling/v2",
                "kind" => "HorizontalPodAutoscaler",
                "metadata" => meta(app, true),
                "spec" => map! {
                    "scaleTargetRef" => map! {"apiVersion" => "apps/v1", "kind" => "Deployment", "name" => app},
                    "minReplicas" => 2,
                    "maxReplicas" => rng.pick(&[5, 10, 20]),
                    "metrics" => list![map! {
                        "type" => "Resource",
                        "resource" => map! {
                            "name" => "cpu",
                            "target" => map! {"type" => "Utilization", "averageUtilization" => 70},
                        },
                    }],
                },
            };
            docs.push(("hpa", hpa, vec![]));
        }
        if matches!(kind, AppKind::Web | AppKind::Stateful) {
            let pdb = map! {
                "apiVersion" => "policy/v1",
                "kind" => "PodDisruptionBudget",
                "metadata" => meta(app, true),
                "spec" => map! {"minAvailable" => 1, "selector" => map! {"matchLabels" => labels.clone()}},
            };
            docs.push(("pdb", pdb, vec![]));
        }
        if rng.chance(0.35) || kind == AppKind::Stateful {
            let mut secviol = Violations::new();
            let mut sec = map! {
                "apiVersion" => "v1",
                "kind" => "Secret",
                "metadata" => meta(&format!("{app}-credentials"), true),
                "type" => "Opaque",
            };
            if self.hit(rng) {
                let password = format!("hunter{}!", rng.int(100, 999));
                sec.set("stringData", map! {"username" => app, "password" => password});
                secviol.push(("MTK-SEC-005", "stringData".into()));
            } else {
                let mut enc = || {
                    format!(
                        "ENC[AES256_GCM,data:{:016x},iv:{:012x},tag:{:016x},type:str]",
                        rng.next_u64(),
                        rng.next_u64() >> 16,
                        rng.next_u64()
                    )
                };
                let data = map! {"username" => enc(), "password" => enc()};
                sec.set("data", data);
                let mac = format!(
                    "ENC[AES256_GCM,data:{:016x}{:016x},type:str]",
                    rng.next_u64(),
                    rng.next_u64()
                );
                sec.set(
                    "sops",
                    map! {
                        "age" => list![map! {
                            "recipient" => AGE_RECIPIENT,
                            "enc" => "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB\n-----END AGE ENCRYPTED FILE-----\n",
                        }],
                        "lastmodified" => "2024-05-01T10:00:00Z",
                        "mac" => mac,
                        "encrypted_regex" => "^(data|stringData)$",
                        "version" => "3.8.1",
                    },
                );
            }
            docs.push(("secret", sec, secviol));
        }

        // The files: one per object (split), the app in one file (bundle) or by role (mixed).
        let layout = rng.weighted(&[("split", 45), ("bundle", 30), ("mixed", 25)]);
        let ext = if rng.chance(0.08) { ".yml" } else { ".yaml" };
        let mut groups: Vec<(String, Docs)> = Vec::new();
        for (logical, doc, v) in docs {
            let stem = match layout {
                "split" => logical,
                "bundle" if logical == "secret" => "secret",
                "bundle" => app,
                _ => match logical {
                    "deployment" | "statefulset" | "cronjob" | "serviceaccount" => "workload",
                    "service" | "ingress" => "network",
                    "secret" => "secret",
                    _ => "config",
                },
            };
            let fname = format!("{stem}{ext}");
            match groups.iter_mut().find(|(f, _)| *f == fname) {
                Some((_, items)) => items.push((logical, doc, v)),
                None => groups.push((fname, vec![(logical, doc, v)])),
            }
        }
        let kind_name = kind.name();
        for (fname, items) in &groups {
            let comment = rng.chance(0.25).then(|| format!("{app} ({kind_name}) for tenant {t}"));
            let mut fo = FileOut::new(format!("{d}/{fname}"), comment, rng.chance(0.25));
            for (logical, doc, v) in items {
                let note = (items.len() > 1 && rng.chance(0.3)).then_some(*logical);
                self.add(&mut fo, doc, rng, v, Some(t), note);
            }
            self.write(&fo);
        }
        let mut files: Vec<Y> = Vec::new();
        let mut names: Vec<&String> = groups.iter().map(|(f, _)| f).collect();
        names.sort();
        files.extend(names.into_iter().map(Y::from));
        let kz = map! {
            "apiVersion" => "kustomize.config.k8s.io/v1beta1",
            "kind" => "Kustomization",
            "namespace" => t,
            "resources" => files,
            "labels" => list![map! {"pairs" => map! {"mtk.io/tenant" => t}, "includeSelectors" => false}],
        };
        self.file(&format!("{d}/kustomization.yaml"), None, &kz, rng);
        if rng.chance(0.05) {
            self.write_text(
                &format!("{d}/values.yaml"),
                &format!(
                    "# helm-style values, not a Kubernetes object\nreplicaCount: 2\nimage:\n  repository: {REGISTRY}/{t}/{app}\n  tag: \"1.0.0\"\nkind: values\n"
                ),
            );
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AppKind {
    Web,
    Worker,
    Stateful,
    Cron,
}

impl AppKind {
    fn name(self) -> &'static str {
        match self {
            AppKind::Web => "web",
            AppKind::Worker => "worker",
            AppKind::Stateful => "stateful",
            AppKind::Cron => "cron",
        }
    }
}

/// The fleet's Kyverno ClusterPolicies (infrastructure/configs/kyverno-policies), by file name.
#[allow(clippy::too_many_lines, reason = "the policies as one literal each")]
fn kyverno_policies() -> Vec<(&'static str, Map)> {
    let cpol = |name: &str, rules: Vec<Y>, title: &str| {
        map! {
            "apiVersion" => "kyverno.io/v1",
            "kind" => "ClusterPolicy",
            "metadata" => map! {
                "name" => name,
                "annotations" => map! {
                    "policies.kyverno.io/title" => title,
                    "policies.kyverno.io/category" => "Multi-Tenancy",
                },
            },
            "spec" => map! {"validationFailureAction" => "Enforce", "background" => false, "rules" => rules},
        }
    };
    let excl = || {
        map! {"any" => list![map! {"resources" => map! {
            "namespaces" => list!["flux-system", "kube-system", "kyverno", "ingress-nginx"],
        }}]}
    };
    let kinds =
        |kinds: Vec<Y>| map! {"any" => list![map! {"resources" => map! {"kinds" => kinds}}]};
    vec![
        (
            "verify-flux-sa.yaml",
            cpol(
                "verify-flux-sa",
                list![
                    map! {
                        "name" => "serviceAccountName",
                        "exclude" => excl(),
                        "match" => kinds(list!["Kustomization", "HelmRelease"]),
                        "validate" => map! {
                            "message" => ".spec.serviceAccountName is required",
                            "pattern" => map! {"spec" => map! {"serviceAccountName" => "?*"}},
                        },
                    },
                    // Only a sourceRef that names a namespace can point elsewhere (an unset one
                    // is the object's own namespace); Kyverno errors on an unresolved variable in
                    // a condition.
                    map! {
                        "name" => "kustomizationSourceRefNamespace",
                        "exclude" => excl(),
                        "match" => kinds(list!["Kustomization"]),
                        "preconditions" => map! {"all" => list![map! {
                            "key" => "{{ request.object.spec.sourceRef.namespace || '' }}",
                            "operator" => "NotEquals",
                            "value" => "",
                        }]},
                        "validate" => map! {
                            "message" => "spec.sourceRef.namespace must be the same as metadata.namespace",
                            "deny" => map! {"conditions" => map! {"any" => list![map! {
                                "key" => "{{request.object.spec.sourceRef.namespace}}",
                                "operator" => "NotEquals",
                                "value" => "{{request.object.metadata.namespace}}",
                            }]}},
                        },
                    },
                ],
                "Flux reconcilers must impersonate a tenant service account",
            ),
        ),
        (
            "disallow-privileged.yaml",
            cpol(
                "disallow-privileged",
                list![map! {
                    "name" => "privileged-containers",
                    "exclude" => excl(),
                    "match" => kinds(list!["Pod"]),
                    "validate" => map! {
                        "message" => "Privileged mode is disallowed.",
                        "pattern" => map! {"spec" => map! {
                            "=(initContainers)" => list![map! {
                                "=(securityContext)" => map! {"=(privileged)" => "false"},
                            }],
                            "containers" => list![map! {
                                "=(securityContext)" => map! {"=(privileged)" => "false"},
                            }],
                        }},
                    },
                }],
                "Disallow privileged containers",
            ),
        ),
        (
            "require-limits.yaml",
            cpol(
                "require-limits",
                list![map! {
                    "name" => "validate-resources",
                    "exclude" => excl(),
                    "match" => kinds(list!["Pod"]),
                    "validate" => map! {
                        "message" => "CPU and memory limits are required.",
                        "pattern" => map! {"spec" => map! {"containers" => list![map! {
                            "resources" => map! {"limits" => map! {"memory" => "?*", "cpu" => "?*"}},
                        }]}},
                    },
                }],
                "Require resource limits",
            ),
        ),
        (
            "restrict-ingress-host.yaml",
            cpol(
                "restrict-ingress-host",
                list![map! {
                    "name" => "tenant-domain",
                    "exclude" => excl(),
                    "match" => kinds(list!["Ingress"]),
                    "validate" => map! {
                        "message" => format!("Ingress hosts must be under <namespace>.{DOMAIN}"),
                        "deny" => map! {"conditions" => map! {"any" => list![map! {
                            "key" => "{{ request.object.spec.rules[].host }}",
                            "operator" => "AnyNotIn",
                            "value" => list![format!("*.{{{{request.object.metadata.namespace}}}}.{DOMAIN}")],
                        }]}},
                    },
                }],
                "Restrict ingress hosts to the tenant domain",
            ),
        ),
        (
            "require-pool-toleration.yaml",
            cpol(
                "require-pool-toleration",
                list![map! {
                    "name" => "pool-toleration",
                    "exclude" => excl(),
                    "match" => kinds(list!["Pod"]),
                    "context" => list![map! {
                        "name" => "pool",
                        "apiCall" => map! {
                            "urlPath" => "/api/v1/namespaces/{{request.namespace}}",
                            "jmesPath" => "metadata.labels.\"mtk.io/node-pool\"",
                        },
                    }],
                    "validate" => map! {
                        "message" => "Pods must tolerate the tenant node pool taint.",
                        "deny" => map! {"conditions" => map! {"all" => list![map! {
                            "key" => "{{ request.object.spec.tolerations[?key=='mtk.io/pool'].value | [0] || '' }}",
                            "operator" => "NotEquals",
                            "value" => "{{pool}}",
                        }]}},
                    },
                }],
                "Tenant pods run on their node pool",
            ),
        ),
    ]
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_fleet_depends_only_on_its_parameters_and_a_tenant_only_on_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    let truth = generate(&a, 4, 5, 0.3);
    assert_eq!(generate(&b, 4, 5, 0.3), truth);
    assert_eq!(files(&a), files(&b));
    // Generating over a previous fleet replaces it.
    generate(&b, 5, 5, 0.3);
    generate(&b, 4, 5, 0.3);
    assert_eq!(files(&a), files(&b));

    generate(&c, 4, 6, 0.3);
    let (small, large) = (files(&a), files(&c));
    for (rel, text) in &small {
        // What lists every tenant, and foreign-tenant references, may change.
        let lists = rel.starts_with("tenants/staging/")
            || rel.starts_with("tenants/production/")
            || ["README.md", "expected-violations.json", MARKER].contains(&rel.as_str());
        let foreign = truth["violations"].as_array().unwrap().iter().any(|v| {
            v["file"] == rel.as_str()
                && ["MTK-ISO-001", "MTK-ISO-002"].contains(&v["violation"].as_str().unwrap())
        });
        if !lists && !foreign {
            assert_eq!(large.get(rel), Some(text), "{rel}");
        }
    }
    assert!(large.keys().any(|rel| rel.starts_with("tenants/base/billing-alpha/")));
}
