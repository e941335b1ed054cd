//! `repair`: drops what failed scripts left, removes their rows, and realigns checksums and descriptions with the local files.

use crate::app::{Run, Workspace, db_failure, table};
use crate::core::outcome::Failure;
use crate::core::plan::{self, State};
use crate::core::script::Kind;
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
            let others: Vec<String> = exec::invalid_indexes(client).await.unwrap_or_default().into_iter().map(|i| i.qualified).collect();
            if !others.is_empty() {
                tracing::warn!(indexes = %others.join(", "), "INVALID indexes that no failed migration built remain (maybe a build still running elsewhere); left alone");
            }
            tracing::info!(removed = removed.len(), realigned, dropped_indexes = dropped, "repair done");
            Ok(())
        })
        .await
    }
}
