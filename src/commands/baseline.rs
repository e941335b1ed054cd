//! `baseline`: marks a database that has no history as being at `SCHEMAGATE_BASELINE_VERSION`.

use crate::app::{Connected, Run, db_failure, invalid, table};
use crate::core::outcome::Failure;
use crate::pg::connect::Session;
use crate::pg::history::{self, NewRow, Table};

impl Run<'_> {
    pub(crate) async fn insert_baseline(&self, c: &Connected, t: &Table) -> Result<(), Failure> {
        const DESCRIPTION: &str = "<< Flyway Baseline >>";
        let version = &self.settings.baseline_version;
        history::insert(
            &c.session.client,
            t,
            &NewRow {
                version: Some(version),
                description: DESCRIPTION,
                kind: "BASELINE",
                script: DESCRIPTION,
                checksum: None,
                installed_by: self
                    .settings
                    .installed_by
                    .as_deref()
                    .unwrap_or(&c.values.db_user),
                execution_time: 0,
                success: true,
            },
        )
        .await
        .map_err(|e| db_failure("recording the baseline", &e, self.stop))?;
        tracing::info!(version = %version, "baselined the schema at version {version}");
        Ok(())
    }

    pub(crate) async fn baseline(&self, c: &Connected) -> Result<(), Failure> {
        self.with_lock("baseline", c, async |_: &Session| {
            let t = table(self.settings);
            self.ensure_history(&c.session.client, &t).await?;
            let applied = self.read_history(c).await?.unwrap_or_default();
            if let Some(row) = applied.iter().find(|r| r.kind != "SCHEMA") {
                return Err(invalid(vec![format!(
                    "{} already has history (rank {}, {}); baseline only marks a database that has none",
                    t.qualified(),
                    row.installed_rank,
                    row.description
                )]));
            }
            self.insert_baseline(c, &t).await
        })
        .await
    }
}
