//! Zero-downtime lint (SPEC §8): scripts, how schemagate will run them, and what the live catalog says, in; findings with their severity and safe rewrite, out.
//!
//! The engine reads every script's statements once, keeps a model of what the scripts
//! themselves create (so that an index on a table made earlier in the same run is not an
//! index on an "existing" table), runs each rule of [`rules::ALL`] over each linted script,
//! and then lets the data decide: a finding on a table that does not exist yet or is empty
//! is dropped, one on a small table is information, and the rule's severity stands for the
//! rest, or for every table when there is no database to ask.

pub mod allow;
pub mod facts;
pub mod parse;
pub mod report;
pub mod rules;
pub mod types;

use std::collections::HashMap;

use self::allow::{Allows, EnvAllow};
use self::facts::{Live, Size};
use self::parse::{Name, Stmt};
use self::rules::{Cx, Rule};
use super::directives::Phase;
use super::script::Version;
use super::split::{Statement, line_col};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One script as the runner will run it.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// As the user names the file (`sql/V3__x.sql`).
    pub display: &'a str,
    pub version: Option<&'a Version>,
    /// After placeholder replacement: what the server will see.
    pub sql: &'a str,
    pub statements: &'a [Statement],
    /// Whether the script runs in one transaction (SPEC §6).
    pub transactional: bool,
    pub phase: Phase,
    /// False for a script that only tells what exists (an applied script, when there is no
    /// database to ask): its statements feed the model, it gets no findings.
    pub linted: bool,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub small_rows: u64,
    pub small_bytes: u64,
    pub allows: Vec<EnvAllow>,
    /// The schema an unqualified name resolves to.
    pub default_schema: String,
    /// Whether the linted scripts run together (`migrate`'s pending set against a database):
    /// a table one of them creates does not exist yet for the next. Without a database each
    /// script is judged on its own, against everything before it existing.
    pub one_run: bool,
    /// What is left of the run's deadline, in seconds, for `ops-deadline-exceeded`.
    pub budget_secs: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            small_rows: 10_000,
            small_bytes: 64 << 20,
            allows: Vec::new(),
            default_schema: "public".into(),
            one_run: false,
            budget_secs: None,
        }
    }
}

/// What a finding is worth after the data and the allows have had their say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The table it is about, as SQL names it.
    pub table: Option<String>,
    /// Its live size (`300 000 rows, 22 MB`), when a database was asked.
    pub size: Option<String>,
    pub message: String,
    /// The safe way to do the same, as a recipe.
    pub rewrite: String,
    /// Why it does not count, when it does not: the directive's reason, or the phase.
    pub allowed: Option<String>,
}

impl Finding {
    /// Whether it fails the run: an error nobody allowed.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error && self.allowed.is_none()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Lint {
    pub findings: Vec<Finding>,
    /// Whether live facts were used.
    pub live: bool,
}

impl Lint {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.blocks()).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning && f.allowed.is_none())
            .count()
    }
}

/// Where a statement sits among all the inputs' statements, in run order.
pub type Pos = usize;

/// A column's types as the scripts set them, by position (`None`: a type not read).
type TypeHistory = Vec<(Pos, Option<types::TypeName>)>;

/// What the scripts themselves create, change and prove, by position.
#[derive(Debug, Default)]
pub struct Model {
    /// Table key → where it was created and the group (script or run) it belongs to.
    created: HashMap<String, (Pos, usize)>,
    indexes: HashMap<String, (Pos, usize, Name)>,
    /// (table key, column) → its type history.
    columns: HashMap<(String, String), TypeHistory>,
    /// (table key, column) → positions of a validated `CHECK (col IS NOT NULL)`.
    proven_not_null: HashMap<(String, String), Vec<Pos>>,
    /// (table key, constraint) → the column a `CHECK (col IS NOT NULL)` names, and where.
    checks: HashMap<(String, String), (String, Pos)>,
}

impl Model {
    fn key(name: &Name, default_schema: &str) -> String {
        format!(
            "{}.{}",
            name.schema.as_deref().unwrap_or(default_schema),
            name.name
        )
    }

    fn record(&mut self, stmt: &Stmt, pos: Pos, group: usize, schema: &str) {
        use parse::{Action, ConstraintKind};
        match stmt {
            Stmt::CreateTable { table, columns, .. } => {
                let key = Model::key(table, schema);
                self.created.insert(key.clone(), (pos, group));
                for c in columns {
                    self.columns
                        .entry((key.clone(), c.name.clone()))
                        .or_default()
                        .push((pos, c.ty.clone()));
                }
            }
            Stmt::CreateIndex {
                name: Some(name),
                table,
                ..
            } => {
                self.indexes
                    .insert(Model::key(name, schema), (pos, group, table.clone()));
            }
            Stmt::AlterTable { table, actions } => {
                let key = Model::key(table, schema);
                for a in actions {
                    match a {
                        Action::AddColumn(c) => self
                            .columns
                            .entry((key.clone(), c.name.clone()))
                            .or_default()
                            .push((pos, c.ty.clone())),
                        Action::AlterType { column, ty, .. } => self
                            .columns
                            .entry((key.clone(), column.clone()))
                            .or_default()
                            .push((pos, ty.clone())),
                        Action::AddConstraint {
                            name,
                            kind:
                                ConstraintKind::Check {
                                    not_null_of: Some(col),
                                },
                            not_valid,
                        } => {
                            if !not_valid {
                                self.proven_not_null
                                    .entry((key.clone(), col.clone()))
                                    .or_default()
                                    .push(pos);
                            }
                            if let Some(n) = name {
                                self.checks
                                    .insert((key.clone(), n.clone()), (col.clone(), pos));
                            }
                        }
                        Action::ValidateConstraint { name } => {
                            if let Some((col, _)) = self.checks.get(&(key.clone(), name.clone())) {
                                self.proven_not_null
                                    .entry((key.clone(), col.clone()))
                                    .or_default()
                                    .push(pos);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// A script's statements, read.
pub struct Parsed<'a> {
    pub input: &'a Input<'a>,
    pub stmts: Vec<Stmt>,
    /// The position of its first statement.
    pub first: Pos,
    pub group: usize,
}

/// Lints `inputs` (in run order) with the live facts, if any.
///
/// One script at a time: its statements are read into the model, then its rules run, then
/// its parse is dropped. Every question a rule asks of the model is about what came before
/// the statement it judges, so the later scripts' entries are never needed — and a
/// thousand pending scripts' parses are never held at once (they were a third of the peak
/// memory of `migrate` with 1000 pending).
pub fn lint(inputs: &[Input<'_>], live: Option<&Live>, opts: &Options) -> Lint {
    let mut model = Model::default();
    let mut pos = 0;
    let mut out = Lint {
        findings: Vec::new(),
        live: live.is_some(),
    };
    let mut env_used = vec![false; opts.allows.len()];
    for (i, input) in inputs.iter().enumerate() {
        let group = if !input.linted {
            usize::MAX
        } else if opts.one_run {
            0
        } else {
            i
        };
        let stmts: Vec<Stmt> = input
            .statements
            .iter()
            .map(|s| parse::parse(s.text(input.sql)))
            .collect();
        for (k, s) in stmts.iter().enumerate() {
            model.record(s, pos + k, group, &opts.default_schema);
        }
        let p = Parsed {
            input,
            stmts,
            first: pos,
            group,
        };
        pos += input.statements.len();
        if !input.linted {
            continue;
        }
        let cx = Cx {
            script: &p,
            model: &model,
            live,
            opts,
        };
        let mut allows = Allows::read(p.input.sql, p.input.statements);
        for problem in allows.problems.drain(..) {
            out.findings.push(problem.finding(p.input.display));
        }
        for rule in rules::ALL {
            for hit in (rule.check)(&cx) {
                if let Some(f) = judge(&cx, rule, hit, &mut allows, &mut env_used) {
                    out.findings.push(f);
                }
            }
        }
        for unused in allows.unused() {
            out.findings.push(unused.finding(p.input.display));
        }
    }
    for (a, used) in opts.allows.iter().zip(env_used) {
        if !used {
            out.findings.extend(a.unused_finding(inputs));
        }
    }
    out.findings
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}

/// What a rule's hit becomes once the data, the phase and the allows have been asked.
fn judge(
    cx: &Cx<'_>,
    rule: &Rule,
    hit: rules::Hit,
    allows: &mut Allows,
    env_used: &mut [bool],
) -> Option<Finding> {
    let input = cx.script.input;
    let at = cx.script.first + hit.stmt;
    let mut severity = hit.severity.unwrap_or(rule.severity);
    let mut size_text = None;
    if let Some(table) = hit.tables.first() {
        match cx.size(table, at) {
            Size::New | Size::Missing => return None,
            Size::Live { rows, bytes } => {
                size_text = Some(facts::describe(rows, bytes));
                if hit.sized.unwrap_or(rule.sized) {
                    if rows == 0 && bytes <= facts::EMPTY_BYTES {
                        return None;
                    }
                    if rows < cx.opts.small_rows && (bytes as u64) < cx.opts.small_bytes {
                        severity = Severity::Info;
                    }
                }
            }
            Size::Unknown => {}
        }
    }
    let stmt = &input.statements[hit.stmt];
    let (line, column) = line_col(input.sql, stmt.start);
    let mut allowed = None;
    if rule.phase && input.phase == Phase::Contract {
        allowed = Some("contract script: no old app version runs when it does (SPEC §11)".into());
    }
    if allowed.is_none() {
        allowed = allows.take(rule.id, hit.stmt);
    }
    if allowed.is_none() {
        if let Some(v) = input.version {
            if let Some(k) = cx
                .opts
                .allows
                .iter()
                .position(|a| &a.version == v && a.rules.iter().any(|r| r == rule.id))
            {
                env_used[k] = true;
                allowed = Some(format!("SCHEMAGATE_LINT_ALLOW={}", cx.opts.allows[k].text));
            }
        }
    }
    let size_part = size_text
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    Some(Finding {
        rule: rule.id,
        severity,
        file: input.display.to_string(),
        line,
        column,
        table: hit.tables.first().map(Name::sql),
        size: size_text,
        message: hit.message.replace("{size}", &size_part),
        rewrite: hit.rewrite,
        allowed,
    })
}

/// What the catalog adapter must look up for `inputs`: every relation, index, function and
/// type a linted statement names, and the data changes to ask the planner about.
#[derive(Clone, Debug, Default)]
pub struct Wanted {
    pub tables: Vec<Name>,
    pub indexes: Vec<Name>,
    pub functions: Vec<String>,
    pub types: Vec<Name>,
    /// (script display, statement index, statement text).
    pub changes: Vec<(String, usize, String)>,
}

pub fn wanted(inputs: &[Input<'_>]) -> Wanted {
    use parse::{Action, ConstraintKind, Dropped};
    let mut w = Wanted::default();
    // A table the linted scripts create needs no lookup (its findings are dropped as new),
    // and a pending set of a thousand new tables must not cost a thousand-name query.
    let mut seen: std::collections::HashSet<Name> = std::collections::HashSet::new();
    let mut table = |w: &mut Wanted, n: &Name| {
        if seen.insert(n.clone()) {
            w.tables.push(n.clone());
        }
    };
    let mut created: std::collections::HashSet<Name> = std::collections::HashSet::new();
    for input in inputs.iter().filter(|i| i.linted) {
        for (k, st) in input.statements.iter().enumerate() {
            let text = st.text(input.sql);
            let stmt = parse::parse(text);
            if let Stmt::CreateTable { table: t, .. } = &stmt {
                created.insert(t.clone());
            }
            match stmt {
                Stmt::CreateIndex { name, table: t, .. } => {
                    table(&mut w, &t);
                    w.indexes.extend(name);
                }
                Stmt::DropIndex { names, .. } => w.indexes.extend(names),
                Stmt::Reindex {
                    kind: "INDEX",
                    name: Some(n),
                    ..
                } => w.indexes.push(n),
                Stmt::Reindex { name: Some(n), .. } => table(&mut w, &n),
                Stmt::AlterTable { table: t, actions } => {
                    table(&mut w, &t);
                    for a in actions {
                        match a {
                            Action::AddColumn(c) => {
                                if let Some(r) = &c.references {
                                    table(&mut w, r);
                                }
                                if let Some(d) = &c.default {
                                    w.functions.extend(d.calls.iter().cloned());
                                }
                                if let Some(ty) = &c.ty {
                                    w.types.push(Name {
                                        schema: ty.schema.clone(),
                                        name: ty.name.clone(),
                                    });
                                }
                            }
                            Action::AddConstraint {
                                kind:
                                    ConstraintKind::ForeignKey {
                                        references: Some(r),
                                    },
                                ..
                            } => table(&mut w, &r),
                            Action::AttachPartition { partition }
                            | Action::DetachPartition { partition, .. } => {
                                table(&mut w, &partition)
                            }
                            _ => {}
                        }
                    }
                }
                Stmt::Drop {
                    what:
                        Dropped::Table | Dropped::View | Dropped::MaterializedView | Dropped::Sequence,
                    names,
                    ..
                } => names.iter().for_each(|n| table(&mut w, n)),
                Stmt::Truncate { tables, .. }
                | Stmt::Vacuum { tables, .. }
                | Stmt::Lock { tables, .. } => tables.iter().for_each(|n| table(&mut w, n)),
                Stmt::Change { table: t, .. } | Stmt::InsertSelect { table: t } => {
                    table(&mut w, &t);
                    // A backfill runs in batches, and a new table has no rows to estimate.
                    if input.phase != Phase::Backfill && !created.contains(&t) {
                        w.changes
                            .push((input.display.to_string(), k, text.to_string()));
                    }
                }
                Stmt::Cluster { table: Some(t) }
                | Stmt::Refresh { view: t, .. }
                | Stmt::CreateTrigger { table: t } => table(&mut w, &t),
                _ => {}
            }
        }
    }
    w.tables.retain(|t| !created.contains(t));
    w.indexes.sort();
    w.indexes.dedup();
    w.functions.sort();
    w.functions.dedup();
    w.types.sort();
    w.types.dedup();
    w
}
