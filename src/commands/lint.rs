//! `lint` (SPEC §8): the command that lints files or the pending scripts and prints a report, and the gate `migrate` passes before it takes the lock.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use tokio_postgres::Client;

use crate::app::{Run, Workspace, invalid, locals, resolve_all, table};
use crate::config::{LintMode, Settings};
use crate::core::directives;
use crate::core::discover::{Entry, Script, discover};
use crate::core::lint::facts::Live;
use crate::core::lint::report::{self, Format};
use crate::core::lint::{self, Input, Lint, Options, Severity};
use crate::core::metrics::LintCounts;
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders::{self, Resolved, Values};
use crate::core::plan::{self, Plan};
use crate::core::script::{Kind, Version, parse_name};
use crate::core::split::{self, Statement, non_transactional_reason};
use crate::pg::connect::connect_with_retry;
use crate::pg::{catalog, exec, history};
use crate::telemetry::Recorder;

/// A script ready to be linted, with its resolved text: borrowed from the script where no
/// placeholder changed it, so that the gate over a thousand pending scripts does not copy
/// them all.
struct Owned<'a> {
    display: String,
    version: Option<Version>,
    sql: Cow<'a, str>,
    statements: Vec<Statement>,
    transactional: bool,
    phase: directives::Phase,
    linted: bool,
}

impl<'a> Owned<'a> {
    fn of(script: &'a Script, values: &Values, linted: bool) -> Result<Owned<'a>, String> {
        Owned::resolved(script, placeholders::resolve(script, values)?, linted)
    }

    /// The same, owning its text, to outlive the script it was read from.
    fn into_owned(self) -> Owned<'static> {
        Owned {
            sql: Cow::Owned(self.sql.into_owned()),
            ..self
        }
    }

    /// A script whose placeholders are already replaced, split and given its transaction
    /// mode by the executor's own rules.
    fn resolved(
        script: &'a Script,
        resolved: Resolved<'a>,
        linted: bool,
    ) -> Result<Owned<'a>, String> {
        let ready = exec::prepare(script, resolved)?;
        Ok(Owned {
            display: script.display.clone(),
            version: script.name.version().cloned(),
            transactional: ready.no_transaction.is_none(),
            sql: ready.sql,
            statements: ready.statements,
            phase: script.phase,
            linted,
        })
    }

    /// A file with no migration name (`lint add_index.sql`): linted as a script that runs
    /// in a transaction unless a statement needs otherwise, as Flyway would run it.
    fn plain(display: &str, text: String, values: &Values) -> Result<Owned<'static>, String> {
        let phase = directives::read(&text)
            .map_err(|e| format!("{display}: {}", e.join("; ")))?
            .phase;
        let name = Path::new(display)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(display);
        let text = placeholders::replace(&text, values, name, phase == directives::Phase::Backfill)
            .map_err(|e| format!("{display} {e}"))?
            .into_owned();
        let statements = split::split(&text).map_err(|e| format!("{display}: {e}"))?;
        let transactional = !statements
            .iter()
            .any(|s| non_transactional_reason(s.text(&text)).is_some());
        Ok(Owned {
            display: display.to_string(),
            version: None,
            sql: Cow::Owned(text),
            statements,
            transactional,
            phase,
            linted: true,
        })
    }

    fn input(&self) -> Input<'_> {
        Input {
            display: &self.display,
            version: self.version.as_ref(),
            sql: &self.sql,
            statements: &self.statements,
            transactional: self.transactional,
            phase: self.phase,
            linted: self.linted,
        }
    }
}

fn options(settings: &Settings, one_run: bool, budget: Option<Duration>) -> Options {
    Options {
        small_rows: settings.lint.small_rows,
        small_bytes: settings.lint.small_bytes,
        allows: settings.lint.allows.clone(),
        default_schema: settings.schema.clone(),
        one_run,
        budget_secs: budget.map(|d| d.as_secs_f64()),
    }
}

/// The live facts for `inputs`, or `None` (logged) when the catalog cannot be read.
async fn live_facts(client: &Client, settings: &Settings, inputs: &[Input<'_>]) -> Option<Live> {
    if let Err(e) = history::use_schema(client, &table(settings)).await {
        tracing::warn!(error = %e, "lint: could not set search_path; judging by static severity");
        return None;
    }
    let wanted = lint::wanted(inputs);
    match catalog::read(client, &wanted, settings.lint.small_rows).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "lint: could not read the catalog; judging by static severity");
            None
        }
    }
}

/// One finding as the log line `migrate` writes for it.
fn log_finding(f: &lint::Finding, as_warning: bool) {
    let table = f.table.as_deref().unwrap_or("");
    let size = f.size.as_deref().unwrap_or("");
    let at = format!("{}:{}:{}", f.file, f.line, f.column);
    if let Some(why) = &f.allowed {
        tracing::info!(rule = f.rule, file = %at, table, size, allowed = %why, "lint: allowed {}[{}] at {at}: {}", f.severity.as_str(), f.rule, f.message);
    } else if f.severity == Severity::Error && !as_warning {
        tracing::error!(rule = f.rule, file = %at, table, size, rewrite = %f.rewrite, "lint: error[{}] at {at}: {}; rewrite: {}", f.rule, f.message, f.rewrite);
    } else if f.severity == Severity::Info {
        tracing::info!(rule = f.rule, file = %at, table, size, "lint: info[{}] at {at}: {}", f.rule, f.message);
    } else {
        tracing::warn!(rule = f.rule, file = %at, table, size, rewrite = %f.rewrite, "lint: {}[{}] at {at}: {}; rewrite: {}", f.severity.as_str(), f.rule, f.message, f.rewrite);
    }
}

/// The refusal `migrate` exits 65 with: each blocking finding with its file, line, rule,
/// table, size and rewrite.
fn refusal(l: &Lint) -> Failure {
    let lines: Vec<String> = l
        .findings
        .iter()
        .filter(|f| f.blocks())
        .map(|f| {
            let table = match (&f.table, &f.size) {
                (Some(t), Some(s)) => format!(" on {t} ({s})"),
                (Some(t), None) => format!(" on {t}"),
                _ => String::new(),
            };
            format!(
                "{}:{}:{}: error[{}]{table}: {}; rewrite: {}",
                f.file, f.line, f.column, f.rule, f.message, f.rewrite
            )
        })
        .collect();
    let mut f = invalid(lines);
    f.message = format!(
        "lint refused {} pending statement(s) before taking the lock; nothing was changed (allow one with `-- schemagate:allow <rule> reason=\"…\"`, SCHEMAGATE_LINT_ALLOW, or set SCHEMAGATE_LINT=warn):\n{}",
        l.errors(),
        f.message
    );
    f
}

impl Run<'_> {
    /// SPEC §8 "Gate": lints the pending scripts against the live catalog before the lock and
    /// before any change. `enforce` refuses with 65 on an error nobody allowed.
    pub(crate) async fn lint_gate(&self, w: &Workspace<'_>, plan: &Plan) -> Result<(), Failure> {
        let mode = self.settings.lint.mode;
        if mode == LintMode::Off || plan.pending.is_empty() {
            return Ok(());
        }
        let owned: Vec<Owned> = plan
            .pending
            .iter()
            .map(|&i| {
                let s = &w.scripts.migrations[i];
                Owned::resolved(s, w.resolved[i].clone(), true)
            })
            .collect::<Result<_, String>>()
            .map_err(|e| invalid(vec![e]))?;
        let inputs: Vec<Input<'_>> = owned.iter().map(Owned::input).collect();
        let span = self.metrics.span("lint");
        let live = live_facts(&w.c.session.client, self.settings, &inputs).await;
        let budget = self
            .deadline
            .checked_duration_since(tokio::time::Instant::now());
        let result = lint::lint(
            &inputs,
            live.as_ref(),
            &options(self.settings, true, budget),
        );
        for f in &result.findings {
            log_finding(f, mode == LintMode::Warn);
        }
        // Set, not added: a run that reconnects lints its pending scripts again.
        let mut counts = LintCounts::default();
        for f in result.findings.iter().filter(|f| f.allowed.is_none()) {
            match f.severity {
                Severity::Error => counts.error += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Info => counts.info += 1,
            }
        }
        self.metrics.record(|m| m.lint = counts);
        span.set("schemagate.lint.errors", counts.error);
        span.set("schemagate.lint.warnings", counts.warning);
        if mode == LintMode::Enforce && result.errors() > 0 {
            let refused = refusal(&result);
            span.fail(&refused.message);
            return Err(refused);
        }
        if result.errors() > 0 {
            tracing::warn!(
                errors = result.errors(),
                "lint: SCHEMAGATE_LINT=warn, so the error findings above do not stop this run"
            );
        }
        Ok(())
    }
}

/// Reads the files named on the command line, with their `.sql.conf`, into scripts; a file
/// that has no migration name is linted as a plain script.
fn read_files(files: &[String], values: &Values) -> Result<Vec<Owned<'static>>, Failure> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{f}: cannot read it: {e}"));
                continue;
            }
        };
        let name = Path::new(f)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(f)
            .to_string();
        let mut entries = vec![Entry {
            path: name.clone(),
            display: f.clone(),
            bytes,
        }];
        let conf = format!("{f}.conf");
        if let Ok(b) = std::fs::read(&conf) {
            entries.push(Entry {
                path: format!("{name}.conf"),
                display: conf,
                bytes: b,
            });
        }
        // Not named like a migration (`add_index.sql`): a plain script, as `psql -f` would run it.
        if !matches!(parse_name(&name), Ok(Some(_))) {
            let bytes = entries.swap_remove(0).bytes;
            match String::from_utf8(bytes) {
                Ok(text) => {
                    match Owned::plain(f, text.trim_start_matches('\u{feff}').to_string(), values) {
                        Ok(o) => out.push(o),
                        Err(e) => problems.push(e),
                    }
                }
                Err(_) => problems.push(format!("{f}: not valid UTF-8; save the file as UTF-8")),
            }
            continue;
        }
        match discover(entries) {
            Ok(s) => match s.migrations.first().or(s.callbacks.first()) {
                Some(script) => match Owned::of(script, values, true) {
                    Ok(o) => out.push(o.into_owned()),
                    Err(e) => problems.push(e),
                },
                None => problems.push(format!("{f}: an undo script; lint the script it undoes")),
            },
            Err(e) => problems.extend(e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(invalid(problems))
    }
}

/// `schemagate lint [FILE…]`: prints the report on stdout; exit 65 when an error finding
/// is not allowed.
pub async fn lint_command(
    settings: &Settings,
    files: &[String],
    format: Format,
    offline: bool,
) -> Result<(), Failure> {
    let client = if offline {
        tracing::info!(
            "lint: no connection settings given; linting statically (rule severity, no live sizes)"
        );
        None
    } else {
        // One attempt, no wait: a linter in CI must not hang on an unreachable database.
        match connect_with_retry(&settings.conn, Duration::ZERO, None, &Recorder::off()).await {
            Ok(s) => Some(s),
            Err(f) => {
                tracing::warn!(error = %f.message, "lint: could not connect; linting statically (rule severity, no live sizes)");
                None
            }
        }
    };
    let values = Values {
        user: settings.placeholders.clone(),
        schema: settings.schema.clone(),
        table: settings.table.clone(),
        db_user: client
            .as_ref()
            .map_or_else(|| settings.conn.user.clone(), |c| c.user.clone()),
        database: client
            .as_ref()
            .map_or_else(|| settings.conn.dbname.clone(), |c| c.database.clone()),
        syntax: settings.placeholder_syntax.clone(),
    };
    let mut owned = Vec::new();
    let one_run;
    if files.is_empty() {
        let scripts = crate::app::load_scripts(&settings.locations, settings.scripts)?;
        crate::app::log_skipped(&scripts);
        let migrations: Vec<&Script> = scripts.migrations.iter().collect();
        let pending: Option<Vec<usize>> = match &client {
            Some(c) => match history::read(&c.client, &table(settings)).await {
                Ok(applied) => {
                    let resolved = resolve_all(&scripts.migrations, &values)?;
                    let local = locals(&scripts.migrations, &resolved);
                    let policy = crate::app::policy(settings)?;
                    Some(
                        plan::plan(&local, applied.as_deref().unwrap_or_default(), &policy).pending,
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lint: could not read the history table; linting every local script");
                    None
                }
            },
            None => None,
        };
        one_run = pending.is_some();
        for (i, s) in migrations.iter().enumerate() {
            if pending.as_ref().is_some_and(|p| !p.contains(&i)) {
                continue;
            }
            owned.push(
                Owned::of(s, &values, true)
                    .map_err(|e| invalid(vec![e]))?
                    .into_owned(),
            );
        }
    } else {
        let given = read_files(files, &values)?;
        one_run = client.is_some();
        if client.is_none() {
            // Offline, the scripts before the given ones say which tables exist and what
            // type each column has.
            let first = given.iter().filter_map(|o| o.version.clone()).min();
            if let (Some(first), Ok(scripts)) = (
                first,
                crate::app::load_scripts(&settings.locations, settings.scripts),
            ) {
                for s in &scripts.migrations {
                    let before = matches!(&s.name.kind, Kind::Versioned(v) if *v < first);
                    if before && !given.iter().any(|g| g.display == s.display) {
                        if let Ok(o) = Owned::of(s, &values, false) {
                            owned.push(o.into_owned());
                        }
                    }
                }
            }
        }
        owned.extend(given);
    }
    let inputs: Vec<Input<'_>> = owned.iter().map(Owned::input).collect();
    let live = match &client {
        Some(c) => live_facts(&c.client, settings, &inputs).await,
        None => None,
    };
    // `migrate` would have SCHEMAGATE_DEADLINE for all of it.
    let budget = Some(settings.deadline);
    let result = lint::lint(&inputs, live.as_ref(), &options(settings, one_run, budget));
    print!(
        "{}",
        report::render(&result, format, env!("CARGO_PKG_VERSION"))
    );
    if let Some(c) = client {
        c.close().await;
    }
    tracing::info!("lint: {}", report::summary(&result));
    if result.errors() > 0 {
        return Err(Failure::new(
            FailureKind::InvalidMigrations,
            format!("lint: {}", report::summary(&result)),
        ));
    }
    Ok(())
}

/// `schemagate lint --rules`: every rule with its default severity and squawk equivalents.
pub fn rules_table() -> String {
    let mut out = String::new();
    for r in lint::rules::ALL {
        let squawk = if r.squawk.is_empty() {
            "-".to_string()
        } else {
            r.squawk.join(", ")
        };
        out.push_str(&format!(
            "{:<36} {:<8} {:<6} {:<6} {}\n    squawk: {squawk}\n",
            r.id,
            r.severity.as_str(),
            if r.sized { "sized" } else { "" },
            if r.phase { "phase" } else { "" },
            r.summary
        ));
    }
    out
}
