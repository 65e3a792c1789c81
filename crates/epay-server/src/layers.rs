//! The direction of dependencies between the crate's layers, checked on the source
//! (docs/architecture.md, "Layers"): services call the domain, the ports, `platform` and each
//! other, never a surface (`edge`: http, page, cabinet, openapi) or what drives services from
//! outside a request (`runtime`: start, delivery, workers, seed); no two services call each
//! other in a circle; `platform` and `wire` use nothing above them; the edge never uses the
//! runtime. Test code is left out: a test may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules a service must not use.
const ABOVE_SERVICES: [&str; 3] = ["edge", "runtime", "fuzzing"];

/// The crate's source folder.
fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code of a file before its `#[cfg(test)]` module, without comment lines; of a
/// directory, of all its files.
fn code_of(path: &Path) -> String {
    if path.is_dir() {
        let mut files: Vec<_> =
            std::fs::read_dir(path).expect("readable").map(|e| e.expect("an entry").path()).collect();
        files.sort();
        return files.iter().map(|f| code_of(f)).collect::<Vec<_>>().join("\n");
    }
    let text = std::fs::read_to_string(path).expect("a service file is readable");
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    // Comments may name anything (`the worker in crate::runtime::workers sends them`).
    code.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Each service module's code, by module name (`services/x.rs` or `services/x/`).
fn services() -> BTreeMap<String, String> {
    let dir = src().join("services");
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/services is readable") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_stem().expect("a file name").to_string_lossy().to_string();
        if name != "mod" && (path.is_dir() || path.extension().is_some_and(|e| e == "rs")) {
            found.insert(name, code_of(&path));
        }
    }
    found
}

/// The first path segments after `prefix` in `code`: `prefix::a::…`, `prefix::{a, b::c}`.
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            names.extend(group.split(',').map(|item| ident(item.trim())).filter(|n| !n.is_empty()));
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

#[test]
fn services_never_use_a_surface_or_an_adapter() {
    for (name, code) in services() {
        for used in named_after(&code, "crate::") {
            assert!(!ABOVE_SERVICES.contains(&used.as_str()), "services/{name}.rs uses crate::{used}");
        }
    }
}

#[test]
fn services_call_each_other_without_a_circle() {
    let services = services();
    let calls: BTreeMap<&str, BTreeSet<String>> = services
        .iter()
        .map(|(name, code)| {
            let mut used = named_after(code, "crate::services::");
            used.extend(named_after(code, "super::"));
            used.retain(|u| u != name && services.contains_key(u));
            (name.as_str(), used)
        })
        .collect();
    // Depth-first from every module; reaching a module already on the path is a circle.
    fn visit<'a>(
        at: &'a str,
        calls: &'a BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(start) = path.iter().position(|p| *p == at) {
            panic!("services call each other in a circle: {} -> {at}", path[start..].join(" -> "));
        }
        if !done.insert(at) {
            return;
        }
        path.push(at);
        for next in &calls[at] {
            visit(next, calls, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for name in calls.keys() {
        visit(name, &calls, &mut Vec::new(), &mut done);
    }
}

/// Services read the time from the `Clock` port only (`app.clock`, or a `now_ms` their caller
/// read from it), so a test's fixed clock and the sandbox's moved one rule them too.
#[test]
fn services_read_the_time_only_from_the_clock_port() {
    const WALL_CLOCKS: [&str; 5] = ["SystemTime", "Instant::now", "OffsetDateTime::now", "Utc::now", "Local::now"];
    for (name, code) in services() {
        for wall in WALL_CLOCKS {
            assert!(!code.contains(wall), "services/{name}.rs reads the time from {wall}, not app.clock");
        }
    }
}

/// What each lower layer may not use: `platform/` and `wire` (`wire.rs` and `wire/`) sit below
/// the services and use none of the layers above; the edge calls services, never the runtime
/// that drives them.
#[test]
fn lower_layers_never_use_upper_ones() {
    let rules: [(&str, &[&str]); 4] = [
        ("platform", &["app", "edge", "services", "runtime", "fuzzing"]),
        ("wire.rs", &["app", "edge", "services", "runtime", "fuzzing"]),
        ("wire", &["app", "edge", "services", "runtime", "fuzzing"]),
        ("edge", &["runtime", "fuzzing"]),
    ];
    for (layer, forbidden) in rules {
        let code = code_of(&src().join(layer));
        assert!(!code.is_empty(), "src/{layer} is read");
        for used in named_after(&code, "crate::") {
            assert!(!forbidden.contains(&used.as_str()), "src/{layer} uses crate::{used}");
        }
    }
}

/// The test above can fail: a lower layer's code that names an upper one is caught.
#[test]
fn a_lower_layer_naming_an_upper_one_is_seen() {
    let names = named_after("use crate::{runtime::seed, platform::clock};\nlet x = crate::edge::http::x;", "crate::");
    assert!(names.contains("runtime") && names.contains("edge") && names.contains("platform"));
}
