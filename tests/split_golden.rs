//! Golden files for the statement splitter: each `testdata/split/NAME.sql` beside the
//! `NAME.sql.golden` it must render to. Run with `UPDATE_GOLDEN=1` to rewrite the golden files,
//! then review the diff by eye before committing it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use schemagate::core::split::{non_transactional_reason, split};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/split");

/// `\r` is drawn as `␍` so that CRLF input shows up in the golden file and survives editors.
fn visible(text: &str) -> String {
    text.replace('\r', "␍")
}

fn render(sql: &str) -> String {
    let statements = match split(sql) {
        Ok(statements) => statements,
        Err(err) => return format!("-- error: {err}\n"),
    };
    let mut out = String::new();
    for (i, stmt) in statements.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let text = stmt.text(sql);
        writeln!(out, "-- statement {} (line {})", i + 1, stmt.line).unwrap();
        writeln!(out, "{}", visible(text)).unwrap();
        if let Some(label) = non_transactional_reason(text) {
            writeln!(out, "-- non-transactional: {label}").unwrap();
        }
        if let Some(data) = stmt.copy_data_text(sql) {
            out.push_str("-- copy data\n");
            out.push_str(&visible(data));
        }
    }
    out
}

fn cases() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("read {DIR}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    paths.sort();
    paths
}

/// The first differing line, with a few lines of context from both sides.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let show = |lines: &[&str], sign: char| {
        lines
            .iter()
            .skip(at)
            .take(5)
            .map(|l| format!("{sign} {l}\n"))
            .collect::<String>()
    };
    format!(
        "first difference at line {}:\n{}{}",
        at + 1,
        show(&e, '-'),
        show(&a, '+')
    )
}

fn golden_path(sql_path: &Path) -> PathBuf {
    let mut name = sql_path.as_os_str().to_owned();
    name.push(".golden");
    PathBuf::from(name)
}

#[test]
fn split_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let cases = cases();
    assert!(
        cases.len() >= 15,
        "expected at least 15 golden cases in {DIR}"
    );
    let mut failures = Vec::new();
    for sql_path in cases {
        let sql = fs::read_to_string(&sql_path).unwrap();
        let actual = render(&sql);
        let golden = golden_path(&sql_path);
        if update {
            fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}\n{}\n--- actual output ---\n{actual}",
                golden.display(),
                first_difference(&expected, &actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ (run with UPDATE_GOLDEN=1 to rewrite, then review the diff):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The CRLF case is only a test if the file really holds CRLF after checkout.
#[test]
fn crlf_case_has_crlf_line_ends() {
    let sql = fs::read_to_string(format!("{DIR}/crlf.sql")).unwrap();
    assert!(
        sql.contains("\r\n"),
        "testdata/split/crlf.sql lost its CRLF line ends (check .gitattributes)"
    );
}
