//! `evchat-bench`: see `evchat::bench` and `evchat-bench --help`.

use clap::Parser;
use evchat::bench::{run, BenchArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    let report = run(&args);
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.json()).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("evchat-bench: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if report.failed() {
        eprintln!("evchat-bench: some runs FAILED; their figures are not reported");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
