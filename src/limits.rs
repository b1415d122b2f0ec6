//! Bounds on what hostile or runaway input may cost. Every limit has a key, used both by
//! `--limit KEY=VALUE` and by `limits.KEY` in `.mtk-lint.yaml`, and every error that a limit
//! causes names the file and says how to raise it.

/// Bounds applied while reading and evaluating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read (or standard input), in bytes. A document is bounded by its file.
    pub max_file_size: u64,
    /// Deepest nesting of sequences and mappings in one document.
    pub max_depth: usize,
    /// Most nodes that aliases may copy into one document (billion-laughs guard).
    pub max_alias_nodes: usize,
    /// Most documents in one file.
    pub max_documents: usize,
    /// Longest line, in bytes.
    pub max_line_length: usize,
    /// Most steps (nodes visited) one JMESPath evaluation may take.
    pub jmespath_steps: usize,
    /// Largest compiled size of a regular expression a policy builds, in bytes.
    pub regex_size: usize,
    /// Most steps (nodes evaluated, comprehension iterations included) of one CEL expression.
    pub cel_steps: usize,
    /// Most JMESPath and CEL steps of a whole run, all evaluations together: a policy that stays
    /// within the per-evaluation budgets on each of 100,000 objects still ends in bounded time.
    pub eval_steps_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 16 * 1024 * 1024,
            max_depth: 256,
            max_alias_nodes: 1_000_000,
            max_documents: 100_000,
            max_line_length: 1024 * 1024,
            jmespath_steps: 5_000_000,
            regex_size: 1024 * 1024,
            cel_steps: 1_000_000,
            eval_steps_total: 2_000_000_000,
        }
    }
}

/// Highest value of the depth limit. Loading a document and dropping it take the same stack
/// whatever its depth, but the passes that follow recurse once per level: its JSON for
/// policies, Kyverno patterns and variables, CEL values, typed reads of configs, policies and
/// tests (`load::de`), and dropping what they build. At 1,024 levels they stay within a quarter
/// of a worker thread's 2 MiB stack (release build; the debug build overflows past 1,500).
pub const MAX_DEPTH: usize = 1024;

/// One limit: its key and what it bounds (for `--help`, errors and the README).
pub struct LimitKey {
    pub key: &'static str,
    pub what: &'static str,
}

/// Every limit, in the order the README lists them.
pub const KEYS: &[LimitKey] = &[
    LimitKey { key: "file-size", what: "bytes in one file (or standard input)" },
    LimitKey { key: "depth", what: "nesting of sequences and mappings in one document" },
    LimitKey { key: "alias-nodes", what: "nodes that aliases may copy into one document" },
    LimitKey { key: "documents", what: "documents in one file" },
    LimitKey { key: "line-length", what: "bytes in one line" },
    LimitKey { key: "jmespath-steps", what: "steps of one JMESPath evaluation" },
    LimitKey { key: "regex-size", what: "compiled size of one regular expression, in bytes" },
    LimitKey { key: "cel-steps", what: "steps of one CEL expression evaluation" },
    LimitKey {
        key: "eval-steps-total",
        what: "JMESPath and CEL steps of a whole run, all evaluations together",
    },
];

impl Limits {
    /// Sets one limit from its key and a value: a count, or a size with an optional `K`,
    /// `M` or `G` suffix (powers of 1,024; `KiB`, `MiB` and `GiB` also work).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let n = parse_size(value).ok_or_else(|| {
            format!(
                "invalid value `{value}` for limit `{key}`: expected a number, like 1000 or 16M"
            )
        })?;
        let as_usize = || usize::try_from(n).map_err(|_| format!("limit `{key}` is too large"));
        match key {
            "file-size" => self.max_file_size = n,
            "depth" => {
                let depth = as_usize()?;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "limit `depth` cannot be raised above {MAX_DEPTH}: checks of a \
                         document recurse once per level of nesting"
                    ));
                }
                self.max_depth = depth;
            }
            "alias-nodes" => self.max_alias_nodes = as_usize()?,
            "documents" => self.max_documents = as_usize()?,
            "line-length" => self.max_line_length = as_usize()?,
            "jmespath-steps" => self.jmespath_steps = as_usize()?,
            "regex-size" => self.regex_size = as_usize()?,
            "cel-steps" => self.cel_steps = as_usize()?,
            "eval-steps-total" => self.eval_steps_total = n,
            _ => {
                let keys: Vec<&str> = KEYS.iter().map(|k| k.key).collect();
                return Err(format!("unknown limit `{key}` (known: {})", keys.join(", ")));
            }
        }
        Ok(())
    }

    /// Applies `KEY=VALUE` settings in order.
    pub fn apply<'a>(&mut self, settings: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
        for setting in settings {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| format!("invalid limit `{setting}`: expected KEY=VALUE"))?;
            self.set(key.trim(), value.trim())?;
        }
        Ok(())
    }
}

/// Checks one `--limit KEY=VALUE` argument (a clap value parser).
pub fn parse_setting(setting: &str) -> Result<String, String> {
    Limits::default().apply([setting])?;
    Ok(setting.to_string())
}

thread_local! {
    /// JMESPath and CEL steps evaluations on this thread took since the last [`take_spent`].
    static SPENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts the steps an evaluation took towards the run's total (`eval-steps-total`).
pub fn spend(steps: usize) {
    SPENT.set(SPENT.get().saturating_add(steps as u64));
}

/// The steps evaluations on this thread took since the last call.
#[must_use = "the steps are forgotten once taken"]
pub fn take_spent() -> u64 {
    SPENT.replace(0)
}

/// How an error caused by a limit says how to raise it.
#[must_use]
pub fn hint(key: &str) -> String {
    format!("raise it with --limit {key}=N or `limits: {{{key}: N}}` in .mtk-lint.yaml")
}

fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim().replace('_', "");
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &value[digits.len()..];
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_set_by_key_with_units() {
        let mut limits = Limits::default();
        limits
            .apply(["file-size=32M", "depth = 512", "documents=1_000", "regex-size=2KiB"])
            .unwrap();
        assert_eq!(limits.max_file_size, 32 << 20);
        assert_eq!(limits.max_depth, 512);
        assert_eq!(limits.max_documents, 1000);
        assert_eq!(limits.regex_size, 2048);
        assert!(limits.apply(["nope=1"]).unwrap_err().contains("unknown limit `nope`"));
        assert!(limits.apply(["depth"]).unwrap_err().contains("expected KEY=VALUE"));
        assert!(limits.apply(["depth=lots"]).unwrap_err().contains("invalid value `lots`"));
        assert!(limits.apply(["depth=5T"]).is_err());
        assert!(limits.apply(["depth=1024"]).is_ok());
        assert!(limits.apply(["depth=1025"]).unwrap_err().contains("cannot be raised above 1024"));
        assert!(limits.apply(["file-size=99999999999G"]).is_err(), "overflow is an error");
    }

    #[test]
    fn every_key_can_be_set() {
        for k in KEYS {
            let mut limits = Limits::default();
            limits.set(k.key, "7").unwrap();
            assert_ne!(limits, Limits::default(), "{}", k.key);
        }
    }
}
