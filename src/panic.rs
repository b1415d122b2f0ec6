//! Containing bugs. A panic while reading one file, checking one object with one rule or
//! running one test suite must not take the rest of the run with it: [`catch`] turns it into
//! an error message that says where it happened, and the caller reports it against that file
//! or rule (exit code 2) while everything else is still reported.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many [`catch`] calls are running on this thread (panics inside are not printed).
    static CATCHING: Cell<usize> = const { Cell::new(0) };
    /// Where the last caught panic happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`; a panic becomes `Err` with its message and source location.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    CATCHING.set(CATCHING.get() + 1);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.set(CATCHING.get() - 1);
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        match LOCATION.take() {
            Some(at) => format!("{message} (at {at})"),
            None => message,
        }
    })
}

/// The message for a caught panic, as users see it.
#[must_use]
pub fn internal_error(what: &str, message: &str) -> String {
    format!(
        "internal error while {what}: {message}. This is a bug in mtk-lint; please report it \
         with the input that caused it."
    )
}

/// Keeps panics inside [`catch`] quiet (they are reported as errors), and prints every other
/// one as before.
fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.get() > 0 {
                let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.set(at);
            } else {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_with_their_location() {
        assert_eq!(catch(|| 7), Ok(7));
        let err = catch(|| -> u8 { panic!("boom {}", 42) }).unwrap_err();
        assert!(err.starts_with("boom 42 (at src/panic.rs:"), "{err}");
        let err = catch(|| -> u8 { panic!("static") }).unwrap_err();
        assert!(err.starts_with("static"), "{err}");
        // Nested: the inner panic is the inner catch's.
        let outer = catch(|| catch(|| -> u8 { panic!("inner") }).unwrap_err());
        assert!(outer.unwrap().starts_with("inner"));
    }
}
