//! schemagate's own tables beside the history (SPEC §11, §12): `<table>_phase`, the phase of every applied contract and backfill script; `<table>_releases`, which scripts each app version's image holds; `<table>_undo`, the undo SQL of every applied version that has one.
//!
//! The Flyway history table is never given extra columns, so that Flyway keeps reading it.
//! These tables let an older image, which lacks the newer files, still know that a version
//! it does not have was a contract, let the contract guard tell an old pod from one
//! whose image already holds the contract script, and let an older image undo the newer
//! versions whose `U` files it never had (`helm rollback` runs the older image). They are created while the lock is held,
//! when first needed; a database without them reads as empty.

use tokio_postgres::{Client, GenericClient};

use crate::core::contract::{Recorded, Release};
use crate::core::directives::Phase;
use crate::core::flight::literal;
use crate::core::script::Version;
use crate::core::undo::StoredUndo;
use crate::pg::history::Table;

/// The companion tables of one history table.
#[derive(Clone, Debug)]
pub struct Companions {
    phase: Table,
    releases: Table,
    undo: Table,
}

const MAX_NAME_BYTES: usize = 63;

impl Companions {
    /// `Err` names the history table when a companion's name would be longer than PostgreSQL
    /// keeps (it would silently cut it and use another table).
    pub fn of(history: &Table) -> Result<Companions, String> {
        let named = |suffix: &str| -> Result<Table, String> {
            let name = format!("{}_{suffix}", history.name);
            if name.len() > MAX_NAME_BYTES {
                return Err(format!(
                    "SCHEMAGATE_TABLE=\"{}\" is too long for schemagate's companion table \"{name}\" ({} bytes; PostgreSQL keeps 63): contract and backfill scripts need a history table name of at most 54 bytes",
                    history.name,
                    name.len()
                ));
            }
            Ok(Table {
                schema: history.schema.clone(),
                name,
            })
        };
        Ok(Companions {
            phase: named("phase")?,
            releases: named("releases")?,
            undo: named("undo")?,
        })
    }

    /// Creates the tables that are missing. Call only while holding the lock.
    pub async fn ensure(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        let created = client
            // Quietly: an existing table is the usual case, not news for the log.
            .batch_execute(&format!(
                "BEGIN; SET LOCAL client_min_messages = warning;\n\
                 CREATE TABLE IF NOT EXISTS {} (\n    version VARCHAR(50) PRIMARY KEY,\n    phase VARCHAR(20) NOT NULL,\n    recorded_on TIMESTAMP NOT NULL DEFAULT now()\n);\n\
                 CREATE TABLE IF NOT EXISTS {} (\n    app VARCHAR(63) NOT NULL,\n    app_version VARCHAR(63) NOT NULL,\n    scripts_up_to VARCHAR(50),\n    recorded_on TIMESTAMP NOT NULL DEFAULT now(),\n    PRIMARY KEY (app, app_version)\n);\n\
                 CREATE TABLE IF NOT EXISTS {} (\n    version VARCHAR(50) PRIMARY KEY,\n    script VARCHAR(1000) NOT NULL,\n    checksum INTEGER NOT NULL,\n    sql TEXT NOT NULL,\n    stored_on TIMESTAMP NOT NULL DEFAULT now()\n);\nCOMMIT;",
                self.phase.qualified(),
                self.releases.qualified(),
                self.undo.qualified()
            ))
            .await;
        if created.is_err() {
            let _ = client.batch_execute("ROLLBACK").await;
        }
        created
    }

    /// Records a script's phase; runs in the caller's transaction, with its history row.
    pub async fn record_phase(
        &self,
        client: &impl GenericClient,
        version: &str,
        phase: Phase,
    ) -> Result<(), tokio_postgres::Error> {
        client
            .batch_execute(&self.record_phase_text(version, phase))
            .await
    }

    /// [`Companions::record_phase`] as a statement of text, which a migration sent as one
    /// message carries beside its history row.
    pub fn record_phase_text(&self, version: &str, phase: Phase) -> String {
        format!(
            "INSERT INTO {} (version, phase) VALUES ({}, {}) \
             ON CONFLICT (version) DO UPDATE SET phase = EXCLUDED.phase, recorded_on = now()",
            self.phase.qualified(),
            literal(version),
            literal(phase.as_str())
        )
    }

    /// Every recorded `(version, phase)`; empty when the table does not exist yet.
    pub async fn phases(
        &self,
        client: &Client,
    ) -> Result<Vec<(String, Phase)>, tokio_postgres::Error> {
        let sql = format!("SELECT version, phase FROM {}", self.phase.qualified());
        let rows = match absent_is_empty(client.query(&sql, &[]).await)? {
            Some(rows) => rows,
            None => return Ok(Vec::new()),
        };
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get::<_, String>(0), Phase::parse(r.get(1))?)))
            .collect())
    }

    /// Stores a version's undo; runs in the caller's transaction, with its history row. A
    /// version applied again after an undo stores its undo again.
    pub async fn store_undo(
        &self,
        client: &impl GenericClient,
        undo: &StoredUndo,
    ) -> Result<(), tokio_postgres::Error> {
        client.batch_execute(&self.store_undo_text(undo)).await
    }

    /// [`Companions::store_undo`] as a statement of text.
    pub fn store_undo_text(&self, undo: &StoredUndo) -> String {
        format!(
            "INSERT INTO {} (version, script, checksum, sql) VALUES ({}, {}, {}, {}) \
             ON CONFLICT (version) DO UPDATE SET script = EXCLUDED.script, checksum = EXCLUDED.checksum, \
             sql = EXCLUDED.sql, stored_on = now()",
            self.undo.qualified(),
            literal(&undo.version),
            literal(&undo.script),
            undo.checksum,
            literal(&undo.sql)
        )
    }

    /// Removes the undo of a version that has just been undone, in the undo's transaction: a
    /// stored undo always belongs to an applied version.
    pub async fn forget_undo(
        &self,
        client: &impl GenericClient,
        version: &str,
    ) -> Result<(), tokio_postgres::Error> {
        client.batch_execute(&self.forget_undo_text(version)).await
    }

    /// [`Companions::forget_undo`] as a statement of text.
    pub fn forget_undo_text(&self, version: &str) -> String {
        format!(
            "DELETE FROM {} WHERE version = {}",
            self.undo.qualified(),
            literal(version)
        )
    }

    /// Every stored undo; empty when the table does not exist yet.
    pub async fn undos(&self, client: &Client) -> Result<Vec<StoredUndo>, tokio_postgres::Error> {
        let sql = format!(
            "SELECT version, script, checksum, sql FROM {}",
            self.undo.qualified()
        );
        let rows = match absent_is_empty(client.query(&sql, &[]).await)? {
            Some(rows) => rows,
            None => return Ok(Vec::new()),
        };
        Ok(rows
            .iter()
            .map(|r| StoredUndo {
                version: r.get(0),
                script: r.get(1),
                checksum: r.get(2),
                sql: r.get(3),
            })
            .collect())
    }

    /// Records that `release`'s image holds the scripts up to `scripts_up_to`.
    pub async fn record_release(
        &self,
        client: &Client,
        release: &Release,
        scripts_up_to: Option<&str>,
    ) -> Result<(), tokio_postgres::Error> {
        let sql = format!(
            "INSERT INTO {} (app, app_version, scripts_up_to) VALUES ($1, $2, $3) \
             ON CONFLICT (app, app_version) DO UPDATE SET scripts_up_to = EXCLUDED.scripts_up_to, recorded_on = now()",
            self.releases.qualified()
        );
        client
            .execute(&sql, &[&release.app, &release.version, &scripts_up_to])
            .await
            .map(|_| ())
    }

    /// What the app's versions' images hold, as recorded; empty when nothing is.
    pub async fn releases(
        &self,
        client: &Client,
        app: &str,
    ) -> Result<Vec<Recorded>, tokio_postgres::Error> {
        let sql = format!(
            "SELECT app_version, scripts_up_to FROM {} WHERE app = $1",
            self.releases.qualified()
        );
        let rows = match absent_is_empty(client.query(&sql, &[&app]).await)? {
            Some(rows) => rows,
            None => return Ok(Vec::new()),
        };
        Ok(rows
            .iter()
            .map(|r| Recorded {
                app_version: r.get(0),
                scripts_up_to: r
                    .get::<_, Option<String>>(1)
                    .and_then(|v| Version::parse(&v).ok()),
            })
            .collect())
    }
}

/// A table (or schema) that does not exist yet reads as no rows.
fn absent_is_empty<T>(
    r: Result<T, tokio_postgres::Error>,
) -> Result<Option<T>, tokio_postgres::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.code().map(|c| c.code()), Some("42P01" | "3F000")) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companion_names_that_postgresql_would_cut_are_refused() {
        let t = |name: &str| Table {
            schema: "s".into(),
            name: name.into(),
        };
        let c = Companions::of(&t("schemagate_history")).unwrap();
        assert_eq!(c.phase.qualified(), "\"s\".\"schemagate_history_phase\"");
        assert_eq!(
            c.releases.qualified(),
            "\"s\".\"schemagate_history_releases\""
        );
        assert_eq!(c.undo.qualified(), "\"s\".\"schemagate_history_undo\"");
        assert!(Companions::of(&t(&"h".repeat(54))).is_ok());
        let e = Companions::of(&t(&"h".repeat(55))).unwrap_err();
        assert!(e.contains("at most 54 bytes"), "{e}");
    }
}
