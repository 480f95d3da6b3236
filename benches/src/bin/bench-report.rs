//! Turns the overhead benchmark's results into the Markdown tables of
//! `BENCHMARKS.md`: medians, ratios to the bare call and to backon, and
//! each approach's future size.
//!
//! ```text
//! cargo bench -p retry-benches --bench overhead
//! cargo run --release -p retry-benches --bin bench-report               # print
//! cargo run --release -p retry-benches --bin bench-report -- --write    # also update BENCHMARKS.md
//! ```
//!
//! It reads criterion's `benchmark.json` and `estimates.json` under
//! `target/criterion` (or `$CARGO_TARGET_DIR/criterion`), checks the
//! targets (success path at most 1.5x the bare call and 0.75x backon;
//! future no larger than backon's) and exits non-zero if one is missed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use retry_benches::overhead::{APPROACHES, future_sizes};
use serde_json::Value;

const GROUPS: &[(&str, &str)] = &[
    ("success", "(a) success on the first attempt"),
    (
        "two-failures-250ms",
        "(b) two transient failures, then success; 250 ms doubling, paused clock",
    ),
    (
        "two-failures-zero-delay",
        "(c) two transient failures, then success; zero delay",
    ),
];
const BEGIN: &str = "<!-- overhead:begin -->";
const END: &str = "<!-- overhead:end -->";

fn read(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Median nanoseconds by (group, approach).
fn medians(criterion: &Path) -> BTreeMap<(String, String), f64> {
    let mut medians = BTreeMap::new();
    let Ok(groups) = std::fs::read_dir(criterion) else {
        return medians;
    };
    for group in groups.flatten() {
        let Ok(benches) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for bench in benches.flatten() {
            let new = bench.path().join("new");
            let (Some(meta), Some(estimates)) = (
                read(&new.join("benchmark.json")),
                read(&new.join("estimates.json")),
            ) else {
                continue;
            };
            let (Some(group), Some(function), Some(median)) = (
                meta["group_id"].as_str(),
                meta["function_id"].as_str(),
                estimates["median"]["point_estimate"].as_f64(),
            ) else {
                continue;
            };
            medians.insert((group.to_owned(), function.to_owned()), median);
        }
    }
    medians
}

fn human(nanos: f64) -> String {
    if nanos >= 1_000_000.0 {
        format!("{:.2} ms", nanos / 1_000_000.0)
    } else if nanos >= 1_000.0 {
        format!("{:.2} µs", nanos / 1_000.0)
    } else {
        format!("{nanos:.2} ns")
    }
}

/// The Markdown tables, and the targets missed.
fn tables(medians: &BTreeMap<(String, String), f64>) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut missed = Vec::new();
    for (group, title) in GROUPS {
        let get = |approach: &str| {
            medians
                .get(&((*group).to_owned(), approach.to_owned()))
                .copied()
        };
        let (Some(bare), Some(backon)) = (get("bare call"), get("backon 1.6")) else {
            continue;
        };
        let _ = writeln!(out, "**{title}**\n");
        let _ = writeln!(out, "| approach | median | vs bare call | vs backon |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for approach in APPROACHES {
            let Some(median) = get(approach) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {approach} | {} | {:.2}x | {:.2}x |",
                human(median),
                median / bare,
                median / backon
            );
        }
        let _ = writeln!(out);
        if let ("success", Some(ours)) = (*group, get("#[retry]")) {
            if ours / bare > 1.5 {
                missed.push(format!(
                    "#[retry] success path is {:.2}x the bare call (target 1.5x)",
                    ours / bare
                ));
            }
            if ours / backon > 0.75 {
                missed.push(format!(
                    "#[retry] success path is {:.2}x backon (target 0.75x)",
                    ours / backon
                ));
            }
        }
    }

    let sizes = future_sizes();
    let _ = writeln!(
        out,
        "**Future sizes** (`size_of_val` of the unpolled future)\n"
    );
    let _ = writeln!(out, "| approach | bytes |");
    let _ = writeln!(out, "|---|---:|");
    for (approach, size) in &sizes {
        let _ = writeln!(out, "| {approach} | {size} |");
    }
    let size = |name: &str| {
        sizes
            .iter()
            .find(|(approach, _)| *approach == name)
            .map(|(_, size)| *size)
    };
    if let (Some(backon), Some(ours), Some(runtime)) = (
        size("backon 1.6"),
        size("#[retry]"),
        size("RetryPolicy::retry"),
    ) && (ours > backon || runtime > backon)
    {
        missed.push(format!(
            "futures: #[retry] {ours} B, RetryPolicy::retry {runtime} B, backon {backon} B"
        ));
    }
    (out, missed)
}

/// Replaces the text between the markers of `BENCHMARKS.md`.
fn write_section(path: &Path, tables: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    match (text.find(BEGIN), text.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            let updated = format!("{}{BEGIN}\n\n{tables}{}", &text[..begin], &text[end..]);
            std::fs::write(path, updated)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))
        }
        _ => Err(format!(
            "{} has no {BEGIN} ... {END} section",
            path.display()
        )),
    }
}

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let medians = medians(&target.join("criterion"));
    if medians.is_empty() {
        eprintln!(
            "no results under {}; run `cargo bench -p retry-benches --bench overhead` first",
            target.display()
        );
        return ExitCode::FAILURE;
    }
    let (out, missed) = tables(&medians);
    print!("{out}");
    if std::env::args().any(|arg| arg == "--write") {
        let path = root.join("BENCHMARKS.md");
        match write_section(&path, &out) {
            Ok(()) => eprintln!("updated {}", path.display()),
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        }
    }
    for miss in &missed {
        eprintln!("target missed: {miss}");
    }
    if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
