//! `repair`: drops what failed scripts left, removes their rows, and realigns checksums, descriptions and stored undos with the local files.

use crate::app::{Run, Workspace, db_failure, invalid, table};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::plan::Plan;
use crate::core::plan::{self, State};
use crate::core::script::{Kind, Version};
use crate::core::undo;
use crate::pg::companions::Companions;
use crate::pg::connect::Session;
use crate::pg::exec;
use crate::pg::history;

impl Run<'_> {
    pub(crate) async fn repair(&self, w: &Workspace<'_>) -> Result<(), Failure> {
        let c = &w.c;
        self.with_lock("repair", c, async |_: &Session| {
            let t = table(self.settings);
            let client = &c.session.client;
            let Some(applied) = self.read_history(c).await? else {
                tracing::info!(table = %t.qualified(), "no history table; nothing to repair");
                return Ok(());
            };
            let plan = w.plan(&applied);
            // Drop what a failed script left before forgetting that it failed.
            let mut dropped = 0;
            for (idx, why) in w.leftovers(&plan).await {
                exec::drop_index(client, &idx).await.map_err(|e| db_failure(&format!("dropping INVALID index {}", idx.qualified), &e, self.stop))?;
                tracing::info!(index = %idx.qualified, "dropped: {why}");
                dropped += 1;
            }
            let removed = history::delete_failed(client, &t).await.map_err(|e| db_failure("removing failed rows", &e, self.stop))?;
            for (rank, version, description) in &removed {
                tracing::info!(rank, version = version.as_deref().unwrap_or(""), description = %description, "removed failed history row");
            }
            let mut realigned = 0;
            for e in plan.entries.iter().filter(|e| e.state != State::Failed) {
                let (Some(li), Some(rank)) = (e.local, e.installed_rank) else { continue };
                let l = &w.locals[li];
                let description = plan::abbreviate_description(&l.name.description);
                let stale = e.checksum.is_some_and(|c| c != l.checksum && c != l.raw_checksum) || e.description != description;
                if stale && matches!(l.name.kind, Kind::Versioned(_)) && e.kind == "SQL" {
                    history::realign(client, &t, rank, &description, l.checksum).await.map_err(|e| db_failure("realigning a history row", &e, self.stop))?;
                    tracing::info!(rank, script = %l.path, old_checksum = e.checksum, new_checksum = l.checksum, "realigned history row with the local file");
                    realigned += 1;
                }
            }
            let restored = self.realign_undos(w, &plan).await?;
            let others: Vec<String> = exec::invalid_indexes(client).await.unwrap_or_default().into_iter().map(|i| i.qualified).collect();
            if !others.is_empty() {
                tracing::warn!(indexes = %others.join(", "), "INVALID indexes that no failed migration built remain (maybe a build still running elsewhere); left alone");
            }
            tracing::info!(removed = removed.len(), realigned, undos_stored = restored, dropped_indexes = dropped, "repair done");
            Ok(())
        })
        .await
    }

    /// Stores this image's `U` file as the undo of each applied version whose stored undo
    /// differs or is missing (applied by Flyway, or before the file existed): the way to
    /// replace a stored undo that turned out wrong. Only for versions that are applied now.
    async fn realign_undos(&self, w: &Workspace<'_>, plan: &Plan) -> Result<usize, Failure> {
        if w.scripts.undo.is_empty() {
            return Ok(0);
        }
        let client = &w.c.session.client;
        let companions = Companions::of(&table(self.settings))
            .map_err(|e| Failure::new(FailureKind::Config, e))?;
        let stored = companions
            .undos(client)
            .await
            .map_err(|e| db_failure("reading the stored undo scripts", &e, self.stop))?;
        let mut count = 0;
        for e in plan
            .entries
            .iter()
            .filter(|e| e.state == State::Success && e.installed_rank.is_some())
        {
            let Some(li) = e.local else { continue };
            let Some(v) = w.locals[li].name.version() else {
                continue;
            };
            let Some(file) =
                undo::to_store(&w.scripts.undo, v, &w.c.values).map_err(|e| invalid(vec![e]))?
            else {
                continue;
            };
            let same = stored.iter().any(|s| {
                Version::parse(&s.version).ok().as_ref() == Some(v)
                    && s.checksum == file.checksum
                    && s.sql == file.sql
            });
            if same {
                continue;
            }
            if count == 0 {
                companions.ensure(client).await.map_err(|e| {
                    db_failure("creating schemagate's companion tables", &e, self.stop)
                })?;
            }
            companions
                .store_undo(client, &file)
                .await
                .map_err(|e| db_failure("storing an undo", &e, self.stop))?;
            tracing::info!(version = %v, script = %file.script, "stored {} as the undo of V{v}", file.script);
            count += 1;
        }
        Ok(count)
    }
}
