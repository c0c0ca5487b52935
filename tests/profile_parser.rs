//! The SDKs' shared profile-file vectors (`vectors/profile`, from crates.io
//! `aws-runtime` 1.10.2 `test-data/`), run through the public API.
//!
//! Owns: all 65 cases of `profile-parser-tests.json` (indexed by position; names
//! repeat) against `credentials::ini::ProfileSet` — parsed profiles and
//! `[sso-session]` sections, or the expected error substring — and all 9 cases of
//! `file-location-tests.json` against `credentials::profile::FileLocations` and
//! `selected_profile`, on both platforms whatever the host OS. Every failing case
//! is collected and reported together at the end.
//! Refuses: reading a vector file that `vectors/profile/SHA256SUMS` does not list.

#[path = "support/vector_files.rs"]
mod vector_files;

use std::collections::BTreeMap;

use mcp_sigv4::credentials::Env;
use mcp_sigv4::credentials::ini::{FileKind, ProfileSet};
use mcp_sigv4::credentials::profile::{FileLocations, Platform, selected_profile};
use serde_json::Value;

use vector_files::{Runner, VectorDir};

const OWN_FILES: &[&str] = &["README.md"];

/// Reads one JSON vector file and its `tests` array.
fn load_tests(file: &str, runner: &mut Runner) -> Vec<Value> {
    let dir = VectorDir::open("profile", OWN_FILES, runner);
    let Some(text) = dir.read_text(file) else {
        runner.fail(
            file,
            "load",
            "not listed in SHA256SUMS, missing or not UTF-8",
        );
        return Vec::new();
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => match v["tests"].as_array() {
            Some(tests) => tests.clone(),
            None => {
                runner.fail(file, "load", "expected a top-level \"tests\" array");
                Vec::new()
            }
        },
        Err(e) => {
            runner.fail(file, "load", format!("not JSON: {e}"));
            Vec::new()
        }
    }
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// `{name: {key: value}}` from the expected output; `None` when absent.
fn sections_of(v: Option<&Value>) -> Result<Option<Sections>, String> {
    let Some(v) = v else { return Ok(None) };
    let obj = v.as_object().ok_or("expected an object of sections")?;
    let mut out = Sections::new();
    for (name, props) in obj {
        let props = props
            .as_object()
            .ok_or_else(|| format!("section {name:?}: expected an object of properties"))?;
        let mut map = BTreeMap::new();
        for (k, val) in props {
            let val = val
                .as_str()
                .ok_or_else(|| format!("section {name:?} key {k:?}: expected a string"))?;
            map.insert(k.clone(), val.to_owned());
        }
        out.insert(name.clone(), map);
    }
    Ok(Some(out))
}

/// Differences between two section maps, one entry per section that differs.
fn diff_sections(expected: &Sections, actual: &Sections) -> String {
    let mut parts = Vec::new();
    for (name, e) in expected {
        match actual.get(name) {
            None => parts.push(format!("missing {name:?} (expected {e:?})")),
            Some(a) if a != e => parts.push(format!("{name:?}: expected {e:?}, found {a:?}")),
            Some(_) => {}
        }
    }
    for (name, a) in actual {
        if !expected.contains_key(name) {
            parts.push(format!("unexpected {name:?} = {a:?}"));
        }
    }
    parts.join("; ")
}

#[test]
fn profile_parser_cases() {
    let mut runner = Runner::new("profile-parser");
    let tests = load_tests("profile-parser-tests.json", &mut runner);
    let (mut parsed, mut errors) = (0usize, 0usize);
    for (i, t) in tests.iter().enumerate() {
        let name = t["name"].as_str().unwrap_or("<unnamed>");
        let case = format!("#{i} {name:?}");
        let input = &t["input"];
        let config = input["configFile"].as_str().unwrap_or("");
        let credentials = input["credentialsFile"].as_str().unwrap_or("");
        let result = ProfileSet::parse([
            (FileKind::Config, config),
            (FileKind::Credentials, credentials),
        ]);
        let output = &t["output"];

        if let Some(want) = output.get("errorContaining") {
            errors += 1;
            let want = want.as_str().unwrap_or_default();
            match result {
                Err(e) => runner.check(&case, "error", e.message.contains(want), || {
                    format!("expected an error containing {want:?}, found {:?} ({e})", e.message)
                }),
                Ok(set) => runner.fail(&case, "error", format!(
                    "expected an error containing {want:?}, found a successful parse: profiles {:?}",
                    set.profiles
                )),
            }
            continue;
        }

        parsed += 1;
        let Some(expected) = output.get("config") else {
            runner.fail(
                &case,
                "load",
                "output has neither \"config\" nor \"errorContaining\"",
            );
            continue;
        };
        let (profiles, sso) = match (
            sections_of(expected.get("profiles")),
            sections_of(expected.get("sso_sessions")),
        ) {
            (Ok(p), Ok(s)) => (p.unwrap_or_default(), s.unwrap_or_default()),
            (Err(e), _) | (_, Err(e)) => {
                runner.fail(
                    &case,
                    "load",
                    format!("cannot read the expected output: {e}"),
                );
                continue;
            }
        };
        let set = match result {
            Ok(set) => set,
            Err(e) => {
                runner.fail(
                    &case,
                    "profiles",
                    format!(
                        "expected a successful parse, found error {:?} ({e})",
                        e.message
                    ),
                );
                continue;
            }
        };
        runner.check(&case, "profiles", set.profiles == profiles, || {
            diff_sections(&profiles, &set.profiles)
        });
        // Absent in the expected output means there must be none.
        runner.check(&case, "sso_sessions", set.sso_sessions == sso, || {
            diff_sections(&sso, &set.sso_sessions)
        });
    }
    runner.check(
        "profile-parser-tests.json",
        "count",
        tests.len() == 65,
        || {
            format!(
                "expected 65 cases (aws-runtime 1.10.2), found {}",
                tests.len()
            )
        },
    );
    let summary = format!("{} cases ({parsed} parse, {errors} error)", tests.len());
    runner.finish(&summary);
}

#[test]
fn file_location_cases() {
    let mut runner = Runner::new("file-location");
    let tests = load_tests("file-location-tests.json", &mut runner);
    let mut profiles_checked = 0usize;
    for (i, t) in tests.iter().enumerate() {
        let name = t["name"].as_str().unwrap_or("<unnamed>");
        let case = format!("#{i} {name:?}");
        let platform = match t["platform"].as_str() {
            Some("windows") => Platform::Windows,
            Some("linux") => Platform::Unix,
            other => {
                runner.fail(
                    &case,
                    "load",
                    format!("expected platform \"linux\" or \"windows\", found {other:?}"),
                );
                continue;
            }
        };
        let Some(vars) = t["environment"].as_object() else {
            runner.fail(&case, "load", "expected an \"environment\" object");
            continue;
        };
        let env = Env::from_pairs(
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
        );
        // Both platforms are checked on every host: the rules are pure string work.
        let locations = FileLocations::resolve(&env, platform);
        for (stage, field, actual) in [
            ("config", "configLocation", &locations.config),
            ("credentials", "credentialsLocation", &locations.credentials),
        ] {
            match t[field].as_str() {
                Some(expected) => runner.check(&case, stage, actual == expected, || {
                    format!("expected {expected:?}, found {actual:?}")
                }),
                None => runner.fail(&case, "load", format!("expected a string {field:?}")),
            }
        }
        // As in aws-runtime's own harness, "profile" is checked when given (8 of 9).
        if let Some(expected) = t["profile"].as_str() {
            profiles_checked += 1;
            let actual = selected_profile(None, &env);
            runner.check(&case, "profile", actual == expected, || {
                format!("expected {expected:?}, found {actual:?}")
            });
        }
    }
    runner.check(
        "file-location-tests.json",
        "count",
        tests.len() == 9,
        || {
            format!(
                "expected 9 cases (aws-runtime 1.10.2), found {}",
                tests.len()
            )
        },
    );
    let summary = format!("{} cases, {profiles_checked} with a profile", tests.len());
    runner.finish(&summary);
}
