//! The binary: all behaviour lives in the library; this only turns `cli::run` into an exit code.

// Parsing and evaluation allocate many small nodes from several threads; mimalloc measurably
// beats the system allocator there (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The library contains panics per file, rule and test suite; this catches the rest.
    let code = mtk_lint::panic::catch(mtk_lint::cli::run).unwrap_or_else(|message| {
        let message = mtk_lint::panic::internal_error("running", &message);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("mtk-lint: {message}\n").as_bytes(),
        );
        2
    });
    std::process::ExitCode::from(code)
}
