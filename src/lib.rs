//! mtk-lint: a policy-as-code linter for multi-tenant Kubernetes GitOps repositories.
//!
//! The pipeline, one module per stage, dependencies pointing one way:
//!
//! 1. [`load`]: files → YAML documents whose every node keeps its source span;
//! 2. [`render`] (called by the inventory): the tree's build units — kustomizations, Flux
//!    Kustomizations, Argo CD Applications — into the objects the cluster receives, every field
//!    keeping the file and span that supplied it;
//! 3. [`inventory`]: documents and rendered objects → indexed objects, effective namespaces,
//!    tenants;
//! 4. [`engine`]: rules (built-in templates; Kyverno policies later) behind one trait;
//! 5. [`eval`]: rules × objects in parallel → sorted findings;
//! 6. [`report`]: findings → human or machine output.
//!
//! [`check`] wires them together; `main.rs` only turns its outcome into an exit code.

// The library holds no `unsafe` code; the binary's allocator shim is the one exception
// (`src/main.rs`).
#![forbid(unsafe_code)]

pub mod admission;
pub mod adopt;
pub mod base64;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod eval;
pub mod finding;
pub mod gopath;
pub mod gotime;
pub mod harness;
pub mod image;
pub mod inventory;
pub mod kinds;
pub mod limits;
pub mod load;
pub mod panic;
pub mod pointer;
pub mod progress;
pub mod render;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use config::{Config, LoadedConfig};
use engine::Context;
use error::Problem;
use eval::ActiveRule;
use finding::{Finding, Severity};
use load::{Excludes, Input, Limits, LoadOptions};

/// What to lint and how.
#[derive(Debug, Clone, Default)]
#[allow(clippy::struct_excessive_bools, reason = "the options mirror command-line switches")]
pub struct CheckOptions {
    pub inputs: Vec<Input>,
    /// Config file; when `None`, `.mtk-lint.yaml` at the root of the first path is used if present.
    pub config: Option<PathBuf>,
    /// Extra exclusion globs (relative to each input root).
    pub excludes: Vec<String>,
    /// Limits before the config file's `limits:` and [`CheckOptions::limit_settings`].
    pub limits: Limits,
    /// `KEY=VALUE` limit settings from the command line; they win over the config file.
    pub limit_settings: Vec<String>,
    /// Kyverno policy files or directories to apply (`--policy`).
    pub policies: Vec<PathBuf>,
    /// Do not apply the Kyverno policies (and Gatekeeper mutators) found in the linted tree.
    pub no_tree_policies: bool,
    /// Lint objects as written: no mutation or generation at admission (`--no-admission`).
    pub no_admission: bool,
    /// Run only these built-in rules (codes or names); all enabled ones when empty.
    pub select: Vec<String>,
    /// Follow symbolic links that leave an input's tree (`--follow-links`).
    pub follow_links: bool,
    /// Where the charts of HelmReleases from chart repositories are (`--chart-cache`): the
    /// `.tgz` files `helm pull` writes. Wins over the config's `render.chartCache`.
    pub chart_cache: Option<PathBuf>,
    /// Check only the per-object rules of this shard's objects (`--shard K/N`).
    pub shard: Option<eval::Shard>,
    /// Leave [`Outcome::objects`] empty: no report asked for lists the objects checked (only
    /// JUnit's does, a test case per object).
    pub no_object_list: bool,
}

/// Counts for the summary line and the JSON report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub files: usize,
    pub documents: usize,
    pub resources: usize,
    /// Documents that are not Kubernetes objects.
    #[serde(skip)]
    pub skipped: usize,
    /// Files that held no object to lint, by reason (`empty`, `not-kubernetes`, `kustomize`,
    /// `helm-chart`, `template`); reasons with no file are left out.
    pub skipped_files: std::collections::BTreeMap<&'static str, usize>,
    /// Helm charts found in the tree and not rendered (their sources are skipped).
    pub charts_not_rendered: usize,
    pub findings: usize,
    /// Findings accepted by a suppression (not in `findings`).
    pub suppressed: usize,
    pub errors: usize,
    pub elapsed_ms: u64,
    /// Baseline entries that matched no finding (`--baseline`; not counted under `--shard`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_stale: Option<usize>,
}

/// The result of a run: findings, problems (each one makes the exit code 2), counts.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// The rules that ran (built-in and Kyverno policy rules), for reports that describe them.
    pub rules: Vec<finding::RuleInfo>,
    /// Every object checked: (file, resource), in tree order (none with
    /// [`CheckOptions::no_object_list`]).
    pub objects: Vec<(String, finding::ResourceRef)>,
    /// Findings a suppression accepts, with the reason in `Finding::suppressed`.
    pub suppressed: Vec<Finding>,
    pub problems: Vec<Problem>,
    /// Files that held no object to lint, with the reason, in path order.
    pub skipped_files: Vec<load::skip::SkippedFile>,
    /// Helm chart directories found and not rendered.
    pub charts: Vec<String>,
    /// Things a person should know that are not errors (a directory with nothing to lint).
    pub warnings: Vec<String>,
    pub summary: Summary,
    /// Counts and time per stage (`--stats`).
    pub stats: progress::Stats,
}

impl Outcome {
    /// Exit code: 2 when any problem, else 1 when a finding is at or above `fail_on`, else 0.
    #[must_use]
    pub fn exit_code(&self, fail_on: Option<Severity>) -> u8 {
        if !self.problems.is_empty() {
            return 2;
        }
        u8::from(fail_on.is_some_and(|t| self.findings.iter().any(|f| f.severity >= t)))
    }
}

/// The inventory of the inputs as `check` builds it: with the config file `check` would use
/// (its excludes, limits and render options), before any rule runs. Problems of the config stop
/// it, as they stop `check`.
pub fn inventory(options: &CheckOptions, cwd: &Path) -> Result<inventory::Inventory, Vec<Problem>> {
    let Settings { loaded_config, load_options, .. } = settle(options, cwd)?;
    let mut sources = load::load(&load_options, cwd);
    let mut problems = std::mem::take(&mut sources.problems);
    let mut inventory = inventory::build(sources, &loaded_config.config);
    problems.append(&mut inventory.problems);
    inventory.problems = problems;
    Ok(inventory)
}

/// Lints the inputs. Never fails as a whole: every problem is collected in the outcome.
#[must_use]
pub fn check(options: &CheckOptions, cwd: &Path) -> Outcome {
    check_with(options, cwd, &progress::Silent)
}

/// [`check`], reporting progress (files read, objects checked) to `progress`.
#[must_use]
pub fn check_with(
    options: &CheckOptions,
    cwd: &Path,
    progress: &dyn progress::Progress,
) -> Outcome {
    let started = Instant::now();
    let mut clock = StageClock::new();
    // A bad config stops the run before anything is linted: going on with the defaults would
    // report what the config was meant to silence.
    let Settings { loaded_config, rules, known_builtin, load_options, exceptions } =
        match settle(options, cwd) {
            Ok(settings) => settings,
            Err(problems) => return config_failure(problems, started),
        };
    let limits = load_options.limits;
    let builtin_rules = rules.len();
    let mut problems = Vec::new();
    clock.lap("config");

    let mut sources = load::load_with(&load_options, cwd, progress);
    problems.append(&mut sources.problems);
    let files = sources.files.len();
    let bytes = sources.files.iter().map(|f| f.source.text.len() as u64).sum();
    clock.lap("load");

    let roots = sources.roots.clone();
    let mut inventory = inventory::build(sources, &loaded_config.config);
    let warnings = all_skipped_warnings(&roots, &inventory, cwd);
    problems.append(&mut inventory.problems);
    clock.lap("inventory");
    let policy_rules = policies_and_admission(
        options,
        &mut inventory,
        (&loaded_config.config, &roots, cwd),
        limits,
        &mut problems,
        &mut clock,
    );
    let policies = policy_rules.len();
    let policy_rule_count = policy_rules.iter().map(|r| r.rule_count()).sum();
    let mut rules = rules;
    rules.extend(
        policy_rules.into_iter().map(|rule| ActiveRule { rule, severity: Severity::Warning }),
    );
    let cx = Context::new(&inventory, &loaded_config.config);
    // A suppression may name any built-in rule (enabled or not) or a loaded policy; a
    // `policy/rule` of a policy this run does not load (`--no-tree-policies`, a subdirectory)
    // cannot be judged.
    let known = |id: &str| {
        known_builtin.iter().any(|m| m.is_named(id))
            || rules.iter().any(|r| r.rule.answers_to(id))
            || id.split_once('/').is_some_and(|(p, _)| !rules.iter().any(|r| r.rule.answers_to(p)))
    };
    problems.append(&mut eval::suppress::annotation_problems(&inventory, &known));
    problems.append(&mut eval::suppress::exception_problems(&loaded_config, &known));
    let eval::Evaluation { findings: mut all_findings, problems: mut eval_problems, used, steps } =
        eval::run_with(&rules, &cx, &exceptions, (limits.eval_steps_total, options.shard), progress);
    problems.append(&mut eval_problems);
    let mut unused = eval::suppress::unused(&rules, &inventory, &loaded_config, &exceptions, &used);
    let mut warnings = warnings;
    if let Some(shard) = options.shard {
        unused_of_shard(&mut unused, shard, &mut warnings);
    }
    if !unused.is_empty() {
        all_findings.extend(unused);
        all_findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
    // In place: a second vector of every finding would double the peak of a large run.
    let suppressed: Vec<Finding> =
        all_findings.extract_if(.., |f| f.suppressed.is_some()).collect();
    let findings = all_findings;
    clock.lap("rules");

    let summary = Summary {
        files,
        documents: inventory.documents,
        resources: inventory.objects.len(),
        skipped: inventory.skipped,
        skipped_files: skipped_counts(&inventory.skipped_files),
        charts_not_rendered: inventory.charts.len(),
        findings: findings.len(),
        suppressed: suppressed.len(),
        errors: problems.len(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        baseline_stale: None,
    };
    let rules = rule_infos(&rules, &findings, &suppressed);
    let objects = if options.no_object_list { Vec::new() } else { checked_objects(&inventory) };
    let stats = progress::Stats {
        bytes,
        builtin_rules,
        policies,
        policy_rules: policy_rule_count,
        threads: rayon::current_num_threads(),
        evaluation_steps: steps,
        stages: clock.laps,
    };
    // Freeing a large tree takes a noticeable share of a run; let a thread do it while the
    // caller writes its reports (a process that exits first skips the work altogether).
    let skipped_files = std::mem::take(&mut inventory.skipped_files);
    let charts = std::mem::take(&mut inventory.charts);
    drop_in_background(inventory);
    Outcome {
        findings,
        rules,
        objects,
        suppressed,
        problems,
        skipped_files,
        charts,
        warnings,
        summary,
        stats,
    }
}

/// Keeps the unused-suppression findings of a shard's objects. A config exception may accept
/// findings of every shard: one shard cannot tell that it accepted nothing, so those are left
/// out, saying so.
fn unused_of_shard(unused: &mut Vec<Finding>, shard: eval::Shard, warnings: &mut Vec<String>) {
    let config_wide = |f: &Finding| f.resource.api_version == "mtk-lint.dev/v1";
    if unused.iter().any(config_wide) {
        warnings.push(format!(
            "--shard {shard}: unused exceptions of the config file are not reported (each shard \
             sees its share of the findings); run unsharded to check them"
        ));
    }
    unused.retain(|f| shard.owns_finding(f) && !config_wide(f));
}

/// Compiles the run's policies, runs admission over the inventory with them (unless
/// `--no-admission`), and gives the lint rules of those that validate.
fn policies_and_admission(
    options: &CheckOptions,
    inventory: &mut inventory::Inventory,
    (config, roots, cwd): (&config::Config, &[PathBuf], &Path),
    limits: Limits,
    problems: &mut Vec<Problem>,
    clock: &mut StageClock,
) -> Vec<Box<dyn engine::Rule>> {
    let (compiled, mut policy_problems) = engine::kyverno::lint::compile_policies(
        &options.policies,
        !options.no_tree_policies,
        inventory,
        cwd,
        limits,
    );
    problems.append(&mut policy_problems);
    clock.lap("policies");
    if !options.no_admission {
        let report =
            admission::admit(inventory, &compiled, !options.no_tree_policies, limits, problems);
        if report.tenancy_changed {
            inventory::reindex(inventory, config, roots);
            // What the tenancy said before admission is not said again.
            let again = std::mem::take(&mut inventory.problems);
            let new: Vec<Problem> = again.into_iter().filter(|p| !problems.contains(p)).collect();
            problems.extend(new);
        }
        clock.lap("admission");
    }
    let (policy_rules, mut policy_problems) =
        engine::kyverno::lint::policy_rules(&compiled, inventory, limits, config.policies.severity);
    problems.append(&mut policy_problems);
    policy_rules
}

/// The summary's `skipped_files`: files by reason key.
fn skipped_counts(
    files: &[load::skip::SkippedFile],
) -> std::collections::BTreeMap<&'static str, usize> {
    load::skip::count_by_reason(files.iter().map(|f| f.reason))
        .into_iter()
        .map(|(r, n)| (r.key(), n))
        .collect()
}

/// A warning for each input directory whose files were all skipped: nothing in it was linted.
fn all_skipped_warnings(
    roots: &[PathBuf],
    inventory: &inventory::Inventory,
    cwd: &Path,
) -> Vec<String> {
    use load::skip::SkipReason;
    use rayon::prelude::*;
    let mut warnings = Vec::new();
    for root in roots {
        // A fleet has tens of thousands of files: counted in parallel, paths compared as bytes
        // (`Path::starts_with` walks components).
        let under =
            |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| load::discover::is_below(p, root));
        let (skipped, read): (Vec<SkipReason>, usize) = rayon::join(
            || {
                let skipped = inventory.skipped_files.par_iter().filter(|f| under(&f.path));
                skipped.map(|f| f.reason).collect()
            },
            || inventory.files.par_iter().filter(|f| under(&f.path)).count(),
        );
        let charts = skipped.iter().filter(|&&r| r == SkipReason::HelmChart).count();
        if skipped.is_empty() || skipped.len() != read + charts {
            continue;
        }
        let reasons: Vec<String> = load::skip::count_by_reason(skipped.iter().copied())
            .into_iter()
            .map(|(r, n)| format!("{n} {}", r.label()))
            .collect();
        warnings.push(format!(
            "{}: nothing to lint, every file was skipped ({}); see --stats",
            load::discover::display_path(root, cwd),
            reasons.join(", ")
        ));
    }
    warnings
}

/// What a run needs before reading anything: the config, the rules, what to read and the
/// exceptions.
struct Settings {
    loaded_config: LoadedConfig,
    rules: Vec<ActiveRule>,
    /// Every built-in rule, selected or not (suppressions may name any).
    known_builtin: Vec<engine::RuleMeta>,
    load_options: LoadOptions,
    exceptions: eval::suppress::Exceptions,
}

/// Reads the config and resolves the options; every problem found, or the settings.
fn settle(options: &CheckOptions, cwd: &Path) -> Result<Settings, Vec<Problem>> {
    let mut loaded_config = find_config(options, cwd).map_err(|p| vec![p])?;
    let render = &mut loaded_config.config.render;
    render.chart_cache = match &options.chart_cache {
        Some(dir) => Some(cwd.join(dir)),
        None => render.chart_cache.take().map(|dir| loaded_config.base_dir.join(dir)),
    };
    // Value sets of charts, as absolute paths (the units compare them with the tree's charts).
    let base = cwd.join(&loaded_config.base_dir);
    let absolute = |p: &Path| load::discover::normalize(&base.join(p));
    loaded_config.config.charts = std::mem::take(&mut loaded_config.config.charts)
        .into_iter()
        .map(|(chart, files)| (absolute(&chart), files.iter().map(|f| absolute(f)).collect()))
        .collect();
    let (rules, known_builtin, mut problems) = select_rules(&loaded_config, &options.select);
    let mut excludes = Vec::new();
    for (base, patterns) in [
        (loaded_config.base_dir.clone(), &loaded_config.config.exclude),
        (cwd.to_path_buf(), &options.excludes),
    ] {
        match Excludes::new(patterns) {
            Ok(ex) => excludes.push((base, ex)),
            Err(message) => problems.push(Problem::new(
                loaded_config.file.clone().unwrap_or_default(),
                None,
                message,
            )),
        }
    }
    let limits = effective_limits(options, &loaded_config.config, &mut problems);
    let config_file = loaded_config.file.clone().unwrap_or_default();
    let (exceptions, mut exception_problems) = eval::suppress::Exceptions::new(
        &loaded_config.config.exceptions,
        &loaded_config.base_dir,
        &config_file,
    );
    problems.append(&mut exception_problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let load_options = LoadOptions {
        follow_links: options.follow_links,
        inputs: options.inputs.clone(),
        excludes,
        skip_files: loaded_config.path.iter().cloned().collect(),
        limits,
    };
    Ok(Settings { loaded_config, rules, known_builtin, load_options, exceptions })
}

/// The outcome of a run stopped by its configuration: the problems, nothing linted.
fn config_failure(problems: Vec<Problem>, started: Instant) -> Outcome {
    let summary = Summary {
        errors: problems.len(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..Summary::default()
    };
    Outcome { problems, summary, ..Outcome::default() }
}

/// Frees `value` on a thread of its own: what the rest of the run no longer needs, without
/// waiting for it.
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().name("mtk-lint-drop".into()).spawn(move || drop(value));
}

/// Every object checked: (file, resource), in tree order.
fn checked_objects(inventory: &inventory::Inventory) -> Vec<(String, finding::ResourceRef)> {
    use rayon::prelude::*;
    inventory
        .objects
        .par_iter()
        .map(|o| (inventory.source(o).display.clone(), o.resource_ref()))
        .collect()
}

/// Times consecutive stages.
struct StageClock {
    last: Instant,
    laps: Vec<(&'static str, std::time::Duration)>,
}

impl StageClock {
    fn new() -> Self {
        StageClock { last: Instant::now(), laps: Vec::new() }
    }

    /// Ends the stage called `name`, which began where the previous one ended.
    fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }
}

/// Limits: the defaults, then the config file's `limits:`, then `--limit` settings.
fn effective_limits(
    options: &CheckOptions,
    config: &Config,
    problems: &mut Vec<Problem>,
) -> Limits {
    let mut limits = options.limits;
    for (key, value) in &config.limits {
        // Checked with its line when the config was parsed.
        let _ = limits.set(key, value);
    }
    if let Err(message) = limits.apply(options.limit_settings.iter().map(String::as_str)) {
        problems.push(Problem::new("", None, message));
    }
    limits
}

/// Descriptions of the rules: every built-in rule that ran, and every policy rule with a finding.
fn rule_infos(
    rules: &[ActiveRule],
    findings: &[Finding],
    suppressed: &[Finding],
) -> Vec<finding::RuleInfo> {
    let repo = env!("CARGO_PKG_REPOSITORY");
    let mut out: Vec<finding::RuleInfo> = rules
        .iter()
        .map(|r| r.rule.meta())
        .filter(|m| !m.docs.is_empty())
        .map(|m| finding::RuleInfo {
            id: m.code.clone(),
            name: m.name.clone(),
            short: m.summary.clone(),
            full: first_section(m.docs).unwrap_or_else(|| m.summary.clone()),
            help_markdown: Some(m.docs.to_string()),
            help_uri: Some(format!("{repo}/blob/main/rules/{}/README.md", m.name)),
            severity: m.severity,
        })
        .collect();
    // Once per rule id, not per finding: a large run has hundreds of thousands of findings.
    let mut seen: std::collections::HashSet<&str> = out.iter().map(|r| r.id.as_str()).collect();
    let mut policy_rules = Vec::new();
    for f in findings.iter().chain(suppressed).filter(|f| f.policy.is_some()) {
        if seen.insert(&f.rule) {
            policy_rules.push(f);
        }
    }
    for f in policy_rules {
        let meta =
            rules.iter().map(|r| r.rule.meta()).find(|m| f.policy.as_deref() == Some(&m.code));
        let title = meta
            .map(|m| m.summary.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| f.rule.to_string());
        out.push(finding::RuleInfo {
            id: f.rule.to_string(),
            name: f.name.to_string(),
            short: title.clone(),
            full: meta.map(|m| m.help.clone()).filter(|s| !s.is_empty()).unwrap_or(title),
            help_markdown: None,
            help_uri: None,
            severity: f.severity,
        });
    }
    out
}

/// The text of a rule README's "What it checks" section.
fn first_section(docs: &str) -> Option<String> {
    let start = docs.find("## What it checks")? + "## What it checks".len();
    let rest = &docs[start..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    Some(rest[..end].trim().replace('\n', " "))
}

fn find_config(options: &CheckOptions, cwd: &Path) -> Result<LoadedConfig, Problem> {
    let explicit = options.config.as_ref().map(|p| load::discover::normalize(&cwd.join(p)));
    let path = explicit.clone().or_else(|| {
        let root = options.inputs.iter().find_map(|i| match i {
            Input::Path(p) => Some(load::discover::normalize(&cwd.join(p))),
            Input::Stdin => None,
        });
        let dir = match root {
            Some(r) if r.is_dir() => r,
            Some(r) => r.parent().map_or_else(|| cwd.to_path_buf(), Path::to_path_buf),
            None => cwd.to_path_buf(),
        };
        Some(dir.join(config::CONFIG_FILE_NAME)).filter(|p| p.is_file())
    });
    match path {
        Some(p) => config::load_file(&p, &load::discover::display_path(&p, cwd)),
        None => Ok(LoadedConfig { base_dir: cwd.to_path_buf(), ..LoadedConfig::default() }),
    }
}

/// The built-in rules, with the config's `rules:` settings applied.
/// The built-in rules this run applies, every built-in rule's description (suppressions may
/// name any), and the problems of the config's `rules:` and of `--select`.
fn select_rules(
    loaded: &LoadedConfig,
    select: &[String],
) -> (Vec<ActiveRule>, Vec<engine::RuleMeta>, Vec<Problem>) {
    let mut problems = Vec::new();
    let all = match engine::builtin::all() {
        Ok(rules) => rules,
        Err(message) => {
            let problem = Problem::new("", None, format!("internal error: {message}"));
            return (Vec::new(), Vec::new(), vec![problem]);
        }
    };
    let known = all.iter().map(|r| r.meta().clone()).collect();
    let file = loaded.file.clone().unwrap_or_default();
    for id in loaded.config.rules.keys() {
        if !all.iter().any(|r| r.meta().is_named(id)) {
            let pos = loaded.rule_positions.get(id).copied();
            problems.push(Problem::new(file.clone(), pos, format!("config: unknown rule `{id}`")));
        }
    }
    for id in select {
        if !all.iter().any(|r| r.meta().is_named(id)) {
            problems.push(Problem::new("", None, format!("--select: unknown rule `{id}`")));
        }
    }
    let rules = all
        .into_iter()
        .filter(|rule| select.is_empty() || select.iter().any(|id| rule.meta().is_named(id)))
        .filter_map(|rule| {
            let setting = loaded
                .config
                .rules
                .iter()
                .find(|(id, _)| rule.meta().is_named(id))
                .map(|(_, s)| *s);
            let enabled = setting.and_then(|s| s.enabled).unwrap_or(rule.meta().enabled_by_default);
            let severity = setting.and_then(|s| s.severity).unwrap_or(rule.meta().severity);
            enabled.then_some(ActiveRule { rule, severity })
        })
        .collect();
    (rules, known, problems)
}
