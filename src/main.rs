//! The binary: all behaviour lives in the library; this only turns `cli::run` into an exit code.

// Parsing and evaluation allocate many small nodes from several threads; mimalloc measurably
// beats the system allocator there (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(mtk_lint::cli::run())
}
