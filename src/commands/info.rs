//! `info` and `plan`: every migration's state and phase as a table or JSON, and the SQL `migrate` would run, read from the same plan.

use crate::app::{Run, Workspace, db_failure, invalid, problems_failure, table};
use crate::cli::Format;
use crate::core::backfill::with_batch_size;
use crate::core::contract::{self, ContractMode, Deferral};
use crate::core::directives::Phase;
use crate::core::outcome::Failure;
use crate::core::plan::Plan;
use crate::core::script::Version;
use crate::output;
use crate::pg::activity;
use crate::pg::companions::Companions;
use crate::pg::exec::{self, label};

impl Run<'_> {
    pub(crate) async fn info(&self, w: &Workspace<'_>, mut plan: Plan) -> Result<(), Failure> {
        let deferral = self.preview_phases(w, &mut plan).await?;
        self.mark_undoable(w, &mut plan).await?;
        let text = match self.format {
            Format::Json => output::info_json(
                &plan,
                &self.settings.schema,
                &w.c.values.database,
                deferral.as_ref(),
            ),
            Format::Table => output::info_table(
                &plan,
                plan.current.as_deref().unwrap_or("<< Empty Schema >>"),
                deferral.as_ref(),
            ),
        };
        print!("{text}");
        Ok(())
    }

    /// Which applied versions have an undo, stored or in this image, for the `Undoable`
    /// column; the undo table is read only when something is applied.
    async fn mark_undoable(&self, w: &Workspace<'_>, plan: &mut Plan) -> Result<(), Failure> {
        if plan.entries.iter().all(|e| e.installed_rank.is_none()) {
            return Ok(());
        }
        let stored = match Companions::of(&table(self.settings)) {
            Ok(c) => c
                .undos(&w.c.session.client)
                .await
                .map_err(|e| db_failure("reading the stored undo scripts", &e, self.stop))?,
            Err(_) => Vec::new(),
        };
        let stored: Vec<Version> = stored
            .iter()
            .filter_map(|s| Version::parse(&s.version).ok())
            .collect();
        let with_undo: Vec<&Version> = stored
            .iter()
            .chain(w.scripts.undo.iter().filter_map(|u| u.name.version()))
            .collect();
        plan.mark_undoable(&with_undo);
        Ok(())
    }

    /// What `migrate` would do with the phases now, for `info` and `plan`: the recorded phase
    /// of rows whose file this image lacks, and — looking at the sessions once, without the
    /// settle — whether the first pending contract script would be deferred, and why. Marks
    /// the deferred entries; returns the labels and the reason.
    async fn preview_phases(
        &self,
        w: &Workspace<'_>,
        plan: &mut Plan,
    ) -> Result<Option<(Vec<String>, Deferral)>, Failure> {
        let client = &w.c.session.client;
        let companions = Companions::of(&table(self.settings)).ok();
        if let Some(c) = &companions
            && plan
                .entries
                .iter()
                .any(|e| e.local.is_none() && e.version.is_some())
        {
            let phases = c
                .phases(client)
                .await
                .map_err(|e| db_failure("reading the recorded phases", &e, self.stop))?;
            plan.record_phases(&phases);
        }
        let Some(k) = plan.first_pending_contract(&w.locals) else {
            return Ok(None);
        };
        let s = self.settings;
        let deferral = match (s.contract, &s.release) {
            (ContractMode::Apply, _) => None,
            (ContractMode::Defer, _) => Some(Deferral::Asked),
            (ContractMode::Auto, None) => Some(Deferral::NoEvidence),
            (ContractMode::Auto, Some(release)) => {
                let li = plan.pending[k];
                let version = w.locals[li].name.version();
                let recorded = match &companions {
                    Some(c) => c
                        .releases(client, &release.app)
                        .await
                        .map_err(|e| db_failure("reading the recorded releases", &e, self.stop))?,
                    None => Vec::new(),
                };
                let clients = activity::app_clients(client, &release.app)
                    .await
                    .map_err(|e| {
                        db_failure("looking for sessions of older app versions", &e, self.stop)
                    })?;
                let old: Vec<String> = version
                    .map(|v| contract::old_clients(&clients, release, v, &recorded))
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.describe())
                    .collect();
                (!old.is_empty()).then_some(Deferral::OldClients(old))
            }
        };
        Ok(deferral.map(|d| {
            plan.defer_from(k);
            let labels = plan.pending[k..]
                .iter()
                .map(|&i| label(&w.scripts.migrations[i]))
                .collect();
            (labels, d)
        }))
    }

    pub(crate) async fn print_plan(
        &self,
        w: &Workspace<'_>,
        mut plan: Plan,
    ) -> Result<(), Failure> {
        if let Some(f) = problems_failure(&plan) {
            return Err(f);
        }
        let deferral = self.preview_phases(w, &mut plan).await?;
        let deferred_from = deferral.as_ref().map_or(plan.pending.len(), |(labels, _)| {
            plan.pending.len() - labels.len()
        });
        let mut out = String::new();
        for (k, &i) in plan.pending.iter().enumerate() {
            let script = &w.scripts.migrations[i];
            let ready =
                exec::prepare(script, w.resolved[i].clone()).map_err(|e| invalid(vec![e]))?;
            let mode = match (script.phase, ready.no_transaction) {
                (Phase::Backfill, _) => format!(
                    "backfill: re-run in batches of {} rows to start, each in its own transaction under statement_timeout {} ms, until a batch changes no row",
                    self.settings.backfill.batch_size,
                    self.settings.backfill.batch_timeout.as_millis()
                ),
                (_, None) => "in one transaction with its history row".to_string(),
                (_, Some(why)) => format!("outside a transaction ({why}), statement by statement"),
            };
            let deferred = k >= deferred_from;
            out.push_str(&format!(
                "-- {} from {} ({} statements, {mode}; phase {})\n",
                label(script),
                script.display,
                ready.statements.len(),
                script.phase
            ));
            if deferred && let Some((_, d)) = &deferral {
                out.push_str(&format!(
                    "-- DEFERRED, not run now: {}\n",
                    d.reason().replace('\n', " ")
                ));
            }
            for st in &ready.statements {
                let mut text = st.text(&ready.sql).to_string();
                if script.phase == Phase::Backfill {
                    text = with_batch_size(&text, self.settings.backfill.batch_size);
                }
                // A deferred script is shown commented out, so that this output fed to psql
                // never runs what migrate would hold back.
                let text = if deferred {
                    text.lines()
                        .map(|l| format!("-- {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    text
                };
                out.push_str(&text);
                out.push_str(";\n");
            }
            out.push('\n');
        }
        if plan.pending.is_empty() {
            out.push_str("-- nothing to apply: the schema is up to date\n");
        }
        print!("{out}");
        Ok(())
    }
}
