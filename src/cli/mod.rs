//! The command line: arguments (clap) → options → run → exit code.

mod args;
mod progress;
mod render_chart;
mod render_cmd;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::Parser;

use crate::harness::render;
use crate::load::{Input, Limits};
use crate::report::{self, Style};
use crate::CheckOptions;
pub use args::{Cli, ColorChoice, Command, FailOn};

/// Runs the program with the process arguments; returns the exit code (0, 1 or 2).
#[must_use]
pub fn run() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with code 0; usage errors to stderr with code 2.
            let _ = err.print();
            return u8::try_from(err.exit_code()).unwrap_or(2);
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return fatal(&format!("cannot read the current directory: {e}")),
    };
    let check = match cli.command {
        Some(Command::Check(args)) => args,
        Some(Command::Test(args)) => return run_tests(&args, &cwd),
        Some(Command::Render(args)) => return render_cmd::run(&args, &cwd),
        Some(Command::Rules { format }) => {
            return catalog(|w, rules| report::catalog::write_rules(rules, format, w))
        }
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            return to_stdout(|w| {
                clap_complete::generate(shell, &mut cmd, "mtk-lint", w);
                Ok(())
            });
        }
        Some(Command::Man { dir }) => return man(dir.as_deref()),
        Some(Command::Explain { rule }) => {
            return catalog(|w, rules| match rules.iter().find(|m| m.is_named(&rule)) {
                Some(meta) => w.write_all(meta.docs.as_bytes()),
                None => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no rule `{rule}` (see `mtk-lint rules`)"),
                )),
            });
        }
        None => cli.check,
    };
    let options = CheckOptions {
        inputs: inputs(&check.paths),
        config: check.config.clone(),
        excludes: check.exclude.clone(),
        limits: Limits::default(),
        limit_settings: check
            .max_file_size
            .map(|n| format!("file-size={n}"))
            .into_iter()
            .chain(check.limits.iter().cloned())
            .collect(),
        policies: check.policies.clone(),
        no_tree_policies: check.no_tree_policies,
        no_admission: check.no_admission,
        follow_links: check.follow_links,
        chart_cache: check.chart_cache.clone(),
        shard: check.shard,
        select: check.select.clone(),
        // Only a JUnit report lists every object (tens of thousands on a fleet).
        no_object_list: destinations(&check)
            .is_ok_and(|d| !d.iter().any(|(f, _)| *f == report::Format::Junit)),
    };
    if check.parse_only {
        return parse_only(&options, &cwd);
    }
    let ci = std::env::var("CI").ok();
    let outcome = if progress::wanted(check.quiet, io::stderr().is_terminal(), ci.as_deref()) {
        let bar = progress::Bar::new();
        let outcome = crate::check_with(&options, &cwd, &bar);
        bar.clear();
        outcome
    } else {
        crate::check(&options, &cwd)
    };
    let mut outcome = outcome;
    let changed = adopt(&check, &mut outcome, &cwd);
    outcome.summary.errors = outcome.problems.len();
    let code = outcome.exit_code(check.fail_on.threshold());

    let report_started = std::time::Instant::now();
    let written = write_report(&check, &outcome, changed.as_ref(), &cwd);
    if check.stats {
        let mut stats = outcome.stats.clone();
        stats.stages.push(("report", report_started.elapsed()));
        let _ = io::stderr().write_all(stats.render(&outcome).as_bytes());
    }
    // The process ends here: freeing the findings and sources would only cost time.
    std::mem::forget(outcome);
    match written {
        Ok(()) => code,
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => fatal(&e.to_string()),
        // A closed pipe (`mtk-lint . | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => fatal(&format!("cannot write the report: {e}")),
    }
}

/// `--write-baseline`, `--baseline` and `--changed-from` on the finished run; gives the files
/// the change touched when the annotations should put them first (`--changed-from`, else
/// `GITHUB_BASE_REF` inside GitHub Actions when `--format github` is written).
fn adopt(
    check: &args::CheckArgs,
    outcome: &mut crate::Outcome,
    cwd: &std::path::Path,
) -> Option<crate::adopt::changed::Changed> {
    use crate::adopt::{baseline, changed::Changed};
    use crate::error::Problem;
    if let Some(path) = &check.write_baseline {
        if let Err(e) = std::fs::write(path, baseline::write(&outcome.findings)) {
            let display = path.display().to_string();
            outcome.problems.push(Problem::new(
                display,
                None,
                format!("cannot write the baseline: {e}"),
            ));
        }
    }
    if let Some(path) = &check.baseline {
        baseline::apply_file(outcome, path, check.shard.is_none());
    }
    if let Some(reference) = &check.changed_from {
        return match Changed::since(reference, cwd) {
            Ok(changed) => {
                changed.filter(outcome);
                Some(changed)
            }
            Err(e) => {
                let message = format!("--changed-from {reference}: {e}; every finding is reported");
                outcome.problems.push(Problem::new("", None, message));
                None
            }
        };
    }
    let base = std::env::var("GITHUB_BASE_REF").ok().filter(|b| !b.is_empty())?;
    if !check.format.contains(&report::Format::Github) {
        return None;
    }
    match Changed::since(&format!("origin/{base}"), cwd) {
        Ok(changed) => Some(changed),
        Err(e) => {
            outcome.warnings.push(format!(
                "annotations not ordered by the pull request's files (origin/{base}): {e}"
            ));
            None
        }
    }
}

/// Where each report goes: (format, file or stdout).
type Destinations = Vec<(report::Format, Option<std::path::PathBuf>)>;

/// Resolves `--format` and `--output` into destinations; at most one goes to stdout.
fn destinations(check: &args::CheckArgs) -> Result<Destinations, String> {
    use clap::ValueEnum;
    let mut formats: Destinations = check.format.iter().map(|f| (*f, None)).collect();
    if formats.is_empty() {
        formats.push((report::Format::Human, None));
    }
    let mut plain_used = false;
    for value in &check.output {
        let named = value
            .split_once('=')
            .and_then(|(f, file)| Some((report::Format::from_str(f, true).ok()?, file)));
        match named {
            Some((format, file)) => {
                match formats.iter_mut().find(|(f, to)| *f == format && to.is_none()) {
                    Some(slot) => slot.1 = Some(file.into()),
                    None => formats.push((format, Some(file.into()))),
                }
            }
            None if plain_used => {
                return Err(format!("--output {value}: only one --output may omit its FORMAT="))
            }
            None => {
                plain_used = true;
                formats[0].1 = Some(value.into());
            }
        }
    }
    if formats.iter().filter(|(_, to)| to.is_none()).count() > 1 {
        return Err("only one report can go to stdout: give the others --output FORMAT=FILE".into());
    }
    Ok(formats)
}

fn write_report(
    check: &args::CheckArgs,
    outcome: &crate::Outcome,
    changed: Option<&crate::adopt::changed::Changed>,
    cwd: &std::path::Path,
) -> io::Result<()> {
    let formats =
        destinations(check).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    let changed = changed.map(|c| {
        let files = outcome.findings.iter().map(|f| f.source.display.as_str());
        c.of(files.chain(outcome.problems.iter().map(|p| p.file.as_str())))
    });
    let links = report::Links {
        root_uri: Some(format!("file://{}/", crate::report::uri_path(&cwd.to_string_lossy()))),
        web_base: github_blob_base(),
        changed,
        sarif_category: check
            .shard
            .map(|s| format!("mtk-lint/shard-{}-of-{}", s.index + 1, s.count)),
    };
    for (format, to) in formats {
        let color = to.is_none()
            && use_color(check.color, io::stdout().is_terminal(), std::env::var_os("NO_COLOR"));
        let style = Style {
            color,
            show_suppressed: check.show_suppressed,
            quiet: check.quiet,
            statistics: check.statistics,
            max_annotations: check.max_annotations,
        };
        emit(to.as_deref(), |w| report::write(format, outcome, style, &links, w))?;
    }
    Ok(())
}

/// `https://github.com/org/repo/blob/<sha>` inside GitHub Actions, for links in summaries.
fn github_blob_base() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some(format!(
        "{}/{}/blob/{}",
        var("GITHUB_SERVER_URL")?,
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_SHA")?
    ))
}

/// Writes through a buffer to FILE, or to stdout.
pub(super) fn emit(
    output: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(path) = output {
        let mut w = io::BufWriter::new(std::fs::File::create(path)?);
        write(&mut w)?;
        return w.flush();
    }
    let mut w = io::BufWriter::new(io::stdout().lock());
    write(&mut w)?;
    w.flush()
}

/// Runs a catalogue command over the built-in rules.
fn catalog(
    write: impl FnOnce(&mut dyn Write, &[&crate::engine::RuleMeta]) -> io::Result<()>,
) -> u8 {
    let rules = match crate::engine::builtin::all() {
        Ok(r) => r,
        Err(e) => return fatal(&format!("internal error: {e}")),
    };
    let metas: Vec<&crate::engine::RuleMeta> = rules.iter().map(|r| r.meta()).collect();
    to_stdout(|w| write(w, &metas))
}

/// Writes to stdout: 0 when written (or when the reader closed the pipe), else 2.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> u8 {
    match emit(None, write) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => fatal(&e.to_string()),
    }
}

/// The benchmark floor (`--parse-only`): counts on stdout; exit 2 when a file cannot be parsed.
fn parse_only(options: &CheckOptions, cwd: &std::path::Path) -> u8 {
    let load = crate::load::LoadOptions {
        inputs: options.inputs.clone(),
        limits: options.limits,
        ..crate::load::LoadOptions::default()
    };
    let c = crate::load::floor::parse_only(&load, cwd);
    let line = format!(
        "files {} bytes {} documents {} errors {}\n",
        c.files, c.bytes, c.documents, c.errors
    );
    match to_stdout(|w| w.write_all(line.as_bytes())) {
        0 if c.errors > 0 => 2,
        code => code,
    }
}

/// The man page of `mtk-lint` on stdout, or every command's page written into `dir`.
fn man(dir: Option<&std::path::Path>) -> u8 {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else { return to_stdout(|w| clap_mangen::Man::new(cmd).render(w)) };
    match std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir)) {
        Ok(()) => 0,
        Err(e) => fatal(&format!("cannot write man pages to {}: {e}", dir.display())),
    }
}

fn run_tests(args: &args::TestArgs, cwd: &std::path::Path) -> u8 {
    let options = crate::harness::TestOptions {
        paths: args.paths.clone(),
        file_name: args.file_name.clone(),
        strict: args.strict,
        update: args.update,
        ignore_lines: args.ignore_lines,
        allow_outside: args.allow_outside,
        limits: {
            let mut limits = Limits::default();
            // Each setting was checked when the arguments were parsed.
            let _ = limits.apply(args.limits.iter().map(String::as_str));
            limits
        },
    };
    let outcome = crate::harness::run(&options, cwd);
    let table = render::TableOptions { detailed: args.detailed_results, fail_only: args.fail_only };
    let write = |w: &mut dyn Write| -> io::Result<()> {
        if args.conformance {
            let (all, validate_only) = crate::harness::conformance(&outcome);
            let all_label = "all suites";
            let validate_label = "non-CEL validate-only ClusterPolicy suites";
            for (label, a) in [(all_label, all), (validate_label, validate_only)] {
                writeln!(w, "{label}: {}", a.summary())?;
            }
            writeln!(w, "by policy kind:")?;
            for (kind, a) in crate::harness::conformance_by_kind(&outcome) {
                writeln!(w, "  {kind}: {}", a.summary())?;
            }
            return Ok(());
        }
        render::write(args.format, &outcome, table, w)
    };
    let written = emit(args.output.as_deref(), write);
    match written {
        Ok(()) => outcome.exit_code(),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => outcome.exit_code(),
        Err(e) => fatal(&format!("cannot write the report: {e}")),
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to a non-empty value.
fn use_color(choice: ColorChoice, terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

fn inputs(paths: &[PathBuf]) -> Vec<Input> {
    if paths.is_empty() {
        return vec![Input::Path(PathBuf::from("."))];
    }
    paths
        .iter()
        .map(|p| if p.as_os_str() == "-" { Input::Stdin } else { Input::Path(p.clone()) })
        .collect()
}

pub(super) fn fatal(message: &str) -> u8 {
    let _ = writeln!(io::stderr(), "mtk-lint: {message}");
    2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_terminal_and_no_color() {
        assert!(use_color(ColorChoice::Auto, true, None));
        assert!(use_color(ColorChoice::Auto, true, Some("".into())));
        assert!(!use_color(ColorChoice::Auto, true, Some("1".into())));
        assert!(!use_color(ColorChoice::Auto, false, None));
        assert!(use_color(ColorChoice::Always, false, Some("1".into())));
        assert!(!use_color(ColorChoice::Never, true, None));
    }
}
