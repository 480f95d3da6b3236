//! What `#[retry]` costs at compile time: a crate of 200 `#[retry]`
//! functions against the same 200 functions with hand-written retry loops.
//!
//! ```text
//! cargo run --release -p retry-benches --bin compile-cost
//! ```
//!
//! Both crates are generated under `target/compile-cost/` and share one
//! target directory, so dependencies (tokio, retry-runtime, the macro
//! crate) are built once, before timing. Each measurement touches the
//! crate's `lib.rs` and times `cargo build` of that crate alone (debug
//! profile), two ways:
//!
//! - a full build of the crate, without the incremental cache
//!   (`CARGO_INCREMENTAL=0`): what the crate costs to compile. The target,
//!   a ratio of at most 1.3, applies to this one.
//! - an incremental rebuild: the edit-compile loop. Incremental compilation
//!   reuses type checking and code generation but runs every macro again,
//!   so this one shows the proc macro's own cost (about half a millisecond
//!   per function in a debug build) against an unchanged crate.
//!
//! The median of nine builds per variant and mode is reported, the two
//! variants alternating.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const FUNCTIONS: usize = 200;
const RUNS: usize = 9;
const TARGET_RATIO: f64 = 1.3;

const COMMON: &str = r#"
use std::time::Duration;

#[derive(Debug, thiserror::Error, retry_runtime::Classify)]
pub enum Error {
    #[error("busy")]
    #[classify(transient)]
    Busy,
    #[error("invalid")]
    #[classify(permanent)]
    Invalid,
}

pub struct Client {
    pub failures: std::sync::atomic::AtomicU32,
}

impl Client {
    pub async fn call(&self, name: &str, attempt: u32) -> Result<u64, Error> {
        tokio::task::yield_now().await;
        if name.is_empty() {
            return Err(Error::Invalid);
        }
        if self.failures.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0 {
            return Err(Error::Busy);
        }
        Ok(u64::from(attempt))
    }
}

#[allow(dead_code)]
const _UNUSED: Duration = Duration::ZERO;
"#;

fn with_macro(index: usize) -> String {
    format!(
        r#"
#[retry_runtime::retry(max = 3, base = "250ms", attempt = attempt)]
pub async fn op_{index}(client: &Client, name: &str) -> Result<u64, Error> {{
    let value = client.call(name, attempt).await?;
    Ok(value + {index})
}}
"#
    )
}

fn by_hand(index: usize) -> String {
    format!(
        r"
pub async fn op_{index}(client: &Client, name: &str) -> Result<u64, Error> {{
    let mut attempt = 1u32;
    let mut delay = Duration::from_millis(250);
    loop {{
        let result: Result<u64, Error> = async {{
            let value = client.call(name, attempt).await?;
            Ok(value + {index})
        }}
        .await;
        match result {{
            Ok(value) => return Ok(value),
            Err(error) if attempt < 3 && retry_runtime::Classify::classify(&error) == retry_runtime::Class::Transient => {{
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
                attempt += 1;
            }}
            Err(error) => return Err(error),
        }}
    }}
}}
"
    )
}

fn generate(
    dir: &Path,
    name: &str,
    runtime: &Path,
    function: fn(usize) -> String,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
retry-runtime = {{ path = "{}" }}
thiserror = "2"
tokio = {{ version = "1", features = ["time", "rt"] }}

[workspace]
"#,
        runtime.display()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    let mut source = String::from(COMMON);
    for index in 0..FUNCTIONS {
        source.push_str(&function(index));
    }
    std::fs::write(dir.join("src/lib.rs"), source)
}

fn cargo_build(
    cargo: &str,
    dir: &Path,
    target: &Path,
    incremental: bool,
) -> std::io::Result<Duration> {
    let started = Instant::now();
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", if incremental { "1" } else { "0" })
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "cargo build failed in {}",
            dir.display()
        )));
    }
    Ok(started.elapsed())
}

fn touch(dir: &Path) -> std::io::Result<()> {
    let lib = dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib)?;
    std::fs::write(&lib, source)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("compile-cost: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> std::io::Result<bool> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()?;
    let work = root.join("target/compile-cost");
    let target = work.join("target");
    let runtime = root.join("retry-runtime");
    let variants = [
        ("with-macro", "#[retry]", with_macro as fn(usize) -> String),
        ("by-hand", "hand-written loops", by_hand),
    ];
    for (name, _, function) in variants {
        generate(
            &work.join(name),
            &format!("compile-cost-{name}"),
            &runtime,
            function,
        )?;
    }
    // Fetch (first run only) and build dependencies once per mode, untimed.
    for (name, _, _) in variants {
        let dir = work.join(name);
        let status = Command::new(&cargo)
            .args(["fetch", "--quiet"])
            .current_dir(&dir)
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other("cargo fetch failed"));
        }
        for incremental in [false, true] {
            cargo_build(&cargo, &dir, &target, incremental)?;
        }
    }
    let modes = [
        ("full build of the crate", false),
        ("incremental rebuild", true),
    ];
    let mut table = format!(
        "| {FUNCTIONS} functions, debug profile | #[retry] | hand-written loops | ratio |\n|---|---:|---:|---:|\n"
    );
    let mut full_ratio = f64::INFINITY;
    for (mode, incremental) in modes {
        // The variants alternate, so that drift in the machine's speed
        // (a shared VM) affects both alike.
        let mut samples = [Vec::new(), Vec::new()];
        for _ in 0..RUNS {
            for ((name, _, _), samples) in variants.iter().zip(&mut samples) {
                let dir = work.join(name);
                touch(&dir)?;
                samples.push(cargo_build(&cargo, &dir, &target, incremental)?);
            }
        }
        let mut medians = Vec::new();
        for ((_, label, _), samples) in variants.iter().zip(samples) {
            let all: Vec<String> = samples
                .iter()
                .map(|sample| format!("{:.2}", sample.as_secs_f64()))
                .collect();
            let median = median(samples);
            eprintln!(
                "{mode}, {label}: median {:.2}s ({} s)",
                median.as_secs_f64(),
                all.join(", ")
            );
            medians.push(median.as_secs_f64());
        }
        let ratio = medians[0] / medians[1];
        if !incremental {
            full_ratio = ratio;
        }
        let _ = writeln!(
            table,
            "| {mode} | {:.2} s | {:.2} s | {ratio:.2}x |",
            medians[0], medians[1]
        );
    }
    let _ = writeln!(table, "\nTarget: full build at most {TARGET_RATIO}x.");
    print!("{table}");
    Ok(full_ratio <= TARGET_RATIO)
}
