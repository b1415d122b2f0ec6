//! Command-line arguments as clap sees them. Nothing outside `cli` sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::finding::Severity;
use crate::harness::render::TestFormat;
use crate::report::catalog::CatalogFormat;
use crate::report::Format;

/// Policy-as-code linter for multi-tenant Kubernetes GitOps repositories.
///
/// Lints rendered manifests (a directory tree, files, or `-` for a stream on stdin) with the
/// built-in tenant-isolation rules. Exit codes: 0 clean, 1 findings at or above --fail-on,
/// 2 errors (unreadable or broken input, bad config, usage).
#[derive(Debug, Parser)]
#[command(name = "mtk-lint", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint manifests (the default command).
    Check(CheckArgs),
    /// Run policy tests: Kyverno `kyverno-test.yaml` suites and `mtk-lint-test.yaml` golden tests.
    Test(TestArgs),
    /// Print the objects a kustomization builds (as `kustomize build` does), a Helm chart
    /// renders (as `helm template` does) or one build unit of a tree renders (as `mtk-lint`
    /// lints them), with where each field comes from (docs/RENDER.md).
    Render(RenderArgs),
    /// List the built-in rules.
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
        format: CatalogFormat,
    },
    /// Print a rule's documentation (by code or name).
    Explain {
        /// A rule code (`MTK-NET-002`) or name (`missing-default-deny`).
        rule: String,
    },
    /// Print a shell completion script (e.g. `mtk-lint completions bash > /etc/bash_completion.d/mtk-lint`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write `mtk-lint.1`, `mtk-lint-check.1`, … into DIR instead of printing `mtk-lint.1`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "the command's flags, one each")]
pub struct RenderArgs {
    /// The directory holding the kustomization, inside the current directory. Default: `.`.
    /// Or a Helm chart (a directory with `Chart.yaml`), rendered as `helm template [NAME]
    /// CHART` renders it: then the release name may come first.
    pub path: Option<PathBuf>,

    /// With a release name first: the chart.
    #[arg(value_name = "CHART")]
    pub chart: Option<PathBuf>,

    /// Helm: a values file (repeatable; later files win).
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,

    /// Helm: a value, `path.to.key=value` (repeatable, comma-separated).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Helm: a value kept as text.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,

    /// Helm: a value that is JSON (`key={"a":1}`).
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,

    /// Helm: a value read from a file (`key=path`).
    #[arg(long = "set-file", value_name = "KEY=FILE")]
    pub set_file: Vec<String>,

    /// Helm: the release namespace. Default: `default`.
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Helm: the Kubernetes version `.Capabilities` reports. Default: `v1.32.0`.
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,

    /// Helm: API versions `.Capabilities.APIVersions` has besides the built-in ones.
    #[arg(long, value_name = "VERSIONS", value_delimiter = ',')]
    pub api_versions: Vec<String>,

    /// Helm: only the documents of these templates (`templates/x.yaml`, globs).
    #[arg(long, value_name = "TEMPLATE")]
    pub show_only: Vec<String>,

    /// Helm: write the chart's CRDs (`crds/`) first.
    #[arg(long)]
    pub include_crds: bool,

    /// Helm: leave out test hooks.
    #[arg(long)]
    pub skip_tests: bool,

    /// Helm: leave out hooks.
    #[arg(long)]
    pub no_hooks: bool,

    /// Helm: `.Release.IsUpgrade` true.
    #[arg(long)]
    pub is_upgrade: bool,

    /// Helm: the release name, from this template.
    #[arg(long, value_name = "TEMPLATE")]
    pub name_template: Option<String>,

    /// Print what one build unit of the tree at PATH renders, as `mtk-lint PATH` builds it: a
    /// Flux Kustomization, an Argo CD Application, a Flux HelmRelease, a kustomization or Helm
    /// chart nothing deploys, named as
    /// reports name it (`Flux Kustomization flux-system/apps (clusters/prod/apps.yaml)`) or by
    /// a part of that name that only one unit has.
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,

    /// Start each object with a comment naming the file and line it came from.
    #[arg(long)]
    pub provenance: bool,

    /// Output format: `yaml`, or `json` with the source of every field that another file
    /// supplied.
    #[arg(long, value_enum, default_value_t = RenderFormat::Yaml)]
    pub format: RenderFormat,

    /// Order of the objects when the kustomization has no `sortOptions`: kustomize's
    /// `legacy` order (Namespaces first, webhooks last), or `input` (as listed).
    #[arg(long, value_enum, default_value_t = RenderOrder::Legacy)]
    pub order: RenderOrder,

    /// Which files a kustomization may read, as kustomize's flag: only in or below its own
    /// directory (`LoadRestrictionsRootOnly`, kustomize's default) or anywhere in the repository
    /// (`LoadRestrictionsNone`, as kustomize-controller builds).
    #[arg(long, value_enum, default_value_t = LoadRestrictor::LoadRestrictionsRootOnly)]
    pub load_restrictor: LoadRestrictor,

    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Render one Go template (as Helm's engine does, with Go's builtins and sprig's and Helm's
    /// functions) instead of a kustomization: for template authors, and for the conformance
    /// tests.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["path", "unit", "provenance"])]
    pub gotemplate: Option<PathBuf>,

    /// The data (dot) of `--gotemplate`: a JSON file. Default: no data.
    #[arg(long, value_name = "FILE.json", requires = "gotemplate")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "verbatim")]
#[allow(clippy::enum_variant_names, reason = "kustomize's spelling of the flag's values")]
pub enum LoadRestrictor {
    LoadRestrictionsRootOnly,
    LoadRestrictionsNone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderOrder {
    Legacy,
    Input,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "command-line switches are booleans")]
pub struct TestArgs {
    /// Directories (searched recursively) or test files. Default: `.`.
    pub paths: Vec<PathBuf>,

    /// Name of Kyverno test files.
    #[arg(long, value_name = "NAME", default_value = "kyverno-test.yaml")]
    pub file_name: String,

    /// Also fail rows that pass only as "Excluded" (unless `skip` was expected), and results
    /// naming a rule the policy does not have.
    #[arg(long)]
    pub strict: bool,

    /// Add the engine's message to each row.
    #[arg(long)]
    pub detailed_results: bool,

    /// Show failed rows only.
    #[arg(long)]
    pub fail_only: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormat::Table)]
    pub format: TestFormat,

    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Rewrite the `expect` list of golden tests with the current findings.
    #[arg(long)]
    pub update: bool,

    /// Compare golden findings without their line numbers.
    #[arg(long)]
    pub ignore_lines: bool,

    /// Let tests read files outside the paths being tested.
    #[arg(long)]
    pub allow_outside: bool,

    /// Raise or lower a limit (repeatable), as for `mtk-lint check --limit`.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = crate::limits::parse_setting)]
    pub limits: Vec<String>,

    /// Print agreement with the suites' expectations instead of the report (conformance runs).
    #[arg(long, hide = true)]
    pub conformance: bool,
}

#[derive(Debug, Args, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "command-line switches are booleans")]
pub struct CheckArgs {
    /// Files or directories to lint; `-` reads a manifest stream from stdin. Default: `.`.
    pub paths: Vec<PathBuf>,

    /// Output format (repeatable: human, concise, json, sarif, github, markdown, junit,
    /// policy-report).
    #[arg(long, value_enum)]
    pub format: Vec<Format>,

    /// Write a report to FILE: `FILE` for the (first) --format, `FORMAT=FILE` for any format
    /// (repeatable; formats named here are written too).
    #[arg(long, short = 'o', value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,

    /// Config file (default: .mtk-lint.yaml at the root of the first path).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Skip files matching GLOB (relative to each path; a pattern without `/` matches any name).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Run only these built-in rules (codes or names, comma-separated or repeated).
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub select: Vec<String>,

    /// Apply the Kyverno policies in PATH (a file or directory; repeatable).
    #[arg(long = "policy", value_name = "PATH")]
    pub policies: Vec<PathBuf>,

    /// Do not apply the Kyverno policies (and Gatekeeper mutators) found in the linted tree.
    #[arg(long)]
    pub no_tree_policies: bool,

    /// Lint objects as written: no mutation (Kyverno mutate rules, MutatingPolicies,
    /// Gatekeeper mutators) or generation (generate rules, GeneratingPolicies) at admission.
    #[arg(long)]
    pub no_admission: bool,

    /// Charts of HelmReleases from chart repositories (HelmRepository, OCIRepository): a
    /// directory of the `.tgz` files `helm pull` writes (Helm's own cache directory works).
    /// Releases whose chart is in neither the tree nor here are listed as not rendered.
    #[arg(long, value_name = "DIR")]
    pub chart_cache: Option<PathBuf>,

    /// Follow symbolic links that leave the linted tree (by default they are errors, not read:
    /// a pull request must not make the linter read files outside the checkout).
    #[arg(long)]
    pub follow_links: bool,

    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// Raise or lower a limit (repeatable): file-size, depth, alias-nodes, documents,
    /// line-length, jmespath-steps, regex-size, cel-steps. Sizes take K, M or G (e.g. file-size=32M).
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = crate::limits::parse_setting)]
    pub limits: Vec<String>,

    /// Largest file read, in bytes (same as --limit file-size=BYTES).
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,

    /// Also list the findings that suppressions accept, with their reasons.
    #[arg(long)]
    pub show_suppressed: bool,

    /// When to use colour in human output (`auto` respects NO_COLOR and terminals).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print findings and errors only: no progress bar, no summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Print counts (files, documents, objects, rules) and the time of each stage to stderr.
    #[arg(long)]
    pub stats: bool,

    /// Human and concise output: the number of findings per rule and per tenant (largest
    /// first) instead of the findings.
    #[arg(long)]
    pub statistics: bool,

    /// The most annotations `--format github` prints, input errors and errors first, files the
    /// pull request changed first (GITHUB_BASE_REF); then one notice counts the rest. 0: all.
    #[arg(long, value_name = "N", default_value_t = crate::report::DEFAULT_MAX_ANNOTATIONS)]
    pub max_annotations: usize,

    /// Report only findings not in the baseline FILE (matched by rule, resource and field
    /// path, not by line); they count for the exit code. Stale entries are counted.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write every finding of this run to FILE as a baseline (before --baseline filters).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Report only findings in files changed since the git REF (its merge base with HEAD, to
    /// the working tree, untracked files included); whole-tree rules still see the whole tree.
    #[arg(long, value_name = "REF")]
    pub changed_from: Option<String>,

    /// Check the per-object rules of a stable share K of N of the tenants (1-based, `2/3`):
    /// N jobs together report exactly the findings of one run. Whole-tree indexes and rules
    /// still see the whole tree.
    #[arg(long, value_name = "K/N", value_parser = crate::eval::Shard::parse)]
    pub shard: Option<crate::eval::Shard>,

    /// Benchmark floor: only walk, read and parse every document into JSON, then print counts.
    #[arg(long, hide = true)]
    pub parse_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    #[must_use]
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
