//! Lists each backend's migrations for `src/sql/migrations.rs`. A migration whose SQL is the
//! same on both databases is one file in `migrations/shared/`; one whose SQL differs has a file
//! in each of `migrations/sqlite/` and `migrations/postgres/`. Every version exists on both
//! backends, once. The files are embedded as they are (`include_str!`): sqlx keeps each applied
//! file's SHA-384 and refuses to migrate a database if a file it applied changed by one byte.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// `<version>_<description>.sql` → (version, description as sqlx writes it: `_` → space).
fn migration_files(dir: &Path) -> BTreeMap<i64, (String, PathBuf)> {
    let mut files = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else { return files };
    for entry in entries {
        let path = entry.expect("readable migrations directory").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let Some(stem) = name.strip_suffix(".sql") else { continue };
        let (version, description) =
            stem.split_once('_').unwrap_or_else(|| panic!("migration {name}: expected <version>_<description>.sql"));
        let version: i64 = version.parse().unwrap_or_else(|_| panic!("migration {name}: version is not a number"));
        if files.insert(version, (description.replace('_', " "), path.clone())).is_some() {
            panic!("two migrations numbered {version} in {}", dir.display());
        }
    }
    files
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    println!("cargo:rerun-if-changed=migrations");
    let shared = migration_files(&root.join("shared"));
    let sqlite = migration_files(&root.join("sqlite"));
    let postgres = migration_files(&root.join("postgres"));
    for version in sqlite.keys().chain(postgres.keys()) {
        assert!(!shared.contains_key(version), "migration {version} is in shared/ and in a backend's directory");
        assert!(
            sqlite.contains_key(version) && postgres.contains_key(version),
            "migration {version} differs by backend but is missing for one of them"
        );
    }
    let mut out = String::new();
    for (name, own) in [("SQLITE", &sqlite), ("POSTGRES", &postgres)] {
        let mut all = shared.clone();
        all.extend(own.iter().map(|(v, f)| (*v, f.clone())));
        writeln!(out, "/// (version, description, SQL), in version order.").unwrap();
        writeln!(out, "pub(super) const {name}: &[(i64, &str, &str)] = &[").unwrap();
        for (version, (description, path)) in all {
            writeln!(out, "    ({version}, {description:?}, include_str!({:?})),", path.display().to_string()).unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    fs::write(PathBuf::from(env::var("OUT_DIR").unwrap()).join("migrations.rs"), out).unwrap();
}
