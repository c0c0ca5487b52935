//! Replays the fuzz inputs as ordinary tests: every seed under
//! `fuzz/seeds/<target>/` and every committed crash input under
//! `fuzz/regressions/<target>/`, through the very checks the fuzz targets run
//! (`fuzz/checks.rs`). Inputs under `fuzz/regressions/<target>/pending/` are
//! crashes whose fix has not landed yet: they are listed, not run; moving one up
//! a directory makes it a regression test.
//!
//! The differential targets (`checks::DIFFERENTIAL`: ours against the official
//! crates, which only the fuzz crate links) have their inputs replayed here
//! through the check of ours alone that reads the same layout; `fuzz/ci.sh`
//! replays them through the comparison itself.
//!
//! The runner reports every failing input, not just the first, and fails when
//! the input directories are missing or thin, so it can never pass vacuously.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::fs;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Each target must have at least this many seeds and regression inputs together.
const MIN_INPUTS_PER_TARGET: usize = 3;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The regular files directly in `dir`, sorted; none when it does not exist.
/// `README.md` files describe a directory and are not inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("reading a fuzz input directory").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_target_has_a_replay_check() {
    let mut on_disk: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut replayed: Vec<String> = checks::TARGETS
        .iter()
        .chain(checks::DIFFERENTIAL)
        .map(|t| t.0.to_owned())
        .collect();
    replayed.sort();
    assert_eq!(
        on_disk, replayed,
        "fuzz targets and fuzz/checks.rs TARGETS + DIFFERENTIAL differ"
    );
    assert!(
        fuzz_dir().join("regressions/README.md").is_file(),
        "fuzz/regressions/ (with its README.md) is missing"
    );
}

#[test]
fn seeds_and_committed_crash_inputs_pass_their_checks() {
    let fuzz = fuzz_dir();
    let mut failures = Vec::new();
    let mut thin = Vec::new();
    let mut ran = 0;
    for (target, check) in checks::TARGETS.iter().chain(checks::DIFFERENTIAL) {
        let seeds = inputs(&fuzz.join("seeds").join(target));
        let regressions = inputs(&fuzz.join("regressions").join(target));
        let count = seeds.len() + regressions.len();
        if seeds.is_empty() || count < MIN_INPUTS_PER_TARGET {
            thin.push(format!(
                "{target}: {} seeds, {} regressions",
                seeds.len(),
                regressions.len()
            ));
        }
        for path in seeds.iter().chain(&regressions) {
            let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = catch_unwind(AssertUnwindSafe(|| check(&data)));
            ran += 1;
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {message}", path.display()));
            }
        }
        for path in inputs(&fuzz.join("regressions").join(target).join("pending")) {
            // Straight to stderr, past the test harness's capture: a pending
            // crash should be seen on every run until it is fixed.
            let _ = writeln!(
                io::stderr(),
                "note: {target}: {} is a known failure whose fix is pending; not replayed (see fuzz/README.md)",
                path.display()
            );
        }
    }
    assert!(
        thin.is_empty(),
        "fewer than {MIN_INPUTS_PER_TARGET} inputs (or no seeds) for: {}",
        thin.join("; ")
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} fuzz inputs failed their checks:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
