//! Finding and building the build units of a tree (docs/RENDER.md, "Build units").
//!
//! Cluster entries — Flux Kustomizations and Argo CD Applications whose source is this tree and
//! whose path is in it — are built as the cluster meets them: first those nothing may deploy
//! (no other entry's directory holds their file, no other entry's kustomizations reach it).
//! What a unit renders may hold entries in turn (a tenant's Flux Kustomization whose
//! `spec.path` an overlay patches, an app of apps): each rendered entry is a unit of the
//! rendering unit's cluster, built as rendered (or sharing the build of one alike in another
//! cluster). An entry nothing rendered is built as written once all that may deploy it was
//! built. Last, every kustomization that nothing includes and no unit read is a unit of its own.

use foldhash::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::kustomize::{FluxTarget, Layout};
use super::rendered::{
    document_at, file_number, object, problem, Built, Removed, Rendered, SharedObjects, Unit,
};
use crate::load::source::Span;
use crate::load::{LoadedFile, Node};
use crate::render::kustomize::{BuildError, Deleted, Disk, Loaded, LoadedFiles, Read};
use crate::render::tree::{Placed, Tree};

/// Runs so far in this process (what builds keep is a run's own).
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Stack of a build thread (reserved, not used, until a build goes deep).
const BUILD_STACK: usize = 64 << 20;

/// Most rounds of releases and the entries their charts render.
const MAX_ROUNDS: usize = 8;

/// How many units are built before what they built is settled.
const CHUNK: usize = 32;

/// Objects of one build from which [`prepare`] makes them in parallel.
const PARALLEL_OBJECTS: usize = 256;

/// Most units a tree may have (entries rendered by entries could otherwise multiply).
pub(super) const MAX_UNITS: usize = 20_000;

/// A unit to build.
struct Plan {
    name: String,
    /// Absolute directory to build.
    dir: PathBuf,
    /// The directory that stands for `/`: nothing outside it is read.
    root: PathBuf,
    /// The target (cluster entry) it builds, if any.
    target: Option<usize>,
    /// For an entry another unit rendered: the entry as rendered, with the files of that build
    /// (the tree's file numbers are theirs).
    rendered: Option<(Tree<'static>, Vec<Read>)>,
    /// The unit (plan) whose cluster this one belongs to: itself at the top.
    cluster: usize,
    /// The entry's `spec.path` (or `spec.source.path`): loaded file index and span.
    entry: Option<(usize, Span)>,
    /// A Helm chart nothing deploys, rendered with its default values.
    chart: bool,
    /// A Flux HelmRelease whose chart this unit renders.
    release: Option<Release>,
    /// The target that deployed what this unit renders, when that is not `target` (a
    /// HelmRelease's Flux Kustomization): its objects are that deployer's.
    deployer: Option<usize>,
    /// A cluster entry a chart rendered (no file of the tree defines it): the target it is,
    /// numbered after the tree's targets.
    synthetic: Option<(usize, Arc<FluxTarget>)>,
    /// For a chart (`chart`): the values files of a value set the config names, rendered
    /// over its defaults (none: its default values).
    value_set: Vec<PathBuf>,
}

impl Plan {
    /// A unit nothing deploys, the top of its own cluster (numbered `at`): a kustomization
    /// nothing includes, or a chart nothing deploys (`chart`).
    fn top(name: String, dir: &Path, root: PathBuf, at: usize, chart: bool) -> Plan {
        Plan {
            name,
            dir: dir.to_path_buf(),
            root,
            target: None,
            rendered: None,
            cluster: at,
            entry: None,
            chart,
            release: None,
            deployer: None,
            synthetic: None,
            value_set: Vec::new(),
        }
    }

    /// Whether the plan builds an Argo CD Application a unit rendered (an app of apps').
    fn is_rendered_app(&self) -> bool {
        self.synthetic.as_ref().is_some_and(|(_, t)| !t.flux)
    }

    /// Whether the plan is numbered `at` and made by [`Plan::top`].
    fn is_top(&self, at: usize) -> bool {
        self.cluster == at
            && self.target.is_none()
            && self.synthetic.is_none()
            && self.release.is_none()
            && self.rendered.is_none()
    }
}

/// Whether a build read the kustomization of `dir`: one of its kustomization files is a loaded
/// file that `read` takes.
fn kustomization_read(loaded: &LoadedFiles<'_>, dir: &Path, read: impl Fn(usize) -> bool) -> bool {
    crate::inventory::kustomize::KUSTOMIZATION_FILE_NAMES
        .iter()
        .any(|n| loaded.get(&dir.join(n)).is_some_and(|l| read(l.index)))
}

/// A Flux HelmRelease to render.
struct Release {
    definition: ReleaseDef,
    chart: super::releases::ChartAt,
}

/// Where a HelmRelease is defined.
enum ReleaseDef {
    /// As the unit that deployed it rendered it (with that build's files it came from,
    /// numbered from 0).
    Rendered(Tree<'static>, Vec<Read>),
    /// As written: a document (index) of a loaded file (absolute path).
    Written(PathBuf, usize),
    /// An Argo CD Application (a document of a loaded file) whose source (of `spec.sources`,
    /// or `spec.source`) is a chart of a chart repository.
    Argo(PathBuf, usize, super::releases::AppSource),
}

impl Release {
    /// The file (on disk) that defines the release.
    fn defined_in(&self) -> PathBuf {
        match &self.definition {
            ReleaseDef::Rendered(tree, reads) => {
                reads.get(tree.file as usize).and_then(|r| r.real.clone()).unwrap_or_default()
            }
            ReleaseDef::Written(path, _) | ReleaseDef::Argo(path, _, _) => path.clone(),
        }
    }
}

/// The target of a Flux Kustomization a chart rendered, when its source is this tree (the
/// GitRepository `flux-system`, one of the tree with the tree's URL, or one a chart rendered
/// with that URL).
fn chart_entry(
    tree: &Tree<'_>,
    charts: &super::releases::ChartSources,
    chart_git: &HashMap<(String, String), String>,
) -> Option<FluxTarget> {
    let text = |p: &[&str]| tree.at(p).and_then(Tree::as_str).map(String::from);
    if tree
        .get("apiVersion")
        .and_then(Tree::as_str)
        .is_none_or(|a| !a.starts_with("kustomize.toolkit.fluxcd.io/"))
    {
        return None;
    }
    let ns = text(&["metadata", "namespace"]).unwrap_or_default();
    let name = text(&["metadata", "name"]).unwrap_or_default();
    let kind = text(&["spec", "sourceRef", "kind"]).unwrap_or_else(|| "GitRepository".into());
    let source = text(&["spec", "sourceRef", "name"]).unwrap_or_default();
    let source_ns = text(&["spec", "sourceRef", "namespace"]).unwrap_or_else(|| ns.clone());
    let rendered = chart_git.get(&(source_ns.clone(), source.clone()));
    let this_tree = charts.is_tree(&source_ns, &source) == Some(true)
        || rendered.is_some_and(|url| charts.is_own_url(url));
    if kind != "GitRepository" || !this_tree {
        return None;
    }
    Some(FluxTarget {
        defined_in: None,
        document: 0,
        flux: true,
        builds: true,
        path: text(&["spec", "path"]).unwrap_or_else(|| "./".into()),
        target_namespace: text(&["spec", "targetNamespace"]),
        default_namespace: None,
        params: None,
        owner: Arc::new(super::Deployer {
            label: format!("Flux Kustomization `{ns}/{name}`"),
            namespace: ns,
        }),
    })
}

/// Whether a rendered object is an Argo CD Application.
fn is_argo_application(t: &Tree<'_>) -> bool {
    let text = |k| t.get(k).and_then(Tree::as_str).unwrap_or("");
    argo_application(text("apiVersion"), text("kind"))
}

/// Whether an object of this apiVersion and kind is an Argo CD Application.
fn argo_application(api: &str, kind: &str) -> bool {
    kind == "Application" && api.starts_with("argoproj.io/")
}

/// The target of an Argo CD Application a chart rendered (an app of apps), when it has a path
/// source (`spec.source.path`, or the first `spec.sources[].path`).
fn argo_entry(tree: &Tree<'_>) -> Option<FluxTarget> {
    let text = |t: &Tree, p: &[&str]| t.at(p).and_then(Tree::as_str).map(String::from);
    let path = super::kustomize::argo_path(tree)?.as_str()?.to_string();
    let destination = text(tree, &["spec", "destination", "namespace"]).unwrap_or_default();
    let ns = text(tree, &["metadata", "namespace"]).unwrap_or_default();
    let name = text(tree, &["metadata", "name"]).unwrap_or_default();
    let label = format!("Argo CD Application `{ns}/{name}`");
    Some(FluxTarget::argo((None, 0), path, destination, label, None))
}

/// A HelmRelease a unit built, waiting to be planned.
struct FoundRelease {
    tree: Tree<'static>,
    reads: Vec<Read>,
    /// The plan that built it.
    plan: usize,
}

/// How a build's error begins when a release's chart is not here (it is listed as not
/// rendered, not an error).
const NOT_HERE: &str = "chart not here: ";

/// What the waves of entries know as they go.
struct Waves {
    /// Targets some unit rendered.
    instantiated: Vec<bool>,
    /// Targets planned as written (or never to be built here).
    planned_written: Vec<bool>,
    /// (target, cluster, spec) of every entry planned.
    seen: foldhash::HashSet<(usize, usize, String)>,
    /// Instances by (target, build key): the first built and settled…
    settled_spec: foldhash::HashMap<(usize, String), usize>,
    /// …those planned…
    planned_spec: foldhash::HashSet<(usize, String)>,
    /// …and those that wait for one planned alike.
    deferred: Vec<(Plan, (usize, String))>,
}

/// What one unit's build gave: objects (converted where they were built, so that no run holds
/// every unit's trees at once), the entries among them as trees, the files read, objects
/// patches deleted.
type Outcome<'s> =
    std::result::Result<(Vec<Built>, Vec<Tree<'s>>, Vec<Read>, Vec<Deleted>), BuildError>;

/// Everything the builds share.
struct Shared<'a> {
    files: &'a [LoadedFile],
    roots: &'a [PathBuf],
    targets: &'a [FluxTarget],
    loaded: LoadedFiles<'a>,
    sources: crate::render::flux::Sources,
    limits: crate::load::Limits,
    /// Where HelmReleases' charts are.
    charts: &'a super::releases::ChartSources,
    /// This run's number: what builds keep between builds (charts loaded) is this run's.
    run: u64,
    /// How Argo CD runs kustomize, and how the kustomizations nothing deploys are built.
    argo: crate::render::argo::BuildOptions,
    kustomize: crate::render::argo::BuildOptions,
    /// The target of each (loaded file, document) that defines one.
    defines: HashMap<(usize, usize), usize>,
    /// Each linted root with the root of its builds and that root with links resolved (found
    /// once: a fleet has thousands of units).
    build_roots: Vec<(PathBuf, PathBuf, PathBuf)>,
}

/// The loaded files by path, as the builds read them.
pub(crate) fn loaded_files(files: &[LoadedFile]) -> LoadedFiles<'_> {
    files
        .iter()
        .enumerate()
        .filter_map(|(index, f)| {
            let path = f.source.path.as_deref()?;
            let (documents, text, broken) = (&f.documents[..], &*f.source.text, f.broken);
            Some((path, Loaded { index, documents, text, broken }))
        })
        .collect()
}

/// Builds every unit of the tree.
pub(crate) fn render<'a>(
    (files, loaded, sources): (&'a [LoadedFile], LoadedFiles<'a>, crate::render::flux::Sources),
    roots: &[PathBuf],
    (layout, chart_dirs, charts, value_sets): (
        &Layout,
        &[PathBuf],
        &super::releases::ChartSources,
        &std::collections::BTreeMap<PathBuf, Vec<PathBuf>>,
    ),
    targets: &[FluxTarget],
    cwd: &Path,
    (limits, argo, kustomize): (
        crate::load::Limits,
        crate::render::argo::BuildOptions,
        crate::render::argo::BuildOptions,
    ),
) -> Rendered {
    if layout.root_configs.is_empty()
        && layout.target_dirs.iter().all(Option::is_none)
        && chart_dirs.is_empty()
        && value_sets.is_empty()
        && !files.iter().flat_map(|f| &f.documents).any(|d| {
            let text = |k: &str| d.root.get(k).and_then(Node::as_str).unwrap_or("");
            super::releases::is_release(text("apiVersion"), text("kind"))
                || super::releases::argo_chart_source(&d.root).is_some()
        })
    {
        return Rendered { reached: vec![false; files.len()], ..Rendered::default() };
    }
    let defines = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some(((loaded.get(t.defined_in.as_deref()?)?.index, t.document), i)))
        .collect();
    let mut shared = Shared {
        files,
        roots,
        targets,
        sources,
        charts,
        run: RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        loaded,
        limits,
        argo,
        kustomize,
        defines,
        build_roots: roots
            .iter()
            .map(|linted| {
                let root = linted.ancestors().find(|d| d.join(".git").exists()).unwrap_or(linted);
                let resolved = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
                (linted.clone(), root.to_path_buf(), resolved)
            })
            .collect(),
    };
    let show = |p: &Path| crate::load::discover::display_path(p, cwd);
    // Builds recurse through nested kustomizations and through documents (as deep as the
    // depth limit lets them nest): their threads get stacks to match.
    let pool = rayon::ThreadPoolBuilder::new().stack_size(BUILD_STACK).build().ok();
    let mut units = Units {
        shared: &shared,
        layout,
        show: &show,
        pool: pool.as_ref(),
        plans: Vec::new(),
        outcomes: Vec::new(),
        reached: Vec::new(),
        entries_rendered: Vec::new(),
        rendered: Rendered { reached: vec![false; files.len()], ..Rendered::default() },
        extra: HashMap::default(),
        objects: SharedObjects::default(),
        settled: Vec::new(),
        failures: HashMap::default(),
        found: Vec::new(),
        releases_seen: HashSet::default(),
        entries_seen: HashSet::default(),
        apps_seen: HashSet::default(),
        found_entries: Vec::new(),
        found_apps: Vec::new(),
        written_pending: false,
        chart_git: HashMap::default(),
        synthetic: Vec::new(),
    };
    let mut superseded = units.entries();
    // The releases units rendered (and what their charts deploy) before the kustomizations
    // nothing includes: a chart's Flux Kustomization may deploy one. Then the releases those
    // render or files no unit reached hold, and last the charts nothing deploys.
    units.releases(&superseded);
    units.kustomizations(&superseded);
    // Releases written in files no unit reached, now that every unit that could has built.
    units.written_pending = true;
    units.releases(&superseded);
    units.undeployed_charts(chart_dirs);
    units.value_sets(value_sets, chart_dirs);
    units.apps_of_charts(&mut superseded);
    units.too_deep_all(&superseded);
    let rendered = units.finish(&superseded);
    crate::drop_in_background(shared.loaded.take_remembered());
    rendered
}

/// A HelmRelease written in a file no unit reached, read for its plan.
struct WrittenRelease {
    name: String,
    /// Its definition as JSON (what a release found again is compared by).
    key: String,
    definition: ReleaseDef,
    chart: super::releases::ChartAt,
    root: PathBuf,
    entry: Option<(usize, Span)>,
    deployer: Option<usize>,
}

/// The units planned and built so far.
struct Units<'s, 'a> {
    shared: &'s Shared<'a>,
    layout: &'s Layout,
    show: &'s (dyn Fn(&Path) -> String + Sync),
    pool: Option<&'s rayon::ThreadPool>,
    /// Shared with the builds of a chunk while the chunk before it is settled.
    plans: Vec<Arc<Plan>>,
    /// The outcome of each plan built (plans are built in order), until it is settled into
    /// `rendered` (a unit a cluster entry rendered is settled as soon as its wave is built, so
    /// that no run holds every unit's objects twice).
    outcomes: Vec<Option<Outcome<'s>>>,
    /// For each plan built: the loaded files its build reached, and whether it failed.
    reached: Vec<(Vec<usize>, bool)>,
    /// For each plan built: whether it rendered entries.
    entries_rendered: Vec<bool>,
    rendered: Rendered,
    /// The files builds read that the loader did not, by path (as bytes): their numbers.
    extra: HashMap<std::ffi::OsString, usize>,
    objects: SharedObjects,
    /// For each plan settled: the indexes of its objects and of what it deleted, in `rendered`.
    settled: Vec<(Vec<usize>, Vec<usize>)>,
    /// Build errors by (file, line, message): the problem reported and how many more units
    /// failed on it.
    failures: HashMap<(String, Option<u32>, String), (usize, usize)>,
    /// HelmReleases units built.
    found: Vec<FoundRelease>,
    /// The releases and the entries charts rendered that were planned, by cluster and
    /// definition: one found again in a later round (a cycle of charts) is not built again.
    releases_seen: HashSet<(usize, String)>,
    entries_seen: HashSet<(usize, String)>,
    apps_seen: HashSet<(usize, String)>,
    /// Cluster entries (Flux Kustomizations) charts rendered, waiting to be planned.
    found_entries: Vec<FoundRelease>,
    /// Argo CD Applications charts rendered (apps of apps), waiting to be planned.
    found_apps: Vec<FoundRelease>,
    /// The HelmReleases written in files no unit reached are to be planned (once every unit
    /// that could reach them was built).
    written_pending: bool,
    /// GitRepositories charts rendered, by (namespace, name): their URL.
    chart_git: HashMap<(String, String), String>,
    /// The targets of the entries charts rendered, numbered after the tree's.
    synthetic: Vec<Arc<FluxTarget>>,
}

impl<'s> Units<'s, '_> {
    /// Builds plans in parallel, on the pool with deep stacks.
    fn build_all(&self, plans: &[Arc<Plan>]) -> Vec<Outcome<'s>> {
        in_pool(self.pool, || build_plans(plans, self.shared))
    }

    /// Builds plans `start..` in chunks, each absorbed (settled, its entries planned) while the
    /// next is built: a chunk's builds never depend on what the chunks before it rendered, and
    /// chunks are absorbed in order.
    fn build_chunks(&mut self, start: usize, st: &mut Waves, wave: &mut Vec<Plan>) {
        let end = self.plans.len();
        let mut built: Option<(std::ops::Range<usize>, Vec<Outcome<'s>>)> = None;
        for from in (start..end).step_by(CHUNK) {
            let range = from..end.min(from + CHUNK);
            let next: Vec<Arc<Plan>> = self.plans[range.clone()].to_vec();
            let results = match built.take() {
                None => self.build_all(&next),
                Some((before, results)) => {
                    let (shared, pool) = (self.shared, self.pool);
                    let (results, ()) = in_pool(pool, || {
                        rayon::join(
                            || build_plans(&next, shared),
                            || self.absorb(before, results, st, wave),
                        )
                    });
                    results
                }
            };
            built = Some((range, results));
        }
        if let Some((before, results)) = built {
            self.absorb(before, results, st, wave);
        }
    }

    /// Plans and builds the cluster entries, wave by wave (see the module's documentation);
    /// returns which plans are superseded (an entry built as written that units rendered).
    fn entries(&mut self) -> Vec<bool> {
        let targets = self.shared.targets;
        let mut st = Waves {
            instantiated: vec![false; targets.len()],
            // An entry whose source is not this tree is never built here.
            planned_written: targets.iter().map(|t| !t.builds).collect(),
            seen: foldhash::HashSet::default(),
            settled_spec: foldhash::HashMap::default(),
            planned_spec: foldhash::HashSet::default(),
            deferred: Vec::new(),
        };
        // What may deploy each entry: the entries whose directory holds its file or whose
        // kustomizations (as written) reach it. An entry is built as written only once those
        // were built: what they render is what the cluster meets.
        let holders = self.holders();
        let mut wave: Vec<Plan> = (0..targets.len())
            .filter(|&i| holders[i].is_empty())
            .filter_map(|i| written(i, self.layout, self.shared, self.show))
            .collect();
        loop {
            if wave.is_empty() {
                wave = self.fallback(&mut st, &holders);
            }
            if wave.is_empty() {
                break;
            }
            if self.plans.len() + wave.len() > MAX_UNITS {
                self.rendered.problems.push(crate::error::Problem::new(
                    "",
                    None,
                    format!("the tree has more than {MAX_UNITS} build units: the rest are linted as written"),
                ));
                break;
            }
            let start = self.plans.len();
            for (k, p) in wave.iter_mut().enumerate() {
                if p.rendered.is_none() {
                    p.cluster = start + k;
                    if let Some(t) = p.target {
                        st.planned_written[t] = true;
                    }
                }
                if let Some(t) = p.target {
                    st.seen.insert((t, p.cluster, spec_key(p, self.shared)));
                }
            }
            self.plans.extend(wave.drain(..).map(Arc::new));
            // Built in chunks, each settled as the next is built: a wave of thousands of
            // units never holds all their objects at once.
            self.build_chunks(start, &mut st, &mut wave);
            // Instances of an entry already planned the same way wait for its build.
            for (plan, key) in std::mem::take(&mut st.deferred) {
                match st.settled_spec.get(&key) {
                    Some(&original) if self.can_share(original, plan.cluster) => {
                        self.share(original, plan);
                    }
                    Some(_) => wave.push(plan),
                    None => st.deferred.push((plan, key)),
                }
            }
            if wave.is_empty() {
                wave.extend(st.deferred.drain(..).map(|(plan, _)| plan));
            }
        }
        // An entry built as written that some unit also rendered: the rendered ones stand for
        // it.
        let mut rendered = vec![false; targets.len()];
        for t in self.plans.iter().filter(|p| p.rendered.is_some()).filter_map(|p| p.target) {
            rendered[t] = true;
        }
        self.plans
            .iter()
            .map(|p| p.rendered.is_none() && p.target.is_some_and(|t| rendered[t]))
            .collect()
    }

    /// Plans and builds the kustomizations that nothing includes and no entry read.
    fn kustomizations(&mut self, superseded: &[bool]) {
        let mut read_by_entries: HashSet<usize> = HashSet::default();
        for (k, (reached, _)) in self.reached.iter().enumerate() {
            if !superseded.get(k).copied().unwrap_or(false) {
                read_by_entries.extend(reached);
            }
        }
        let read = |dir: &Path| {
            kustomization_read(&self.shared.loaded, dir, |i| read_by_entries.contains(&i))
        };
        let failed = self.failed_dirs();
        // The directories already planned, asked once per kustomization (a tree without
        // cluster entries has thousands: asking each plan was quadratic).
        let mut planned: HashSet<PathBuf> = self.plans.iter().map(|p| p.dir.clone()).collect();
        let first = self.plans.len();
        for dir in &self.layout.root_configs {
            if read(dir) || planned.contains(dir) || failed.iter().any(|f| dir.starts_with(f)) {
                continue;
            }
            let Some(root) = build_root(dir, self.shared) else { continue };
            let name = format!("kustomization {}", (self.show)(dir));
            let plan = Plan::top(name, dir, root, self.plans.len(), false);
            planned.insert(dir.clone());
            self.plans.push(Arc::new(plan));
        }
        let results = self.build_all(&self.plans[first..]);
        self.record(first, results);
    }

    /// Directories of entries that failed: their failure is reported once, not again for each
    /// kustomization (or chart) below them.
    fn failed_dirs(&self) -> Vec<PathBuf> {
        self.plans
            .iter()
            .zip(&self.reached)
            .filter(|(p, (_, failed))| *failed && p.release.is_none())
            .map(|(p, _)| p.dir.clone())
            .collect()
    }

    /// Plans and builds the HelmReleases units built and those written in files no unit
    /// reached (one unit per release and cluster), then the charts of the tree that no release
    /// deploys, with their default values.
    fn releases(&mut self, superseded: &[bool]) {
        // Charts may deploy entries that deploy releases in turn: a few rounds at most.
        for _ in 0..MAX_ROUNDS {
            if self.found.is_empty() && self.found_entries.is_empty() && !self.written_pending {
                break;
            }
            self.release_round(superseded);
            self.entries_of_charts();
        }
    }

    /// An Application a unit rendered, by cluster and definition (what `apps_seen` holds).
    fn app_key(&self, found: &FoundRelease) -> (usize, String) {
        (self.plans[found.plan].cluster, found.tree.to_json().to_string())
    }

    /// What units rendered that no round was left to build (charts that render releases and
    /// Applications that render charts, deeper than [`MAX_ROUNDS`]): an error at each.
    fn too_deep_all(&mut self, superseded: &[bool]) {
        let live = |plan: usize| !superseded.get(plan).copied().unwrap_or(false);
        for found in std::mem::take(&mut self.found) {
            let key =
                (self.plans[found.plan].cluster, release_key(&self.plans, self.shared, &found));
            if live(found.plan) && !self.releases_seen.contains(&key) {
                self.too_deep(&found, "HelmRelease");
            }
        }
        // Flux Kustomizations charts render are planned in the round that finds them: none is
        // left (`releases` ends each round with `entries_of_charts`).
        debug_assert!(self.found_entries.is_empty());
        for found in std::mem::take(&mut self.found_apps) {
            let key = self.app_key(&found);
            if live(found.plan) && !self.apps_seen.contains(&key) && self.app_unit(&found).is_some()
            {
                self.too_deep(&found, "Argo CD Application");
            }
        }
    }

    /// An entry a unit rendered in the last round there is (`what`: its kind): not built, an
    /// error at the line that wrote it — never a silent skip.
    fn too_deep(&mut self, found: &FoundRelease, what: &str) {
        let show = self.show;
        let file = found.reads.get(found.tree.file as usize).map_or_else(String::new, |r| {
            r.real.as_deref().map_or_else(|| r.path.display().to_string(), show)
        });
        let message = format!(
            "{what} not built: charts and the entries they render nest at most {MAX_ROUNDS} \
             rounds deep (rendered by {})",
            self.plans[found.plan].name
        );
        let problem = crate::error::Problem::new(file, Some(found.tree.span.start()), message);
        if !self.rendered.problems.contains(&problem) {
            self.rendered.problems.push(problem);
        }
    }

    /// Plans and builds the Flux Kustomizations charts rendered, as units of the release's
    /// cluster.
    fn entries_of_charts(&mut self) {
        let first = self.plans.len();
        // One built per alike entry (a tenant's sync in staging and production), shared.
        let mut first_alike: HashMap<String, usize> = HashMap::default();
        let mut alike: Vec<(Plan, usize)> = Vec::new();
        let found = std::mem::take(&mut self.found_entries);
        // What each entry is and where it builds, worked out in parallel (a thousand tenants'
        // releases render an entry each); planned in order.
        let (plans, shared, chart_git) = (&self.plans, self.shared, &self.chart_git);
        let ready: Vec<_> = in_pool(self.pool, || {
            found
                .par_iter()
                .map(|found| {
                    let by = &plans[found.plan];
                    let release_file = by.release.as_ref().map(Release::defined_in)?;
                    let target = chart_entry(&found.tree, shared.charts, chart_git)?;
                    let dir = resolve(&target.path, &release_file, shared)?;
                    let root = build_root(&dir, shared)?;
                    let seen = (by.cluster, found.tree.to_json().to_string());
                    let key =
                        format!("{}\u{1f}{}", build_key(&found.tree, true), target.owner.label);
                    Some((seen, target, (dir, root), key))
                })
                .collect()
        });
        for (found, ready) in found.into_iter().zip(ready) {
            let Some((seen, target, (dir, root), key)) = ready else { continue };
            if self.entries_seen.contains(&seen) {
                continue;
            }
            // Noted once it is planned: one not buildable yet (its source rendered in a later
            // round) may be found again.
            self.entries_seen.insert(seen);
            let by = found.plan;
            let plan = self.synthetic_plan(target, found, (dir, root), by);
            if let Some(&original) = first_alike.get(&key) {
                alike.push((plan, original));
            } else {
                first_alike.insert(key, self.plans.len());
                self.plans.push(Arc::new(plan));
            }
        }
        self.build_sharing(first, alike);
    }

    /// Builds plans `first..`, then gives each plan of `alike` what the plan it is alike built
    /// (or builds it, when that cannot be shared).
    fn build_sharing(&mut self, first: usize, alike: Vec<(Plan, usize)>) {
        let results = self.build_all(&self.plans[first..]);
        self.record(first, results);
        let mut rebuild = Vec::new();
        for (plan, original) in alike {
            self.settle(original);
            if self.can_share(original, plan.cluster) {
                self.share(original, plan);
            } else {
                rebuild.push(Arc::new(plan));
            }
        }
        let again = self.plans.len();
        self.plans.extend(rebuild);
        let results = self.build_all(&self.plans[again..]);
        self.record(again, results);
    }

    /// Plans and builds the releases units built so far (and, the first time, those written in
    /// files no unit reached).
    fn release_round(&mut self, superseded: &[bool]) {
        let first = self.plans.len();
        // A release alike in another cluster (staging and production deploying one tenant's
        // release) renders the same objects: built once, the others share them.
        let mut first_alike: HashMap<String, usize> = HashMap::default();
        let mut alike: Vec<(Plan, usize)> = Vec::new();
        let mut found = std::mem::take(&mut self.found);
        found.retain(|f| !superseded.get(f.plan).copied().unwrap_or(false));
        // The release and who deploys it (the same release of two deployers is two), and its
        // chart (its source read, its directory looked up on disk): found in parallel, a
        // fleet's tenants deploy a release each.
        let (plans, shared) = (&self.plans, self.shared);
        let keys: Vec<(String, PathBuf, super::releases::ChartAt)> = in_pool(self.pool, || {
            found
                .par_iter()
                .map(|f| {
                    let read = f.reads.get(f.tree.file as usize);
                    let defined_in = read.and_then(|r| r.real.clone()).unwrap_or_default();
                    let chart = shared.charts.locate(&f.tree, &defined_in, shared.roots);
                    (release_key(plans, shared, f), defined_in, chart)
                })
                .collect()
        });
        for (found, (key, defined_in, chart)) in found.into_iter().zip(keys) {
            let by = &self.plans[found.plan];
            let (cluster, root) = (by.cluster, by.root.clone());
            let deployer = by.target.or(by.deployer);
            if !self.releases_seen.insert((cluster, key.clone())) {
                continue;
            }
            let read = found.reads.get(found.tree.file as usize);
            let entry = read.and_then(|r| Some((r.loaded?, chart_span(&found.tree))));
            let name = release_label(&found.tree, &(self.show)(&defined_in));
            let definition = ReleaseDef::Rendered(found.tree, found.reads);
            let plan = release_plan(name, (definition, chart), (root, cluster), (entry, deployer));
            if let Some(&original) = first_alike.get(&key) {
                alike.push((plan, original));
            } else {
                first_alike.insert(key, self.plans.len());
                self.plans.push(Arc::new(plan));
            }
        }
        if std::mem::take(&mut self.written_pending) {
            self.written_releases(superseded);
        }
        self.build_sharing(first, alike);
    }

    /// Plans the HelmReleases written in files no unit reached (or only units that failed).
    fn written_releases(&mut self, superseded: &[bool]) {
        let mut reached = vec![false; self.shared.files.len()];
        for (k, (files, _)) in self.reached.iter().enumerate() {
            if !superseded.get(k).copied().unwrap_or(false) {
                for &i in files {
                    reached[i] = true;
                }
            }
        }
        // Argo CD Applications of a chart repository's chart, wherever they are written
        // (looked for in parallel, planned in file order).
        let files = self.shared.files;
        let apps: Vec<_> = files
            .par_iter()
            .enumerate()
            .filter_map(|(index, file)| Some((index, file.source.path.as_ref()?, file)))
            .flat_map_iter(|(index, path, file)| {
                file.documents.iter().filter_map(move |doc| {
                    let source = super::releases::argo_chart_source(&doc.root)?;
                    Some((index, path, doc, source))
                })
            })
            .collect();
        for (index, path, doc, source) in apps {
            self.plan_argo_chart(index, path, (doc, source));
        }
        // Read in parallel (a fleet writes a release per tenant), planned in file order: each
        // is its own cluster, numbered by its plan.
        let (shared, layout, show) = (self.shared, self.layout, self.show);
        let found: Vec<WrittenRelease> = in_pool(self.pool, || {
            shared
                .files
                .par_iter()
                .enumerate()
                .filter_map(|(index, file)| {
                    // A kustomization's patch of a HelmRelease is part of one, not a release.
                    let is_patch = layout.patch_files.get(index).copied().unwrap_or(false);
                    let path = file.source.path.as_ref().filter(|_| !reached[index] && !is_patch);
                    Some((index, file, path?))
                })
                .flat_map_iter(|(index, file, path)| {
                    file.documents.iter().filter_map(move |doc| {
                        let text = |k: &str| doc.root.get(k).and_then(Node::as_str).unwrap_or("");
                        let has_chart = ["chart", "chartRef"]
                            .iter()
                            .any(|k| doc.root.at(&["spec", k]).is_some());
                        if !super::releases::is_release(text("apiVersion"), text("kind"))
                            || !has_chart
                        {
                            return None;
                        }
                        let root = build_root(path, shared)?;
                        let tree = Tree::from_node(&doc.root, 0);
                        let deployer = layout.deployer.get(index).copied().flatten();
                        let owner = deployer.map_or("", |t| shared.targets[t].owner.label.as_str());
                        Some(WrittenRelease {
                            key: format!("{}\u{1f}{owner}", tree.to_json()),
                            chart: shared.charts.locate(&tree, path, shared.roots),
                            name: release_label(&tree, &show(path)),
                            entry: Some((index, chart_span(&tree))),
                            deployer,
                            definition: ReleaseDef::Written(path.clone(), doc.index),
                            root,
                        })
                    })
                })
                .collect()
        });
        for WrittenRelease { name, key, definition, chart, root, entry, deployer } in found {
            let cluster = self.plans.len();
            // Rendered again in its own cluster (its chart's Kustomization applies the
            // directory that holds it), it is the same release: not built twice.
            self.releases_seen.insert((cluster, key));
            let plan = release_plan(name, (definition, chart), (root, cluster), (entry, deployer));
            self.plans.push(Arc::new(plan));
        }
    }

    /// Plans the unit of an Argo CD Application whose source is a chart of a chart repository:
    /// from the chart cache, else listed as not rendered.
    fn plan_argo_chart(
        &mut self,
        index: usize,
        path: &Path,
        (doc, source): (&crate::load::Document, super::releases::AppSource),
    ) {
        let Some(root) = build_root(path, self.shared) else { return };
        let Some(node) = source.of(&doc.root) else { return };
        let text = |k: &str| node.get(k).and_then(Node::as_str).unwrap_or("");
        let (chart, version, repo) = (text("chart"), text("targetRevision"), text("repoURL"));
        let at = self.shared.charts.cached(chart, version).unwrap_or_else(|| {
            super::releases::ChartAt::Missing(format!(
                "chart `{chart}` {version} of {repo} is not in the chart cache: `helm pull` it into --chart-cache"
            ))
        });
        let meta = |k: &str| doc.root.at(&["metadata", k]).and_then(Node::as_str).unwrap_or("");
        let name = format!(
            "Argo CD Application `{}/{}` ({})",
            meta("namespace"),
            meta("name"),
            (self.show)(path)
        );
        let entry = node.get("chart").map(|c| (index, c.span));
        let definition = ReleaseDef::Argo(path.to_path_buf(), doc.index, source);
        let cluster = self.plans.len();
        let plan = release_plan(name, (definition, at), (root, cluster), (entry, None));
        self.plans.push(Arc::new(plan));
    }

    /// Plans and builds the charts nothing deploys (a subchart is rendered by its parent), with
    /// their default values: none that a release, or an Argo CD Application, deploys.
    fn undeployed_charts(&mut self, chart_dirs: &[PathBuf]) {
        let first = self.plans.len();
        let failed = self.failed_dirs();
        // Charts a release deploys, or an Argo CD Application (a path source that is a chart).
        let mut deployed: HashSet<PathBuf> = self
            .plans
            .iter()
            .filter_map(|p| match &p.release.as_ref()?.chart {
                super::releases::ChartAt::Tree(dir, _) => Some(dir.clone()),
                _ => None,
            })
            .collect();
        let argo = |p: &&Arc<Plan>| p.target.is_some_and(|t| !self.shared.targets[t].flux);
        deployed.extend(self.plans.iter().filter(argo).map(|p| p.dir.clone()));
        for dir in chart_dirs {
            let subchart = chart_dirs
                .iter()
                .any(|other| other != dir && dir.starts_with(other.join("charts")));
            if subchart || deployed.contains(dir) || failed.iter().any(|f| dir.starts_with(f)) {
                continue;
            }
            let Some(root) = build_root(dir, self.shared) else { continue };
            let name = format!("Helm chart {} (default values)", (self.show)(dir));
            let plan = Plan::top(name, dir, root, self.plans.len(), true);
            self.plans.push(Arc::new(plan));
        }
        let results = self.build_all(&self.plans[first..]);
        self.record(first, results);
    }

    /// Plans and builds the value sets the config names (`charts:`): each chart rendered once
    /// more per set, its values files over its defaults, as a unit of its own. A chart the
    /// linted tree does not hold (outside it, or excluded) is an error.
    fn value_sets(
        &mut self,
        sets: &std::collections::BTreeMap<PathBuf, Vec<PathBuf>>,
        chart_dirs: &[PathBuf],
    ) {
        let first = self.plans.len();
        for (dir, files) in sets {
            let held = chart_dirs.iter().any(|d| crate::load::discover::normalize(d) == *dir);
            let root = build_root(dir, self.shared).filter(|_| held);
            let outside = root.as_ref().and_then(|r| files.iter().find(|f| !f.starts_with(r)));
            let (Some(root), None) = (root, outside) else {
                let what = outside.map_or_else(
                    || format!("chart {} is not a chart of the linted tree", (self.show)(dir)),
                    |f| format!("values file {} is outside the chart's tree", (self.show)(f)),
                );
                let message = format!("config charts: {what}: its value set is not rendered");
                self.rendered.problems.push(crate::error::Problem::new("", None, message));
                continue;
            };
            let shown: Vec<String> = files.iter().map(|f| (self.show)(f)).collect();
            let name = format!("Helm chart {} (values {})", (self.show)(dir), shown.join(", "));
            let mut plan = Plan::top(name, dir, root, self.plans.len(), true);
            plan.value_set.clone_from(files);
            self.plans.push(Arc::new(plan));
        }
        let results = self.build_all(&self.plans[first..]);
        self.record(first, results);
    }

    /// The unit of a cluster entry that plan `by` rendered (a chart's Flux Kustomization or
    /// Argo CD Application), in that plan's cluster, its target numbered after the tree's.
    fn synthetic_plan(
        &mut self,
        target: FluxTarget,
        found: FoundRelease,
        (dir, root): (PathBuf, PathBuf),
        by: usize,
    ) -> Plan {
        let index = self.shared.targets.len() + self.synthetic.len();
        let target = Arc::new(target);
        self.synthetic.push(Arc::clone(&target));
        let by = &self.plans[by];
        Plan {
            name: format!("{} (rendered by {})", target.owner.label, by.name),
            dir,
            root,
            target: None,
            rendered: Some((found.tree, found.reads)),
            cluster: by.cluster,
            entry: None,
            chart: false,
            release: None,
            deployer: None,
            synthetic: Some((index, target)),
            value_set: Vec::new(),
        }
    }

    /// Plans and builds the Argo CD Applications charts rendered (an app of apps: a chart of
    /// Applications that nothing in the tree deploys, applied by hand or by a bootstrap), as
    /// units of the chart's cluster. What such an Application deploys is then built as the
    /// Application builds it — with its destination namespace, its `kustomize` and `helm`
    /// options — and no longer as a kustomization or chart of its own: those units are
    /// superseded (also when the Application's build fails, whose error is reported instead).
    /// The HelmReleases and the Applications they render are planned in turn (up to
    /// [`MAX_ROUNDS`] deep).
    fn apps_of_charts(&mut self, superseded: &mut Vec<bool>) {
        // Each Application once per cluster, across rounds (`apps_seen`): one that renders
        // itself (or an Application that renders it) is not built again.
        let mut seen = std::mem::take(&mut self.apps_seen);
        for _ in 0..MAX_ROUNDS {
            let found = std::mem::take(&mut self.found_apps);
            if found.is_empty() {
                break;
            }
            let first = self.plans.len();
            // The key of each Application planned this round, in plan order, with the plan that
            // rendered it and whether it renews that plan.
            let mut keys = Vec::new();
            // Plans an Application of this round renews.
            let mut renewed: HashSet<usize> = HashSet::default();
            for found in found {
                if superseded.get(found.plan).copied().unwrap_or(false) {
                    continue;
                }
                let key = self.app_key(&found);
                if seen.contains(&key) {
                    continue;
                }
                let Some((target, dir, root)) = self.app_unit(&found) else { continue };
                if self.plans.len() >= MAX_UNITS {
                    break;
                }
                seen.insert(key.clone());
                let by = found.plan;
                // An Application that renders itself anew (its own values change what it
                // renders): the new one replaces the one that rendered it.
                let renews = self.plans[by].is_rendered_app()
                    && self.plans[by]
                        .rendered
                        .as_ref()
                        .is_some_and(|(t, _)| same_app(t, &found.tree));
                if renews {
                    renewed.insert(by);
                    if let Some(old) = superseded.get_mut(by) {
                        *old = true;
                    }
                }
                keys.push((key, by, renews));
                let plan = self.synthetic_plan(target, found, (dir, root), by);
                self.plans.push(Arc::new(plan));
            }
            let results = self.build_all(&self.plans[first..]);
            self.record(first, results);
            superseded.resize(self.plans.len(), false);
            // The units each plan of this round supersedes.
            let mut superseders: HashMap<usize, Vec<usize>> = HashMap::default();
            for k in first..self.plans.len() {
                for j in self.supersede_below(k, first, superseded) {
                    superseders.entry(j).or_default().push(k);
                }
            }
            // The Applications of this round in the cluster of a unit this round superseded
            // are built as its superseder renders them. One outside the cluster (a bootstrap's
            // Application) takes the whole cluster; one inside it (an app of apps that manages
            // itself) stays, and the others are found again in its rendering (a later round).
            // In plan order, a superseder that is superseded itself counts for nothing: of two
            // charts that deploy each other, one stays.
            for (k, (key, rendered_by, renews)) in (first..).zip(keys) {
                // The other Applications of a renewed plan are found again in its renewal's
                // rendering.
                if renewed.contains(&rendered_by) && !renews {
                    superseded[k] = true;
                    seen.remove(&key);
                    continue;
                }
                let cluster = self.plans[k].cluster;
                let Some(by) = superseders.get(&cluster) else { continue };
                let live = |s: &usize| !superseded[*s];
                if by.iter().filter(|s| live(s)).any(|&s| self.plans[s].cluster != cluster) {
                    superseded[k] = true;
                } else if by.iter().any(live) && !by.contains(&k) {
                    superseded[k] = true;
                    seen.remove(&key);
                }
            }
            self.releases(superseded);
        }
        self.apps_seen = seen;
    }

    /// What an Application a unit rendered builds, when its path is a directory of the tree:
    /// its target, directory and build root.
    fn app_unit(&self, found: &FoundRelease) -> Option<(FluxTarget, PathBuf, PathBuf)> {
        let read = found.reads.get(found.tree.file as usize);
        let defined_in = read.and_then(|r| r.real.clone()).unwrap_or_default();
        let target = argo_entry(&found.tree)?;
        let dir = resolve(&target.path, &defined_in, self.shared)?;
        let root = build_root(&dir, self.shared)?;
        Some((target, dir, root))
    }

    /// Supersedes the units of plans `..before` that plan `k` (an Application) builds instead:
    /// the chart or the kustomization nothing deploys at its directory, those whose
    /// kustomization its build read, and all below its directory when its build failed (those
    /// it covers, returned). Units already settled stay.
    fn supersede_below(&self, k: usize, before: usize, superseded: &mut [bool]) -> Vec<usize> {
        let (reached, failed) = &self.reached[k];
        let reached: HashSet<usize> = reached.iter().copied().collect();
        let dir = &self.plans[k].dir;
        let read = |d: &Path| kustomization_read(&self.shared.loaded, d, |i| reached.contains(&i));
        let mut covered_units = Vec::new();
        for (j, superseded) in superseded.iter_mut().enumerate().take(before) {
            let p = &self.plans[j];
            let covered = p.dir == *dir || (*failed && p.dir.starts_with(dir)) || read(&p.dir);
            if p.is_top(j) && covered && self.outcomes[j].is_some() {
                *superseded = true;
                covered_units.push(j);
            }
        }
        covered_units
    }

    /// The entries to build as written when no unit rendered more: those nothing rendered
    /// whose holders were all built (their file is in no unit, or in one that failed); in a
    /// cycle of holders, all that remain.
    fn fallback(&mut self, st: &mut Waves, holders: &[Vec<usize>]) -> Vec<Plan> {
        let targets = self.shared.targets;
        let remaining: Vec<usize> =
            (0..targets.len()).filter(|&i| !st.instantiated[i] && !st.planned_written[i]).collect();
        let ready: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&i| holders[i].iter().all(|&h| st.planned_written[h] || st.instantiated[h]))
            .collect();
        let next = if ready.is_empty() { remaining } else { ready };
        let wave: Vec<Plan> = next
            .into_iter()
            .filter_map(|i| written(i, self.layout, self.shared, self.show))
            .collect();
        if wave.is_empty() {
            for i in (0..targets.len()).filter(|&i| !st.instantiated[i]) {
                st.planned_written[i] = true;
            }
        }
        wave
    }

    /// Takes what plans `range` built: settles what entries rendered, and plans the entries
    /// they rendered in turn (into `wave`, shared with an alike build, or deferred until one).
    fn absorb(
        &mut self,
        range: std::ops::Range<usize>,
        results: Vec<Outcome<'s>>,
        st: &mut Waves,
        wave: &mut Vec<Plan>,
    ) {
        let targets = self.shared.targets;
        // Each entry's unit is planned in parallel (a cluster's entries name a thousand
        // tenants, each path looked up on disk), then taken in order.
        let entries: Vec<(&Tree<'s>, &[Read], usize)> = results
            .iter()
            .enumerate()
            .filter_map(|(k, result)| Some((result.as_ref().ok()?, k)))
            .flat_map(|((_, entries, reads, _), k)| {
                let cluster = self.plans[range.start + k].cluster;
                entries.iter().map(move |tree| (tree, &reads[..], cluster))
            })
            .collect();
        let (shared, show) = (self.shared, self.show);
        let planned: Vec<_> = in_pool(self.pool, || {
            entries
                .par_iter()
                .with_min_len(16)
                .filter_map(|&(tree, reads, cluster)| {
                    let t = defined_target(tree, reads, shared)?;
                    let unit = instance(t, tree, reads, cluster, shared, show);
                    Some((t, cluster, spec_json(tree), build_key(tree, targets[t].flux), unit))
                })
                .collect()
        });
        let mut pending = Vec::new();
        for (t, cluster, spec, key, unit) in planned {
            st.instantiated[t] = true;
            if st.seen.insert((t, cluster, spec)) {
                pending.extend(unit.map(|plan| (plan, key)));
            }
        }
        self.record(range.start, results);
        // What an entry rendered stands: settle it now.
        for k in range.clone() {
            if self.plans[k].rendered.is_some() {
                self.settle(k);
            }
        }
        // An entry another cluster's unit rendered the same way (staging and production
        // deploying one tenant alike) builds the same objects: they become that cluster's
        // too, without a second build.
        for k in range {
            if let (Some(t), Some((tree, _))) = (self.plans[k].target, &self.plans[k].rendered) {
                st.settled_spec.entry((t, build_key(tree, targets[t].flux))).or_insert(k);
            }
        }
        for (plan, spec) in pending {
            let key = (plan.target.unwrap_or(usize::MAX), spec);
            if let Some(&original) = st.settled_spec.get(&key) {
                if self.can_share(original, plan.cluster) {
                    self.share(original, plan);
                    continue;
                }
            }
            if st.planned_spec.insert(key.clone()) {
                wave.push(plan);
            } else {
                st.deferred.push((plan, key));
            }
        }
    }

    /// For each target, the targets that may deploy it: those whose directory holds its file,
    /// and the one whose kustomizations (as written) reach it first.
    fn holders(&self) -> Vec<Vec<usize>> {
        let targets = self.shared.targets;
        let mut dirs: Vec<(&Path, usize)> = self
            .layout
            .target_dirs
            .iter()
            .enumerate()
            .filter_map(|(j, d)| Some((d.as_deref()?, j)))
            .collect();
        dirs.sort_unstable();
        (0..targets.len())
            .map(|i| {
                let Some(file) = targets[i].defined_in.as_deref() else { return Vec::new() };
                let mut holders: Vec<usize> = file
                    .ancestors()
                    .skip(1)
                    .flat_map(|a| {
                        let from = dirs.partition_point(|(d, _)| *d < a);
                        dirs[from..].iter().take_while(move |(d, _)| *d == a).map(|&(_, j)| j)
                    })
                    .filter(|&j| j != i)
                    .collect();
                let reached_by = self
                    .shared
                    .loaded
                    .get(file)
                    .and_then(|l| self.layout.deployer.get(l.index).copied().flatten());
                holders.extend(reached_by.filter(|&j| j != i));
                holders
            })
            .collect()
    }

    /// Keeps the outcomes of plans `from..`, noting what each reached.
    fn record(&mut self, from: usize, results: Vec<Outcome<'s>>) {
        self.make_room(from + results.len());
        // What each build rendered for later rounds, sorted and copied out in parallel (a
        // thousand tenants' units render a release each), then kept in order.
        let (plans, shared) = (&self.plans, self.shared);
        let found: Vec<Vec<Found>> = in_pool(self.pool, || {
            results
                .par_iter()
                .enumerate()
                .map(|(k, result)| match result {
                    Ok((_, entries, reads, _)) => entries
                        .iter()
                        .filter_map(|t| found(t, reads, &plans[from + k], shared))
                        .collect(),
                    Err(_) => Vec::new(),
                })
                .collect()
        });
        for (k, (result, found)) in results.into_iter().zip(found).enumerate() {
            let at = from + k;
            self.entries_rendered[at] = result
                .as_ref()
                .is_ok_and(|(_, entries, _, _)| entries.iter().any(|t| !is_release_tree(t)));
            for one in found {
                match one {
                    Found::App(tree, reads) => {
                        self.found_apps.push(FoundRelease { tree, reads, plan: at });
                    }
                    Found::Release(tree, reads) => {
                        self.found.push(FoundRelease { tree, reads, plan: at });
                    }
                    Found::Entry(tree, reads) => {
                        self.found_entries.push(FoundRelease { tree, reads, plan: at });
                    }
                    Found::GitRepository(key, url) => {
                        self.chart_git.insert(key, url);
                    }
                }
            }
            self.reached[at] = match &result {
                Ok((_, _, reads, _)) => {
                    (reads.iter().filter(|r| r.built).filter_map(|r| r.loaded).collect(), false)
                }
                Err(_) => (Vec::new(), true),
            };
            self.outcomes[at] = Some(result);
        }
    }

    /// Grows the per-plan records to `len` plans.
    fn make_room(&mut self, len: usize) {
        if self.outcomes.len() < len {
            self.outcomes.resize_with(len, || None);
            self.reached.resize_with(len, || (Vec::new(), true));
            self.entries_rendered.resize(len, true);
            self.settled.resize_with(len, Default::default);
        }
    }

    /// Moves what plan `k` built into the rendering: its objects (one per cluster's identical
    /// copies), the files it reached, what it deleted, or its failure.
    fn settle(&mut self, k: usize) {
        if let Some(taken) = self.take(k) {
            let files = self.shared.files;
            // Only a build that [`prepare`] makes in parallel is handed to the pool (a round
            // trip to it for every small build would cost more than it saves).
            let prepared = if taken.objects.len() >= PARALLEL_OBJECTS {
                in_pool(self.pool, || prepare(taken, files))
            } else {
                prepare(taken, files)
            };
            self.place(prepared);
        }
    }

    /// [`Units::settle`] for many plans: their objects are made in parallel, a chunk of plans
    /// at a time, and placed in order by this thread as the chunks are made (placing, which
    /// only this thread can do, no longer waits for the last chunk).
    fn settle_all(&mut self, plans: Vec<usize>) {
        let mut chunks: Vec<Vec<Taken<'s>>> = Vec::new();
        for taken in plans.into_iter().filter_map(|k| self.take(k)) {
            match chunks.last_mut() {
                Some(chunk) if chunk.len() < CHUNK => chunk.push(taken),
                _ => chunks.push(vec![taken]),
            }
        }
        let files = self.shared.files;
        let (made, arrive) = std::sync::mpsc::channel::<(usize, Vec<Prepared>)>();
        in_place_scope(self.pool, |scope| {
            for (i, chunk) in chunks.into_iter().enumerate() {
                let made = made.clone();
                scope.spawn(move |_| {
                    let prepared = chunk.into_iter().map(|t| prepare(t, files)).collect();
                    // The receiver outlives the senders: it stops when they are all gone.
                    let _ = made.send((i, prepared));
                });
            }
            drop(made);
            // Chunks arrive in any order; each is placed once those before it are.
            let mut early = std::collections::BTreeMap::new();
            let mut next = 0;
            for (i, prepared) in arrive {
                early.insert(i, prepared);
                while let Some(prepared) = early.remove(&next) {
                    for p in prepared {
                        self.place(p);
                    }
                    next += 1;
                }
            }
        });
    }

    /// What plan `k` built, with its files numbered in the rendering; its failure is recorded
    /// instead (`None`).
    fn take(&mut self, k: usize) -> Option<Taken<'s>> {
        let outcome = self.outcomes.get_mut(k).and_then(Option::take)?;
        let plan = &self.plans[k];
        let unit = Arc::new(Unit {
            name: plan.name.as_str().into(),
            entry: plan.entry,
            cluster: self.plans[plan.cluster].name.as_str().into(),
        });
        let files = self.shared.files;
        let rendered = &mut self.rendered;
        let (objects, entries, reads, deleted) = match outcome {
            Ok(built) => built,
            // A chart whose dependencies were not fetched (`helm dependency build`) cannot be
            // rendered offline: it is counted as a chart not rendered, not an error.
            Err(e)
                if plan.chart
                    && e.message.starts_with(crate::render::helm::chart::MISSING_DEPENDENCIES) =>
            {
                return None;
            }
            // A release whose chart is not here (a chart repository's, not in the cache), or
            // whose chart's dependencies were not fetched: listed as not rendered.
            Err(e) if plan.release.is_some() && e.message.starts_with(NOT_HERE) => {
                let why = &e.message[NOT_HERE.len()..];
                let line = format!("{}: {why}", plan.name);
                if !rendered.unrendered_releases.contains(&line) {
                    rendered.unrendered_releases.push(line);
                }
                return None;
            }
            // A release, or an Argo CD Application, whose chart's dependencies were not
            // fetched.
            Err(e) if e.message.starts_with(crate::render::helm::chart::MISSING_DEPENDENCIES) => {
                let why = "its chart's dependencies were not fetched (`helm dependency build`)";
                rendered.unrendered_releases.push(format!("{}: {why}", plan.name));
                // The line names the chart: it is not listed again on its own.
                if plan.release.is_none() {
                    rendered.charts.push((self.show)(&plan.dir));
                }
                return None;
            }
            Err(e) => {
                // One error per cause: a base that many overlays include fails each of them.
                let first = problem(&e, &plan.name, &plan.root, self.show);
                let key = (first.file.clone(), first.line, e.message.clone());
                if let Some((_, more)) = self.failures.get_mut(&key) {
                    *more += 1;
                } else {
                    self.failures.insert(key, (rendered.problems.len(), 0));
                    rendered.problems.push(first);
                }
                return None;
            }
        };
        let numbers: Vec<usize> = reads
            .iter()
            .map(|r| {
                file_number(r, files.len(), &mut self.extra, &mut rendered.extra_files, self.show)
            })
            .collect();
        for i in reads.iter().filter(|r| r.built).filter_map(|r| r.loaded) {
            rendered.reached[i] = true;
        }
        let deployer = plan.target.or(plan.synthetic.as_ref().map(|(i, _)| *i)).or(plan.deployer);
        Some(Taken { k, unit, objects, entries, reads, numbers, deleted, deployer })
    }

    /// Places what [`prepare`] made of a plan's build: each object once for the clusters that
    /// receive it alike, and what the build deleted.
    fn place(&mut self, Prepared { k, unit, objects, deleted }: Prepared) {
        let rendered = &mut self.rendered;
        let (targets, synthetic) = (self.shared.targets, &self.synthetic);
        let target_at =
            |i: usize| targets.get(i).or_else(|| synthetic.get(i - targets.len()).map(|t| &**t));
        let same_deployer =
            |a: Option<usize>, b: Option<usize>| match (a.map(target_at), b.map(target_at)) {
                (Some(Some(a)), Some(Some(b))) => {
                    a.owner == b.owner && a.default_namespace == b.default_namespace
                }
                _ => a == b,
            };
        // Room made once per build (a cluster entry's thousands of objects grew the index a
        // doubling at a time, rehashing it each time).
        rendered.objects.reserve(objects.len());
        self.objects.reserve(objects.len());
        self.settled[k].0.reserve(objects.len());
        for object in objects {
            let at = self.objects.add(&mut rendered.objects, object, &same_deployer);
            self.settled[k].0.push(at);
        }
        for (root, cause, switch) in deleted {
            self.settled[k].1.push(rendered.deleted.len());
            rendered.deleted.push(Removed { root, unit: Arc::clone(&unit), cause, switch });
        }
    }

    /// Whether the objects plan `original` built can be shared with `cluster`: it built and
    /// rendered no entries (those would need units in `cluster` too), and `cluster` does not
    /// already receive any of them from another unit (two copies in one cluster stay two).
    fn can_share(&self, original: usize, cluster: usize) -> bool {
        let Some((objects, _)) = self.settled.get(original) else { return false };
        let built = self.reached.get(original).is_some_and(|(_, failed)| !failed);
        let name = &self.plans[cluster].name;
        built
            && !self.entries_rendered.get(original).copied().unwrap_or(true)
            && objects.iter().all(|&i| {
                !self.rendered.objects[i].rendering.clusters().any(|c| c == name.as_str())
            })
    }

    /// Makes `plan` a unit that receives what plan `original` built, without building it.
    fn share(&mut self, original: usize, plan: Plan) {
        let k = self.plans.len();
        let unit = Arc::new(Unit {
            name: plan.name.as_str().into(),
            entry: plan.entry,
            cluster: self.plans[plan.cluster].name.as_str().into(),
        });
        let original_name = self.plans[original].name.clone();
        let (objects, deleted) = self.settled[original].clone();
        for i in objects {
            let rendering = &mut self.rendered.objects[i].rendering;
            let via = rendering
                .units
                .iter()
                .find(|(u, _)| *u.name == *original_name)
                .map(|(_, via)| via.clone())
                .unwrap_or_default();
            rendering.units.push((Arc::clone(&unit), via));
        }
        for i in &deleted {
            let d = &self.rendered.deleted[*i];
            let copy = Removed {
                root: d.root.clone(),
                unit: Arc::clone(&unit),
                cause: d.cause,
                switch: d.switch,
            };
            self.rendered.deleted.push(copy);
        }
        self.make_room(k + 1);
        self.reached[k] = self.reached[original].clone();
        self.entries_rendered[k] = false;
        self.plans.push(Arc::new(plan));
    }

    /// What the units rendered, as the inventory takes it.
    fn finish(mut self, superseded: &[bool]) -> Rendered {
        self.rendered.extra_targets = self.synthetic.iter().map(|t| (**t).clone()).collect();
        for (plan, (_, failed)) in self.plans.iter().zip(&self.reached) {
            let argo =
                plan.target.is_some_and(|t| !self.shared.targets[t].flux) || plan.is_rendered_app();
            let deploys_tree_chart = plan
                .release
                .as_ref()
                .is_some_and(|r| matches!(r.chart, super::releases::ChartAt::Tree(..)))
                || (argo && plan.dir.join("Chart.yaml").is_file());
            if (plan.chart || deploys_tree_chart) && !failed {
                self.rendered.charts.push((self.show)(&plan.dir));
            }
        }
        // Room for every object still to settle, made once (a thousand releases' objects grown
        // a doubling at a time were copied twice over, into fresh pages).
        let pending: usize = self
            .outcomes
            .iter()
            .flatten()
            .filter_map(|o| o.as_ref().ok())
            .map(|(objects, ..)| objects.len())
            .sum();
        self.rendered.objects.reserve(pending);
        self.objects.reserve(pending);
        let live = (0..self.plans.len()).filter(|&k| !superseded.get(k).copied().unwrap_or(false));
        self.settle_all(live.collect());
        for &(at, more) in self.failures.values() {
            if more > 0 {
                let s = if more == 1 { "" } else { "s" };
                let message = &mut self.rendered.problems[at].message;
                let _ = write!(message, " (and {more} more unit{s})");
            }
        }
        // The builds' bookkeeping (a fleet's: tens of thousands of small allocations) is freed
        // on another thread; the rest of the run does not wait for it.
        let leftovers = (
            std::mem::take(&mut self.plans),
            std::mem::take(&mut self.objects),
            std::mem::take(&mut self.settled),
            std::mem::take(&mut self.reached),
        );
        crate::drop_in_background(leftovers);
        self.rendered
    }
}

/// The unit of an entry as written, if its path is in the tree.
fn written(
    i: usize,
    layout: &Layout,
    shared: &Shared<'_>,
    show: &dyn Fn(&Path) -> String,
) -> Option<Plan> {
    let t = &shared.targets[i];
    if !t.builds {
        return None;
    }
    let dir = layout.target_dirs[i].clone()?;
    let root = build_root(&dir, shared)?;
    let file = t.defined_in.as_deref()?;
    let loaded = shared.loaded.get(file)?;
    let doc = loaded.documents.iter().find(|d| d.index == t.document)?;
    let span = t.path_node(&doc.root).map_or(doc.root.span, |p| p.span);
    Some(Plan {
        name: format!("{} ({})", t.owner.label, show(file)),
        dir,
        root,
        target: Some(i),
        rendered: None,
        // Set when it is planned: a unit built as written is the top of its cluster.
        cluster: 0,
        entry: Some((loaded.index, span)),
        chart: false,
        release: None,
        deployer: None,
        synthetic: None,
        value_set: Vec::new(),
    })
}

/// The unit of an entry another unit rendered (in that unit's cluster), if its path is in the
/// tree.
fn instance(
    t: usize,
    tree: &Tree<'_>,
    reads: &[Read],
    cluster: usize,
    shared: &Shared<'_>,
    show: &dyn Fn(&Path) -> String,
) -> Option<Plan> {
    let target = &shared.targets[t];
    if !target.builds {
        return None;
    }
    let file = target.defined_in.as_deref()?;
    let path_node = target.path_tree(tree);
    let path = path_node.and_then(Tree::as_str).unwrap_or("./");
    let dir = resolve(path, file, shared)?;
    let root = build_root(&dir, shared)?;
    let entry = path_node.and_then(|n| {
        let read = reads.get(n.file as usize)?;
        Some((read.loaded?, n.span))
    });
    let (tree, reads) = detach(tree, reads);
    Some(Plan {
        name: format!("{} ({} → {})", target.owner.label, show(file), show(&dir)),
        dir,
        root,
        target: Some(t),
        rendered: Some((tree, reads)),
        cluster,
        entry,
        chart: false,
        release: None,
        deployer: None,
        synthetic: None,
        value_set: Vec::new(),
    })
}

/// The unit of a HelmRelease.
fn release_plan(
    name: String,
    (definition, chart): (ReleaseDef, super::releases::ChartAt),
    (root, cluster): (PathBuf, usize),
    (entry, deployer): (Option<(usize, Span)>, Option<usize>),
) -> Plan {
    let dir = match &chart {
        super::releases::ChartAt::Tree(dir, _) => dir.clone(),
        _ => root.clone(),
    };
    Plan {
        name,
        dir,
        root,
        target: None,
        rendered: None,
        cluster,
        entry,
        chart: false,
        release: Some(Release { definition, chart }),
        deployer,
        synthetic: None,
        value_set: Vec::new(),
    }
}

/// Whether two Applications are the same object (namespace and name).
fn same_app(a: &Tree<'_>, b: &Tree<'_>) -> bool {
    fn id<'t>(t: &'t Tree<'_>) -> [Option<&'t str>; 2] {
        ["namespace", "name"].map(|k| t.at(&["metadata", k]).and_then(Tree::as_str))
    }
    is_argo_application(a) && is_argo_application(b) && id(a) == id(b)
}

/// A tree a build gave, with only the files its fields came from, renumbered from 0: made
/// whole, as it is kept for later builds (renumbering reads every level anyway).
fn detach(tree: &Tree<'_>, reads: &[Read]) -> (Tree<'static>, Vec<Read>) {
    let mut tree = tree.clone().into_owned();
    let mut used: Vec<u32> = Vec::new();
    renumber(&mut tree, &mut used);
    let reads: Vec<Read> = used.iter().filter_map(|&n| reads.get(n as usize).cloned()).collect();
    (tree, reads)
}

/// A plan's build taken for [`Units::settle`]: its objects still as built.
struct Taken<'s> {
    k: usize,
    unit: Arc<Unit>,
    objects: Vec<Built>,
    /// What the build rendered that deploys more (planned already): freed where the build is
    /// prepared, not on the thread that takes builds in order.
    entries: Vec<Tree<'s>>,
    reads: Vec<Read>,
    /// The rendering's number of each file the build read.
    numbers: Vec<usize>,
    deleted: Vec<Deleted>,
    deployer: Option<usize>,
}

/// A plan's objects made for the rendering, and what it deleted (root, cause, switch).
struct Prepared {
    k: usize,
    unit: Arc<Unit>,
    /// With their [`super::rendered::identity`].
    objects: Vec<(super::rendered::RenderedObject, u64)>,
    deleted: Vec<(Node, (usize, Span), bool)>,
}

/// Makes the rendering's objects of a taken build (on any thread).
fn prepare(taken: Taken<'_>, files: &[LoadedFile]) -> Prepared {
    let Taken { k, unit, objects, entries, reads, numbers, deleted, deployer } = taken;
    drop(entries);
    let make = |b| {
        let o = object(b, &reads, &numbers, files, &unit, deployer);
        let id = super::rendered::identity(&o.root);
        (o, id)
    };
    // A cluster entry's build (a fleet's tenants, thousands of objects) is settled while
    // nothing else runs: its objects are made on every thread.
    let objects = if objects.len() >= PARALLEL_OBJECTS {
        objects.into_par_iter().with_min_len(64).map(make).collect()
    } else {
        objects.into_iter().map(make).collect()
    };
    let number = |n: u32| numbers.get(n as usize).copied().unwrap_or(0);
    let deleted = deleted
        .into_iter()
        .map(|d| (d.object.into_node().0, (number(d.file), d.span), d.switch))
        .collect();
    Prepared { k, unit, objects, deleted }
}

/// A release a unit rendered, as JSON, with the label of the target that deploys it.
fn release_key(plans: &[Arc<Plan>], shared: &Shared<'_>, found: &FoundRelease) -> String {
    let by = &plans[found.plan];
    let owner = by.target.or(by.deployer).map(|t| shared.targets[t].owner.label.as_str());
    format!("{}\u{1f}{}", found.tree.to_json(), owner.unwrap_or(""))
}

/// What a unit rendered that a later round takes up (see [`found`]).
enum Found {
    /// An Argo CD Application a chart (or an app of apps) rendered.
    App(Tree<'static>, Vec<Read>),
    /// A HelmRelease.
    Release(Tree<'static>, Vec<Read>),
    /// A Flux Kustomization a chart rendered.
    Entry(Tree<'static>, Vec<Read>),
    /// A GitRepository a chart rendered: (namespace, name) and its URL.
    GitRepository((String, String), String),
}

/// What of `tree`, rendered by `plan`, a later round takes up, detached from the build's
/// reads.
fn found(tree: &Tree<'_>, reads: &[Read], plan: &Plan, shared: &Shared<'_>) -> Option<Found> {
    let from_chart = plan.release.is_some();
    let chart = from_chart || plan.chart;
    // An Application an app of apps rendered renders Applications in turn (a Helm source of
    // Applications); those written in the tree are entries already.
    let from_app = plan.is_rendered_app();
    let kind = tree.get("kind").and_then(Tree::as_str);
    if is_argo_application(tree)
        && (chart || from_app && defined_target(tree, reads, shared).is_none())
    {
        let (tree, reads) = detach(tree, reads);
        Some(Found::App(tree, reads))
    } else if is_release_tree(tree) {
        let (tree, reads) = detach(tree, reads);
        Some(Found::Release(tree, reads))
    } else if from_chart && kind == Some("Kustomization") {
        let (tree, reads) = detach(tree, reads);
        Some(Found::Entry(tree, reads))
    } else if from_chart && kind == Some("GitRepository") {
        let text = |p: &[&str]| tree.at(p).and_then(Tree::as_str).unwrap_or("").to_string();
        let key = (text(&["metadata", "namespace"]), text(&["metadata", "name"]));
        Some(Found::GitRepository(key, text(&["spec", "url"])))
    } else {
        None
    }
}

fn is_release_tree(t: &Tree<'_>) -> bool {
    let text = |k: &str| t.get(k).and_then(Tree::as_str).unwrap_or("");
    super::releases::is_release(text("apiVersion"), text("kind"))
}

/// How reports name a release's unit: `HelmRelease `apps/web` (apps/web.yaml)`.
fn release_label(t: &Tree<'_>, file: &str) -> String {
    let text = |p: &[&str]| t.at(p).and_then(Tree::as_str).unwrap_or("");
    let (ns, name) = (text(&["metadata", "namespace"]), text(&["metadata", "name"]));
    format!("Flux HelmRelease `{ns}/{name}` ({file})")
}

/// The span of the field that names a release's chart.
fn chart_span(t: &Tree<'_>) -> Span {
    t.at(&["spec", "chart", "spec", "chart"])
        .or_else(|| t.at(&["spec", "chartRef", "name"]))
        .map_or(t.span, |c| c.span)
}

/// Numbers a tree's files in the order they are met (`used` holds the old numbers).
fn renumber(t: &mut Tree<'_>, used: &mut Vec<u32>) {
    fn number(file: u32, used: &mut Vec<u32>) -> u32 {
        let at = used.iter().position(|&u| u == file).unwrap_or_else(|| {
            used.push(file);
            used.len() - 1
        });
        u32::try_from(at).unwrap_or(u32::MAX)
    }
    t.file = number(t.file, used);
    match &mut t.value {
        crate::render::tree::TValue::Seq(items) => items.iter_mut().for_each(|i| renumber(i, used)),
        crate::render::tree::TValue::Map(fields) => {
            for f in fields.iter_mut() {
                f.key_file = number(f.key_file, used);
                renumber(&mut f.value, used);
            }
        }
        _ => {}
    }
}

/// A path an entry names (relative to its source's root, which the tree does not name):
/// resolved against each directory above the entry's file, then the linted roots; the nearest
/// that exists wins.
fn resolve(path: &str, defined_in: &Path, shared: &Shared<'_>) -> Option<PathBuf> {
    let rel = path.trim_start_matches("./");
    // A path whose first directory is missing under a base is missing there: that directory
    // is asked of once per base (the entries of a cluster share their bases) instead of every
    // entry's whole path.
    let first = first_directory(rel);
    defined_in
        .ancestors()
        .skip(1)
        .chain(shared.roots.iter().map(PathBuf::as_path))
        .filter(|base| first.is_none_or(|first| shared.loaded.is_dir(&base.join(first))))
        .map(|base| crate::load::discover::normalize(&base.join(rel)))
        .find(|d| shared.loaded.is_dir(d))
}

/// The first directory of a relative path of two segments or more that does not climb (`..`
/// is resolved as text, so `a/../b` may exist where `a` does not): the directory without which
/// the path cannot be there.
fn first_directory(rel: &str) -> Option<&std::ffi::OsStr> {
    use std::path::Component;
    if Path::new(rel).components().any(|c| c == Component::ParentDir) {
        return None;
    }
    let mut segments = Path::new(rel).components();
    match (segments.next(), segments.next()) {
        (Some(Component::Normal(first)), Some(_)) => Some(first),
        _ => None,
    }
}

/// The target a rendered object is the entry of: the one defined at the object's file and
/// document.
fn defined_target(tree: &Tree<'_>, reads: &[Read], shared: &Shared<'_>) -> Option<usize> {
    let kind = tree.get("kind").and_then(Tree::as_str)?;
    if kind != "Kustomization" && kind != "Application" {
        return None;
    }
    let file = reads.get(tree.file as usize)?.loaded?;
    let document = document_at(shared.files, file, tree.span.start())?;
    shared.defines.get(&(file, document)).copied()
}

/// What makes two units of one entry in one cluster the same: the entry's spec.
fn spec_json(tree: &Tree<'_>) -> String {
    tree.get("spec").map(|s| s.to_json().to_string()).unwrap_or_default()
}

/// What decides what an entry builds (its path and build options, and its namespace, where
/// `substituteFrom` looks): two entries alike in it build the same objects, whatever their
/// interval, timeout or dependencies.
fn build_key(tree: &Tree<'_>, flux: bool) -> String {
    let fields: &[&str] = if flux {
        &[
            "path",
            "targetNamespace",
            "namePrefix",
            "nameSuffix",
            "patches",
            "images",
            "components",
            "commonMetadata",
            "postBuild",
        ]
    } else {
        &["source", "destination"]
    };
    let spec = tree.get("spec");
    let mut key =
        tree.at(&["metadata", "namespace"]).and_then(Tree::as_str).unwrap_or("").to_string();
    for f in fields {
        key.push('\u{1f}');
        if let Some(v) = spec.and_then(|s| s.get(f)) {
            key.push_str(&v.to_json().to_string());
        }
    }
    key
}

/// [`spec_json`] of the entry a plan builds.
fn spec_key(plan: &Plan, shared: &Shared<'_>) -> String {
    if let Some((tree, _)) = &plan.rendered {
        return spec_json(tree);
    }
    plan.target
        .and_then(|t| {
            let target = &shared.targets[t];
            let loaded = shared.loaded.get(target.defined_in.as_deref()?)?;
            let doc = loaded.documents.iter().find(|d| d.index == target.document)?;
            Some(doc.root.get("spec").map(|s| s.to_json().to_string()).unwrap_or_default())
        })
        .unwrap_or_default()
}

/// The ConfigMaps and Secrets of the tree, for `postBuild.substituteFrom`.
/// (A namespace a kustomization sets counts, as the cluster gets the object.)
pub(crate) fn substitution_sources(
    files: &[LoadedFile],
    layout: &Layout,
) -> crate::render::flux::Sources {
    // Found in parallel (every document of the tree is looked at), kept in tree order: the
    // first of a name wins.
    let found: Vec<Vec<_>> = files
        .par_iter()
        .enumerate()
        .map(|(index, file)| {
            let Some(path) = &file.source.path else { return Vec::new() };
            let assigned = layout.namespaces.get(index).and_then(Option::as_deref);
            let mut found = Vec::new();
            for doc in &file.documents {
                let text = |p: &[&str]| doc.root.at(p).and_then(Node::as_str).unwrap_or("");
                let kind = text(&["kind"]);
                if text(&["apiVersion"]) != "v1" || !(kind == "ConfigMap" || kind == "Secret") {
                    continue;
                }
                let written = text(&["metadata", "namespace"]);
                let key = (
                    assigned.unwrap_or(written).to_string(),
                    kind.to_string(),
                    text(&["metadata", "name"]).to_string(),
                );
                found.push((key, (path.clone(), doc.index)));
            }
            found
        })
        .collect();
    let mut sources = crate::render::flux::Sources::new();
    for (key, at) in found.into_iter().flatten() {
        sources.entry(key).or_insert(at);
    }
    sources
}

/// The directory a unit's build may read: the repository holding it (the nearest directory
/// above with `.git`, within or above the linted root that holds it), else that linted root.
fn build_root(dir: &Path, shared: &Shared<'_>) -> Option<PathBuf> {
    let (_, root, _) = shared
        .build_roots
        .iter()
        .filter(|(linted, _, _)| dir.starts_with(linted))
        .max_by_key(|(linted, _, _)| linted.as_os_str().len())?;
    Some(root.clone())
}

/// Runs `job` on the pool with deep stacks (here, when there is none).
fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, job: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(job),
        None => job(),
    }
}

/// Runs `op` on this thread with a scope whose jobs run on `pool` (the global pool without
/// one).
fn in_place_scope<'s, R>(
    pool: Option<&rayon::ThreadPool>,
    op: impl FnOnce(&rayon::Scope<'s>) -> R,
) -> R {
    match pool {
        Some(pool) => pool.in_place_scope(op),
        None => rayon::in_place_scope(op),
    }
}

/// Builds plans in parallel, each a job of its own: a run of builds taken as one job would
/// leave the other threads idle at the end while one thread finishes it (builds take from well
/// under a millisecond to a hundred, far more than a job costs).
fn build_plans<'s>(plans: &[Arc<Plan>], shared: &'s Shared<'_>) -> Vec<Outcome<'s>> {
    plans.par_iter().with_max_len(1).map(|p| build(p, shared)).collect()
}

fn build<'s>(plan: &Plan, shared: &'s Shared<'_>) -> Outcome<'s> {
    let resolved = shared
        .build_roots
        .iter()
        .find(|(_, root, _)| *root == plan.root)
        .map_or(plan.root.as_path(), |(_, _, resolved)| resolved.as_path());
    let disk = Disk::with_loaded((&plan.root, resolved), &shared.loaded, shared.limits);
    let inside = |p: &Path| Path::new("/").join(p.strip_prefix(&plan.root).unwrap_or(p));
    let dir = inside(&plan.dir);
    let made = crate::panic::catch(|| {
        if let Some(release) = &plan.release {
            return build_release(&disk, release, shared, &inside);
        }
        if plan.chart {
            let files: Vec<PathBuf> = plan.value_set.iter().map(|f| inside(f)).collect();
            return crate::render::helm::build::build(&disk, &dir, &files).map(Made::Trees);
        }
        let synthetic = plan.synthetic.as_ref().map(|(_, t)| &**t);
        let Some(target) = plan.target.map(|t| &shared.targets[t]).or(synthetic) else {
            let restrictor = if shared.kustomize.files_anywhere {
                crate::render::kustomize::Restrictor::None
            } else {
                crate::render::kustomize::Restrictor::RootOnly
            };
            let input = crate::render::order::Order::Input;
            return crate::render::kustomize::build_ordered(&disk, &dir, &input, restrictor)
                .map(Made::Trees);
        };
        let entry = if let Some((tree, reads)) = &plan.rendered {
            // The rendering build's files first, so that the tree's numbers hold.
            disk.adopt(reads);
            tree.shortened()
        } else {
            let file = target.defined_in.as_deref().map(inside).unwrap_or_default();
            let definition = disk.definition(&file, target.document)?;
            match &target.params {
                Some(params) => super::appset::instantiate(&definition, params),
                None => definition,
            }
        };
        if target.flux {
            crate::render::flux::build(&disk, &entry, &dir, &shared.sources).map(Made::Trees)
        } else {
            crate::render::argo::build(&disk, &entry, &dir, shared.argo).map(Made::Trees)
        }
    })
    .unwrap_or_else(|message| {
        Err(BuildError {
            file: crate::load::discover::display_path(&plan.dir, &plan.root),
            line: None,
            message: crate::panic::internal_error("building it", &message),
        })
    })?;
    let (reads, deleted) = disk.into_parts();
    let (built, entries) = match made {
        Made::Trees(objects) => {
            let entries = objects
                .iter()
                .filter(|t| {
                    let text = |k| t.get(k).and_then(Tree::as_str).unwrap_or("");
                    deploys_more(plan, text("apiVersion"), text("kind"))
                })
                .cloned()
                .collect();
            let built = objects
                .into_iter()
                .map(|t| {
                    if as_written(&t, &reads, shared.files) {
                        Built::written(&t)
                    } else {
                        Built::new(t)
                    }
                })
                .collect();
            (built, entries)
        }
        Made::Placed(objects) => {
            let entries = objects
                .iter()
                .filter(|p| {
                    let text = |k| p.node.get(k).and_then(Node::as_str).unwrap_or("");
                    deploys_more(plan, text("apiVersion"), text("kind"))
                })
                .map(Placed::to_tree)
                .collect();
            let built = objects
                .into_iter()
                .map(|p| {
                    // Loaded as written only in a file a build reads as it is: checked on
                    // the tree then (never so far: a chart's objects are in its templates).
                    if reads.get(p.file() as usize).is_some_and(|r| r.loaded.is_some()) {
                        let tree = p.to_tree();
                        if as_written(&tree, &reads, shared.files) {
                            return Built::written(&tree);
                        }
                    }
                    Built::placed(p)
                })
                .collect();
            (built, entries)
        }
    };
    Ok((built, entries, reads, deleted))
}

/// What a build made: trees, or (a HelmRelease's chart) objects placed without them.
enum Made<'s> {
    Trees(Vec<Tree<'s>>),
    Placed(Vec<Placed>),
}

/// Whether an object a build made deploys more (and is planned as a unit): a Flux
/// Kustomization, an Argo CD Application, a HelmRelease, or a release's GitRepository. What a
/// chart nothing deploys renders deploys nothing more here, but for the Argo CD Applications of
/// an app of apps.
fn deploys_more(plan: &Plan, api: &str, kind: &str) -> bool {
    (!plan.chart || argo_application(api, kind))
        && (matches!(kind, "Kustomization" | "Application")
            || super::releases::is_release(api, kind)
            || (plan.release.is_some() && kind == "GitRepository"))
}

/// Renders a HelmRelease's chart with the values helm-controller would pass.
fn build_release<'s>(
    disk: &Disk<'s>,
    release: &Release,
    shared: &Shared<'_>,
    inside: &dyn Fn(&Path) -> PathBuf,
) -> std::result::Result<Made<'s>, BuildError> {
    use super::releases::ChartAt;
    use crate::render::helm::release;
    let tree = match &release.definition {
        ReleaseDef::Rendered(tree, reads) => {
            disk.adopt(reads);
            tree.shortened()
        }
        ReleaseDef::Written(path, document) => disk.definition(&inside(path), *document)?,
        ReleaseDef::Argo(path, document, source) => {
            let app = disk.definition(&inside(path), *document)?;
            return build_argo_chart(disk, &app, *source, &release.chart, shared.run)
                .map(Made::Trees);
        }
    };
    let fail = |message: String| BuildError {
        file: disk.shown(tree.file).trim_start_matches('/').to_string(),
        line: Some(chart_span(&tree).start().line),
        message,
    };
    let mut origins = crate::render::helm::build::ValueOrigins::default();
    let (chart, dir, chart_values) = match &release.chart {
        ChartAt::Tree(dir, source_root) => {
            // Errors name the chart as the build does (from the root of the build).
            let shown = inside(dir).display().to_string();
            let chart = crate::render::helm::chart::load_kept(dir, shared.run).map_err(|m| {
                fail(m.replace(&dir.display().to_string(), shown.trim_start_matches('/')))
            })?;
            release::chart_defaults(disk, &inside(dir), &mut origins);
            (chart, inside(dir), release::values_files(disk, &tree, &inside(source_root))?)
        }
        ChartAt::Cache(archive) => {
            let chart =
                crate::render::helm::chart::load_kept(archive, shared.run).map_err(&fail)?;
            let values = release::values_files(disk, &tree, Path::new("/"))?;
            (chart, archive.clone(), values)
        }
        ChartAt::Missing(why) => return Err(fail(format!("{NOT_HERE}{why}"))),
    };
    let values = release::values(disk, &tree, &shared.sources, (chart_values, &mut origins))?;
    let kube = release::DEFAULT_KUBE_VERSION;
    release::build(disk, &tree, (chart, &dir), (values, &origins), kube).map(Made::Placed)
}

/// Renders an Argo CD Application's chart of a chart repository, from the chart cache.
fn build_argo_chart<'s>(
    disk: &Disk<'s>,
    app: &Tree<'s>,
    source: super::releases::AppSource,
    chart: &super::releases::ChartAt,
    run: u64,
) -> std::result::Result<Vec<Tree<'s>>, BuildError> {
    let sources = match app.at(&["spec", "sources"]).map(|s| &s.value) {
        Some(crate::render::tree::TValue::Seq(items)) => items.as_slice(),
        _ => &[],
    };
    let refs: std::collections::BTreeMap<String, PathBuf> = sources
        .iter()
        .filter_map(|s| s.get("ref").and_then(Tree::as_str))
        .map(|r| (r.to_string(), PathBuf::from("/")))
        .collect();
    let node = match source {
        super::releases::AppSource::Of(i) => sources.get(i),
        super::releases::AppSource::Single => app.at(&["spec", "source"]),
    };
    let node = node.cloned().unwrap_or_else(|| Tree::map(app.file, app.span));
    let fail = |message: String| BuildError {
        file: disk.shown(app.file).trim_start_matches('/').to_string(),
        line: Some(node.get("chart").map_or(app.span, |c| c.span).start().line),
        message,
    };
    match chart {
        super::releases::ChartAt::Cache(archive) => {
            let loaded = crate::render::helm::chart::load_kept(archive, run).map_err(&fail)?;
            let chart = (archive.as_path(), Some(loaded));
            crate::render::helm::argo::build_chart(disk, (app, &node), chart, &refs)
        }
        super::releases::ChartAt::Missing(why) => Err(fail(format!("{NOT_HERE}{why}"))),
        super::releases::ChartAt::Tree(..) => {
            Err(fail("a chart repository's chart cannot be a directory of the tree".into()))
        }
    }
}

/// Whether a built object is exactly a document of a file the loader read: every field from
/// that file, nothing changed (a Flux Kustomization's plain directory, a base no overlay
/// touches). The inventory then takes the loaded document instead of a copy.
fn as_written(t: &Tree<'_>, reads: &[Read], files: &[LoadedFile]) -> bool {
    let Some(file) = reads.get(t.file as usize).and_then(|r| r.loaded).and_then(|i| files.get(i))
    else {
        return false;
    };
    // Documents are in the order of their positions: the one that starts where the object does.
    let at = file.documents.partition_point(|d| d.root.span.start() < t.span.start());
    file.documents.get(at).is_some_and(|d| d.root.span == t.span && t.is_node(&d.root))
}

#[cfg(test)]
mod tests {
    use super::first_directory;

    /// Only a path of two segments or more that does not climb has a first directory it cannot
    /// be there without.
    #[test]
    fn a_path_has_a_first_directory_only_when_it_needs_one() {
        let first = |rel| first_directory(rel).and_then(std::ffi::OsStr::to_str);
        assert_eq!(first("tenants/team/apps/staging"), Some("tenants"));
        assert_eq!(first("tenants//team/./apps"), Some("tenants"));
        assert_eq!(first("tenants/"), None);
        assert_eq!(first("staging"), None);
        assert_eq!(first(""), None);
        assert_eq!(first("."), None);
        assert_eq!(first("/clusters/staging"), None);
        assert_eq!(first("../tenants/team"), None);
        assert_eq!(first("tenants/../team/apps"), None);
        assert_eq!(first("tenants/team/.."), None);
    }
}
