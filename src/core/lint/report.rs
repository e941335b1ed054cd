//! The lint's findings as a person, a script, GitHub code scanning (SARIF 2.1.0) or a GitHub Actions log reads them (SPEC §8 "Output"); text in, text out.

use serde_json::{Value, json};

use super::rules::ALL;
use super::{Finding, Lint, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

impl Format {
    pub const NAMES: [&str; 4] = ["text", "json", "sarif", "github"];

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "github" => Format::Github,
            _ => return None,
        })
    }
}

/// The whole report, ending in a newline.
pub fn render(lint: &Lint, format: Format, tool_version: &str) -> String {
    match format {
        Format::Text => text(lint),
        Format::Json => format!("{:#}\n", json_report(lint)),
        Format::Sarif => format!("{:#}\n", sarif(lint, tool_version)),
        Format::Github => github(lint),
    }
}

fn counts(lint: &Lint) -> (usize, usize, usize, usize) {
    let allowed = lint.findings.iter().filter(|f| f.allowed.is_some()).count();
    let info = lint
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Info && f.allowed.is_none())
        .count();
    (lint.errors(), lint.warnings(), info, allowed)
}

/// The summary line: what was found, and whether the database was asked.
pub fn summary(lint: &Lint) -> String {
    let (e, w, i, a) = counts(lint);
    let basis = if lint.live {
        "severity from the live database"
    } else {
        "no database: static severity"
    };
    format!("{e} error(s), {w} warning(s), {i} info, {a} allowed ({basis})")
}

fn text(lint: &Lint) -> String {
    let mut out = String::new();
    for f in &lint.findings {
        let level = match &f.allowed {
            Some(_) => format!("allowed {}", f.severity.as_str()),
            None => f.severity.as_str().to_string(),
        };
        out.push_str(&format!(
            "{}:{}:{}: {level}[{}]: {}\n",
            f.file, f.line, f.column, f.rule, f.message
        ));
        if !f.rewrite.is_empty() && f.allowed.is_none() {
            out.push_str(&format!("  = rewrite: {}\n", f.rewrite));
        }
        if let Some(why) = &f.allowed {
            out.push_str(&format!("  = allowed: {why}\n"));
        }
    }
    out.push_str(&summary(lint));
    out.push('\n');
    out
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "rule": f.rule,
        "severity": f.severity.as_str(),
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "table": f.table,
        "size": f.size,
        "message": f.message,
        "rewrite": f.rewrite,
        "allowed": f.allowed,
    })
}

/// `{"live", "summary": {errors, warnings, info, allowed}, "findings": [...]}`; the README
/// documents the shape.
pub fn json_report(lint: &Lint) -> Value {
    let (e, w, i, a) = counts(lint);
    json!({
        "live": lint.live,
        "summary": {"errors": e, "warnings": w, "info": i, "allowed": a},
        "findings": lint.findings.iter().map(finding_json).collect::<Vec<_>>(),
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn sarif(lint: &Lint, tool_version: &str) -> Value {
    let mut rules: Vec<Value> = ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": {"text": r.summary},
                "defaultConfiguration": {"level": sarif_level(r.severity)},
            })
        })
        .collect();
    for (id, text) in [
        (
            super::allow::DIRECTIVE,
            "a malformed schemagate:allow directive",
        ),
        (super::allow::UNUSED, "an allow that matched no finding"),
    ] {
        rules.push(json!({"id": id, "shortDescription": {"text": text}}));
    }
    let results: Vec<Value> = lint
        .findings
        .iter()
        .map(|f| {
            let mut message = f.message.clone();
            if !f.rewrite.is_empty() {
                message.push_str(&format!("\nRewrite: {}", f.rewrite));
            }
            let mut r = json!({
                "ruleId": f.rule,
                "level": sarif_level(f.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }],
            });
            if let Some(why) = &f.allowed {
                r["suppressions"] = json!([{"kind": "inSource", "justification": why}]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "schemagate",
                "version": tool_version,
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// GitHub's workflow-command escaping: the message escapes `%`, CR and LF; a property also
/// `:` and `,`.
fn escape(s: &str, property: bool) -> String {
    let mut out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

fn github(lint: &Lint) -> String {
    let mut out = String::new();
    for f in &lint.findings {
        let (cmd, title) = match (&f.allowed, f.severity) {
            (Some(_), _) => ("notice", format!("{} (allowed)", f.rule)),
            (None, Severity::Error) => ("error", f.rule.to_string()),
            (None, Severity::Warning) => ("warning", f.rule.to_string()),
            (None, Severity::Info) => ("notice", f.rule.to_string()),
        };
        let mut body = f.message.clone();
        match &f.allowed {
            Some(why) => body.push_str(&format!("\nAllowed: {why}")),
            None if !f.rewrite.is_empty() => body.push_str(&format!("\nRewrite: {}", f.rewrite)),
            None => {}
        }
        out.push_str(&format!(
            "::{cmd} file={},line={},col={},title={}::{}\n",
            escape(&f.file, true),
            f.line,
            f.column,
            escape(&title, true),
            escape(&body, false)
        ));
    }
    out.push_str(&summary(lint));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one() -> Lint {
        Lint {
            live: true,
            findings: vec![Finding {
                rule: "lock-index-not-concurrent",
                severity: Severity::Error,
                file: "sql/V2__idx.sql".into(),
                line: 3,
                column: 1,
                table: Some("orders".into()),
                size: Some("300 000 rows, 22 MB".into()),
                message: "CREATE INDEX takes SHARE on orders (300 000 rows, 22 MB): 100%".into(),
                rewrite: "use CONCURRENTLY".into(),
                allowed: None,
            }],
        }
    }

    #[test]
    fn text_is_file_line_col_level_rule_then_the_rewrite() {
        let t = render(&one(), Format::Text, "0");
        assert!(
            t.starts_with("sql/V2__idx.sql:3:1: error[lock-index-not-concurrent]: CREATE INDEX")
        );
        assert!(t.contains("\n  = rewrite: use CONCURRENTLY\n"));
        assert!(t.ends_with(
            "1 error(s), 0 warning(s), 0 info, 0 allowed (severity from the live database)\n"
        ));
    }

    #[test]
    fn github_annotations_escape() {
        let g = render(&one(), Format::Github, "0");
        assert!(
            g.starts_with(
                "::error file=sql/V2__idx.sql,line=3,col=1,title=lock-index-not-concurrent::"
            ),
            "{g}"
        );
        assert!(g.contains("100%25%0ARewrite: use CONCURRENTLY"), "{g}");
    }

    #[test]
    fn sarif_has_rules_results_and_suppressions() {
        let mut l = one();
        l.findings[0].allowed = Some("tiny".into());
        let v: Value = serde_json::from_str(&render(&l, Format::Sarif, "1.2.3")).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 26);
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(
            run["results"][0]["suppressions"][0]["justification"],
            "tiny"
        );
    }

    #[test]
    fn json_counts() {
        let v: Value = serde_json::from_str(&render(&one(), Format::Json, "0")).unwrap();
        assert_eq!(v["summary"]["errors"], 1);
        assert_eq!(v["findings"][0]["size"], "300 000 rows, 22 MB");
    }
}
