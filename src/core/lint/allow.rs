//! Allowing a finding (SPEC §8): `schemagate:allow` for one statement, `schemagate:allow-file` for a script, `squawk-ignore` through squawk's rule names, and `SCHEMAGATE_LINT_ALLOW` from outside; every allow must match something.

use super::rules::{self, squawk_equivalents};
use super::{Finding, Input, Severity};
use crate::core::directives::{directive_text, parse_allow};
use crate::core::hint::closest;
use crate::core::lexer::{TokenKind, tokens};
use crate::core::script::Version;
use crate::core::split::{Statement, line_col};

/// The pseudo-rule a directive mistake is reported under.
pub const DIRECTIVE: &str = "lint-directive";
/// The pseudo-rule an allow that matched nothing is reported under.
pub const UNUSED: &str = "lint-unused-allow";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Statement(usize),
    File,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    column: usize,
    scope: Scope,
    /// Rule id → used yet.
    rules: Vec<(&'static str, bool)>,
    reason: String,
    via: String,
}

/// A directive mistake or an unused allow, before it has a file.
#[derive(Debug)]
pub struct Problem {
    rule: &'static str,
    severity: Severity,
    line: usize,
    column: usize,
    message: String,
    rewrite: String,
}

impl Problem {
    pub fn finding(self, file: &str) -> Finding {
        Finding {
            rule: self.rule,
            severity: self.severity,
            file: file.to_string(),
            line: self.line,
            column: self.column,
            table: None,
            size: None,
            message: self.message,
            rewrite: self.rewrite,
            allowed: None,
        }
    }
}

/// The allows of one script.
#[derive(Debug, Default)]
pub struct Allows {
    entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

/// Which statement a comment at `offset` speaks for: the next one, unless it trails the
/// previous one on that statement's last line; `None` for a comment after the last
/// statement.
fn bound_statement(sql: &str, statements: &[Statement], offset: usize) -> Option<usize> {
    let next = statements.partition_point(|s| s.end <= offset);
    if next > 0 {
        let prev = &statements[next - 1];
        if line_col(sql, prev.end).0 == line_col(sql, offset).0 {
            return Some(next - 1);
        }
    }
    (next < statements.len()).then_some(next)
}

impl Allows {
    pub fn read(sql: &str, statements: &[Statement]) -> Allows {
        let mut out = Allows::default();
        if !sql.contains("schemagate:") && !sql.contains("squawk-ignore") {
            return out;
        }
        for tok in tokens(sql) {
            if !matches!(tok.kind, TokenKind::LineComment | TokenKind::BlockComment) {
                continue;
            }
            let text = tok.text(sql);
            let (line, column) = line_col(sql, tok.start);
            let stmt = bound_statement(sql, statements, tok.start);
            if let Some(d) = directive_text(text) {
                let d = d.trim_end();
                let (name, args) = match d.find(char::is_whitespace) {
                    Some(i) => (&d[..i], d[i..].trim()),
                    None => (d, ""),
                };
                let scope = match name {
                    "allow" => match stmt {
                        Some(k) => Scope::Statement(k),
                        None => {
                            out.problems.push(Problem {
                                rule: UNUSED,
                                severity: Severity::Warning,
                                line,
                                column,
                                message: "`schemagate:allow` has no statement after it".into(),
                                rewrite:
                                    "Put it on the lines right before the statement it allows."
                                        .into(),
                            });
                            continue;
                        }
                    },
                    "allow-file" => Scope::File,
                    _ => continue,
                };
                match parse_allow(args) {
                    Ok((ids, reason)) => {
                        let mut rules = Vec::new();
                        for id in ids {
                            match rules::by_id(id) {
                                Some(r) => rules.push((r.id, false)),
                                None => out.problems.push(unknown_rule(line, column, id)),
                            }
                        }
                        out.entries.push(Entry {
                            line,
                            column,
                            scope,
                            rules,
                            reason: reason.to_string(),
                            via: format!("schemagate:{name}, line {line}"),
                        });
                    }
                    Err(why) => out.problems.push(Problem {
                        rule: DIRECTIVE,
                        severity: Severity::Error,
                        line,
                        column,
                        message: format!("`schemagate:{name}` {why}"),
                        rewrite: String::new(),
                    }),
                }
                continue;
            }
            let body = text
                .strip_prefix("--")
                .or_else(|| {
                    text.strip_prefix("/*")
                        .map(|b| b.strip_suffix("*/").unwrap_or(b))
                })
                .unwrap_or_default()
                .trim();
            let (file, names) = if let Some(n) = body.strip_prefix("squawk-ignore-file") {
                (true, n)
            } else if let Some(n) = body.strip_prefix("squawk-ignore") {
                (false, n)
            } else {
                continue;
            };
            let scope = match (file, stmt) {
                (true, _) => Scope::File,
                (false, Some(k)) => Scope::Statement(k),
                (false, None) => continue,
            };
            let mut rules: Vec<(&'static str, bool)> = Vec::new();
            for name in names
                .split([',', ' '])
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                for id in squawk_equivalents(name) {
                    if !rules.iter().any(|(r, _)| *r == id) {
                        rules.push((id, false));
                    }
                }
            }
            if !rules.is_empty() {
                out.entries.push(Entry {
                    line,
                    column,
                    scope,
                    rules,
                    reason: format!("squawk-ignore {}", names.trim()),
                    via: format!("squawk-ignore, line {line}"),
                });
            }
        }
        out
    }

    /// The reason `rule` is allowed for statement `stmt`, marking the allow used.
    pub fn take(&mut self, rule: &str, stmt: usize) -> Option<String> {
        for e in &mut self.entries {
            if e.scope != Scope::Statement(stmt) && e.scope != Scope::File {
                continue;
            }
            if let Some(r) = e.rules.iter_mut().find(|(id, _)| *id == rule) {
                r.1 = true;
                return Some(format!("{} ({})", e.reason, e.via));
            }
        }
        None
    }

    /// Each rule of an allow that matched nothing.
    pub fn unused(&self) -> impl Iterator<Item = Problem> + '_ {
        self.entries.iter().flat_map(|e| {
            e.rules
                .iter()
                .filter(|(_, used)| !used)
                .map(|(id, _)| Problem {
                    rule: UNUSED,
                    severity: Severity::Warning,
                    line: e.line,
                    column: e.column,
                    message: format!(
                        "`{}` allows {id}, but {} has no {id} finding",
                        e.via,
                        match e.scope {
                            Scope::File => "the script",
                            Scope::Statement(_) => "the statement after it",
                        }
                    ),
                    rewrite: "Remove the allow, or move it to the statement it is meant for."
                        .into(),
                })
        })
    }
}

fn unknown_rule(line: usize, column: usize, id: &str) -> Problem {
    let hint = match closest(id, rules::ALL.iter().map(|r| r.id)) {
        Some(n) => format!("did you mean `{n}`?"),
        None => "`schemagate lint --rules` lists them".into(),
    };
    Problem {
        rule: DIRECTIVE,
        severity: Severity::Error,
        line,
        column,
        message: format!("`schemagate:allow` names unknown rule `{id}`; {hint}"),
        rewrite: String::new(),
    }
}

/// One `<version>:<rule>[,<rule>…]` of `SCHEMAGATE_LINT_ALLOW`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvAllow {
    pub version: Version,
    pub rules: Vec<String>,
    /// As the user wrote it, for the report.
    pub text: String,
}

impl EnvAllow {
    /// Reported only when the script it names is linted: for a script applied here too it
    /// has nothing to match, and that is no mistake.
    pub fn unused_finding(&self, inputs: &[Input<'_>]) -> Option<Finding> {
        let input = inputs
            .iter()
            .find(|i| i.linted && i.version == Some(&self.version))?;
        Some(Finding {
            rule: UNUSED,
            severity: Severity::Warning,
            file: input.display.to_string(),
            line: 1,
            column: 1,
            table: None,
            size: None,
            message: format!(
                "SCHEMAGATE_LINT_ALLOW={} allows findings that {} does not have",
                self.text, input.display
            ),
            rewrite: "Remove it from SCHEMAGATE_LINT_ALLOW.".into(),
            allowed: None,
        })
    }
}

/// `7.1:lock-index-not-concurrent,rewrite-column-type;8:compat-rename` (`;` or spaces
/// between entries).
pub fn parse_env(value: &str) -> Result<Vec<EnvAllow>, String> {
    let mut out = Vec::new();
    for part in value
        .split([';', ' ', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((v, ids)) = part.split_once(':') else {
            return Err(format!(
                "`{part}` is not <version>:<rule>[,<rule>…], e.g. 7.1:lock-index-not-concurrent"
            ));
        };
        let version = Version::parse(v.trim_start_matches(['V', 'v']))
            .map_err(|e| format!("`{part}`: {e}"))?;
        let mut rules = Vec::new();
        for id in ids.split(',').map(str::trim) {
            if rules::by_id(id).is_none() {
                let hint = closest(id, rules::ALL.iter().map(|r| r.id))
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(format!("`{part}` names unknown rule `{id}`{hint}"));
            }
            rules.push(id.to_string());
        }
        out.push(EnvAllow {
            version,
            rules,
            text: part.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::split::split;

    fn allows(sql: &str) -> Allows {
        Allows::read(sql, &split(sql).unwrap())
    }

    #[test]
    fn an_allow_binds_to_the_next_statement_only() {
        let sql = "CREATE TABLE a (id int);\n-- schemagate:allow lock-index-not-concurrent reason=\"empty\"\nCREATE INDEX i ON a (id);\nCREATE INDEX j ON a (id);\n";
        let mut a = allows(sql);
        assert!(a.problems.is_empty());
        assert!(a.take("lock-index-not-concurrent", 0).is_none());
        assert!(a.take("lock-index-not-concurrent", 2).is_none());
        let why = a.take("lock-index-not-concurrent", 1).unwrap();
        assert!(why.starts_with("empty (schemagate:allow, line 2)"), "{why}");
        assert_eq!(a.unused().count(), 0);
    }

    #[test]
    fn a_trailing_allow_speaks_for_its_own_line() {
        let sql = "CREATE INDEX i ON a (id); -- schemagate:allow lock-index-not-concurrent reason=\"tiny\"\nCREATE INDEX j ON a (id);\n";
        let mut a = allows(sql);
        assert!(a.take("lock-index-not-concurrent", 0).is_some());
        assert!(a.take("lock-index-not-concurrent", 1).is_none());
    }

    #[test]
    fn allow_file_covers_every_statement() {
        let sql = "-- schemagate:allow-file compat-destructive reason=\"retired\"\nDROP TABLE a;\nDROP TABLE b;\n";
        let mut a = allows(sql);
        assert!(a.take("compat-destructive", 0).is_some());
        assert!(a.take("compat-destructive", 1).is_some());
    }

    #[test]
    fn unknown_rules_are_errors_with_a_hint_and_unused_allows_warn() {
        let sql = "-- schemagate:allow lock-index-not-concurent reason=\"x\"\nCREATE INDEX i ON a (id);\n-- schemagate:allow compat-rename reason=\"y\"\nSELECT 1;\n";
        let a = allows(sql);
        assert_eq!(a.problems.len(), 1);
        assert!(
            a.problems[0]
                .message
                .contains("did you mean `lock-index-not-concurrent`")
        );
        let unused: Vec<Problem> = a.unused().collect();
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].line, 3);
    }

    #[test]
    fn directives_in_strings_and_bodies_are_not_directives() {
        let sql = "SELECT '-- schemagate:allow compat-rename reason=\"x\"';\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ -- squawk-ignore ban-drop-table\nSELECT 1 $$;\n";
        let a = allows(sql);
        assert!(a.entries.is_empty() && a.problems.is_empty());
    }

    #[test]
    fn squawk_ignore_maps_to_our_rules() {
        let sql = "-- squawk-ignore require-concurrent-index-creation, prefer-robust-stmts\nCREATE INDEX i ON a (id);\n";
        let mut a = allows(sql);
        let why = a.take("lock-index-not-concurrent", 0).unwrap();
        assert!(why.contains("squawk-ignore"), "{why}");
    }

    #[test]
    fn env_allows_parse_and_refuse_unknown_rules() {
        let a = parse_env("7.1:lock-index-not-concurrent,compat-rename; V8:rewrite-column-type")
            .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].version.as_str(), "7.1");
        assert_eq!(a[1].rules, vec!["rewrite-column-type"]);
        let e = parse_env("7:lock-index-not-concurent").unwrap_err();
        assert!(
            e.contains("did you mean `lock-index-not-concurrent`"),
            "{e}"
        );
        assert!(parse_env("lock-index-not-concurrent").is_err());
    }
}
