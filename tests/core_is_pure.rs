//! The core takes values and returns values: this fails if `src/core/` reaches for I/O.

const FORBIDDEN: &[&str] = &[
    "tokio",
    "std::fs",
    "std::env",
    "std::net",
    "std::process",
    "SystemTime",
    "Instant",
];

#[test]
fn core_modules_import_no_io() {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src/core"));
    let mut files = 0;
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Tests inside a module may read fixtures; the module's own code may not.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let lines = code
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with("//"));
            for (n, line) in lines {
                if let Some(word) = FORBIDDEN.iter().find(|w| line.contains(**w)) {
                    panic!(
                        "{}:{} uses {word}: keep I/O in the adapters",
                        path.display(),
                        n + 1
                    );
                }
            }
            files += 1;
        }
    }
    // The lint's rules live one per file under src/core/lint/rules/.
    assert!(files >= 40, "src/core moved?");
}
