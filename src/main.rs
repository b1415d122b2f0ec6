//! The binary: everything happens in [`mtk_lint::cli::run`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(mtk_lint::cli::run())
}
