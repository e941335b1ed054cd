//! `undo` and `plan undo`: under the lock, runs the stored (or local) undo of every applied version above the target, newest first, each with its `UNDO_SQL` row (SPEC §12).
//!
//! Everything is checked before anything changes (`core::undo::plan_undo`), and checked again
//! under the lock, where another runner may already have undone some or all of it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::app::{Report, Run, Workspace, db_failure, invalid, table};
use crate::core::directives::Phase;
use crate::core::discover::{Script, ScriptConf};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders::{self, Resolved};
use crate::core::plan::{Plan, ProblemKind, State};
use crate::core::script::{Kind, ScriptName, Version};
use crate::core::undo::{self, LocalUndo, Source, Step, UndoPlan};
use crate::pg::companions::Companions;
use crate::pg::connect::Session;
use crate::pg::exec::{self, Ready};
use crate::pg::history;

/// What an undo run knows before it changes anything.
struct Checked {
    target: Version,
    plan: Plan,
    undo: UndoPlan,
}

impl Run<'_> {
    pub(crate) async fn undo(
        &self,
        w: &Workspace<'_>,
        plan: Plan,
        report: &mut Report,
    ) -> Result<(), Failure> {
        let companions = companions(self)?;
        let first = self.check_undo(w, plan, &companions).await?;
        if first.undo.steps.is_empty() {
            tracing::info!(
                target = %first.target, schema_version = first.plan.current.as_deref().unwrap_or(""),
                "no applied version above V{}; nothing to undo", first.target
            );
            return Ok(());
        }
        // Without the lock, so that a refusal costs nobody a wait; checked again under it.
        self.with_lock("undo", &w.c, async |lock_session: &Session| {
            self.undo_locked(w, &companions, lock_session, report).await
        })
        .await
    }

    /// Reads what the plan needs beside the history (the recorded phases, the stored undos),
    /// then decides: the steps, or every reason to refuse (exit 65), or a half-applied
    /// script or undo that must be repaired first (exit 3).
    async fn check_undo(
        &self,
        w: &Workspace<'_>,
        mut plan: Plan,
        companions: &Companions,
    ) -> Result<Checked, Failure> {
        if plan.problems.iter().any(|p| p.kind == ProblemKind::Failed)
            && let Some(f) = w.failure(&plan).await
        {
            return Err(f);
        }
        // Drift below the target does not change what an undo runs, and an older image
        // often differs from the history: said, not refused.
        for p in &plan.problems {
            tracing::warn!(
                "{} (undo goes on: it runs the undo stored for each version)",
                p.message
            );
        }
        let client = &w.c.session.client;
        let phases = companions
            .phases(client)
            .await
            .map_err(|e| db_failure("reading the recorded phases", &e, self.stop))?;
        plan.record_phases(&phases);
        let stored = companions
            .undos(client)
            .await
            .map_err(|e| db_failure("reading the stored undo scripts", &e, self.stop))?;
        let newest_local = w
            .scripts
            .migrations
            .iter()
            .rev()
            .find_map(|s| s.name.version());
        let target = undo::target(w.policy.target.as_ref(), newest_local)
            .map_err(|e| Failure::new(FailureKind::Config, e))?;
        let resolved = local_undos(w)?;
        let local: Vec<LocalUndo<'_>> = resolved
            .iter()
            .filter_map(|(s, r)| {
                Some(LocalUndo {
                    version: s.name.version()?,
                    description: &s.name.description,
                    path: &s.path,
                    sql: &r.sql,
                })
            })
            .collect();
        let undo = undo::plan_undo(&plan, &target, &stored, &local, self.settings.undo_contract)
            .map_err(|refusals| {
                Failure::new(
                    FailureKind::InvalidMigrations,
                    format!(
                        "undo to V{target} refused, nothing was undone: {}",
                        refusals.join("; ")
                    ),
                )
            })?;
        for warning in &undo.warnings {
            tracing::warn!("{warning}");
        }
        Ok(Checked { target, plan, undo })
    }

    async fn undo_locked(
        &self,
        w: &Workspace<'_>,
        companions: &Companions,
        lock_session: &Session,
        report: &mut Report,
    ) -> Result<(), Failure> {
        let c = &w.c;
        let t = table(self.settings);
        let client = &c.session.client;
        let Some(applied) = self.read_history(c).await? else {
            tracing::info!(table = %t.qualified(), "no history table; nothing to undo");
            return Ok(());
        };
        let Checked { target, plan, undo } =
            self.check_undo(w, w.plan(&applied), companions).await?;
        report.before = plan.current.clone();
        report.after = plan.current.clone();
        if undo.steps.is_empty() {
            tracing::info!(target = %target, "another runner undid everything above V{target} while this one waited; nothing to do");
            return Ok(());
        }
        // A database whose undos all come from this image's files (applied by Flyway) has
        // no undo table yet; the undo's own transaction removes its row from it.
        companions
            .ensure(client)
            .await
            .map_err(|e| db_failure("creating schemagate's companion tables", &e, self.stop))?;
        history::use_schema(client, &t)
            .await
            .map_err(|e| db_failure("setting search_path", &e, self.stop))?;
        let undo_table = format!("{}_undo", t.name);
        let synthetic: Vec<Option<Script>> = undo
            .steps
            .iter()
            .map(|s| stored_script(s, &undo_table))
            .collect::<Result<_, _>>()?;
        let files = local_undos(w)?;
        let ready: Vec<Ready<'_>> = undo
            .steps
            .iter()
            .zip(&synthetic)
            .map(|(step, made)| ready_for(step, made.as_ref(), &files))
            .collect::<Result<_, _>>()?;
        tracing::info!(
            target = %target, versions = %undo.steps.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join(", "),
            "undoing {} version{} down to V{target}, newest first", undo.steps.len(), if undo.steps.len() == 1 { "" } else { "s" }
        );
        let ctx = self.ctx(c, lock_session, &t, Some(companions), &[], &[]);
        let mut left = still_applied(&plan);
        for (step, ready) in undo.steps.iter().zip(&ready) {
            let span = self.metrics.script_span("undo", ready.script);
            span.set("schemagate.migration.version", step.version.as_str());
            span.set(
                "schemagate.undo.source",
                match step.source {
                    Source::Stored => "stored",
                    Source::File => "file",
                },
            );
            let done = ctx.apply(ready).await;
            span.outcome(&done, "undone");
            let done = done?;
            span.set("schemagate.migration.statements", done.statements as u64);
            report.undone += 1;
            self.metrics.record(|m| m.migrations_undone += 1);
            if let Ok(v) = Version::parse(&step.version) {
                left.remove(&v);
            }
            report.after = left.iter().next_back().map(|v| v.as_str().to_string());
            let from = match step.source {
                Source::Stored => "the undo stored when it was applied".to_string(),
                Source::File => format!("{} of this image", step.script),
            };
            tracing::info!(
                migration = %step.label, script = %step.script, source = ?step.source, duration_ms = done.millis, statements = done.statements,
                lock_retries = done.retries, "undid {} in {} ms ({} statement{}) with {from}", step.label, done.millis, done.statements, if done.statements == 1 { "" } else { "s" }
            );
        }
        Ok(())
    }

    /// `plan undo`: the SQL `undo` would run now, in order, without running it; the same
    /// refusals as `undo`.
    pub(crate) async fn print_undo_plan(
        &self,
        w: &Workspace<'_>,
        plan: Plan,
    ) -> Result<(), Failure> {
        let companions = companions(self)?;
        let Checked { target, undo, .. } = self.check_undo(w, plan, &companions).await?;
        let undo_table = format!("{}_undo", self.settings.table);
        let files = local_undos(w)?;
        let mut out = String::new();
        for step in &undo.steps {
            let made = stored_script(step, &undo_table)?;
            let ready = ready_for(step, made.as_ref(), &files)?;
            let (from, mode) = (
                match step.source {
                    Source::Stored => {
                        format!("{} as stored when it was applied", ready.script.display)
                    }
                    Source::File => {
                        format!("{} of this image (none was stored)", ready.script.display)
                    }
                },
                match ready.no_transaction {
                    None => "in one transaction with its UNDO_SQL history row".to_string(),
                    Some(why) => format!("outside a transaction ({why}), statement by statement"),
                },
            );
            out.push_str(&format!(
                "-- {} from {from} ({} statements, {mode})\n",
                exec::label(ready.script),
                ready.statements.len()
            ));
            for st in &ready.statements {
                out.push_str(st.text(&ready.sql));
                out.push_str(";\n");
            }
            out.push('\n');
        }
        if undo.steps.is_empty() {
            out.push_str(&format!(
                "-- nothing to undo: no applied version above V{target}\n"
            ));
        }
        print!("{out}");
        Ok(())
    }
}

fn companions(run: &Run<'_>) -> Result<Companions, Failure> {
    Companions::of(&table(run.settings)).map_err(|e| Failure::new(FailureKind::Config, e))
}

/// This image's `U` files with their placeholders replaced, as the undo would run them.
fn local_undos<'a>(w: &'a Workspace<'_>) -> Result<Vec<(&'a Script, Resolved<'a>)>, Failure> {
    let mut out = Vec::with_capacity(w.scripts.undo.len());
    let mut problems = Vec::new();
    for s in &w.scripts.undo {
        match placeholders::resolve(s, &w.c.values) {
            Ok(r) => out.push((s, r)),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(invalid(problems))
    }
}

/// A stored undo as a script the executor can run: named after its `U` file, located in
/// messages as `<table>_undo/<file>:line:col`.
fn stored_script(step: &Step, undo_table: &str) -> Result<Option<Script>, Failure> {
    if step.source != Source::Stored {
        return Ok(None);
    }
    let version = Version::parse(&step.version).map_err(|e| {
        invalid(vec![format!(
            "{}: version `{}`: {e}",
            step.label, step.version
        )])
    })?;
    let file = step.script.rsplit('/').next().unwrap_or(&step.script);
    Ok(Some(Script {
        path: step.script.clone(),
        display: format!("{undo_table}/{file}"),
        name: ScriptName {
            kind: Kind::Undo(version),
            description: step.description.clone(),
        },
        sql: step.sql.clone(),
        checksum: step.checksum,
        conf: ScriptConf::default(),
        phase: Phase::Expand,
    }))
}

fn ready_for<'a>(
    step: &'a Step,
    made: Option<&'a Script>,
    files: &[(&'a Script, Resolved<'a>)],
) -> Result<Ready<'a>, Failure> {
    let script = match made {
        Some(s) => s,
        None => files
            .iter()
            .find(|(s, _)| s.path == step.script)
            .map(|(s, _)| *s)
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::Internal,
                    format!(
                        "the undo file {} of {} went missing; this is a bug",
                        step.script, step.label
                    ),
                )
            })?,
    };
    let resolved = Resolved {
        sql: Cow::Borrowed(step.sql.as_str()),
        checksum: step.checksum,
        raw_checksum: step.checksum,
    };
    exec::prepare(script, resolved).map_err(|e| invalid(vec![e]))
}

/// The versions the plan counts as applied, for the schema version after each undo.
fn still_applied(plan: &Plan) -> BTreeSet<Version> {
    plan.entries
        .iter()
        .filter(|e| e.category == "Versioned" && e.installed_rank.is_some())
        .filter(|e| {
            matches!(
                e.state,
                State::Success
                    | State::Future
                    | State::OutOfOrder
                    | State::Missing
                    | State::Baseline
            )
        })
        .filter_map(|e| Version::parse(e.version.as_deref()?).ok())
        .collect()
}
