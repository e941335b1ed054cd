//! The history table (SPEC §5): Flyway's `flyway_schema_history` layout, read, created under the lock, and written.

use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient, SimpleQueryMessage};

use crate::core::flight::{literal, literal_or_null};
use crate::core::plan::Applied;

/// The schema-qualified history table; every bookkeeping query names it fully, so a
/// look-alike earlier on `search_path` is never used.
#[derive(Clone, Debug)]
pub struct Table {
    pub schema: String,
    pub name: String,
}

pub use crate::core::flight::quote_ident;

impl Table {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// The query that reads the whole history. Without ORDER BY: [`rows`] sorts by rank,
    /// which spares a fresh backend planning an index scan on every pod start.
    pub fn select_sql(&self) -> String {
        format!(
            "/*NO LOAD BALANCE*/ SELECT installed_rank, version, description, type, script, checksum, installed_by, \
             to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS'), execution_time, success FROM {}",
            self.qualified()
        )
    }
}

/// A row to add.
#[derive(Clone, Debug)]
pub struct NewRow<'a> {
    pub version: Option<&'a str>,
    pub description: &'a str,
    pub kind: &'a str,
    pub script: &'a str,
    pub checksum: Option<i32>,
    pub installed_by: &'a str,
    pub execution_time: i32,
    pub success: bool,
}

fn parse_row(cols: &tokio_postgres::SimpleQueryRow) -> Result<Applied, String> {
    let text = |i: usize| cols.get(i).map(str::to_string);
    let int = |i: usize| -> Result<Option<i32>, String> {
        cols.get(i)
            .map(|s| s.parse::<i32>().map_err(|e| format!("column {i}: {e}")))
            .transpose()
    };
    Ok(Applied {
        installed_rank: int(0)?.ok_or("installed_rank is null")?,
        version: text(1),
        description: text(2).unwrap_or_default(),
        kind: text(3).unwrap_or_default(),
        script: text(4).unwrap_or_default(),
        checksum: int(5)?,
        installed_by: text(6).unwrap_or_default(),
        installed_on: text(7).unwrap_or_default(),
        execution_time: int(8)?.unwrap_or(0),
        success: cols.get(9) == Some("t"),
    })
}

/// The whole history in rank order; `None` when the table (or its schema) does not exist yet.
/// One round trip on the simple protocol, because this runs on every pod start.
pub async fn read(
    client: &Client,
    table: &Table,
) -> Result<Option<Vec<Applied>>, tokio_postgres::Error> {
    rows(client.simple_query(&table.select_sql()).await)
}

/// The history from the answer to [`Table::select_sql`], in rank order.
pub fn rows(
    answer: Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>,
) -> Result<Option<Vec<Applied>>, tokio_postgres::Error> {
    match answer {
        Ok(messages) => {
            let mut rows = Vec::with_capacity(messages.len());
            for m in messages {
                if let SimpleQueryMessage::Row(r) = m {
                    // A malformed row is a corrupted table; keep the rest readable and let the planner see it.
                    if let Ok(a) = parse_row(&r) {
                        rows.push(a);
                    }
                }
            }
            // installed_rank is the primary key: no ties.
            rows.sort_unstable_by_key(|a| a.installed_rank);
            Ok(Some(rows))
        }
        Err(e) if matches!(e.code().map(|c| c.code()), Some("42P01" | "3F000")) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What [`ensure`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ensured {
    Existed,
    Created,
    /// The history's schema is missing and may not be created
    /// (`SCHEMAGATE_CREATE_SCHEMAS=false`); nothing was changed.
    SchemaMissing,
}

/// Creates the schema (if missing) and the table with Flyway's DDL, and with them the further
/// schemas `others` that are missing (Flyway's `schemas` after the first) — or, when
/// `create_schemas` is false, only the table, and only if its schema is there. Call only
/// while holding the lock.
pub async fn ensure(
    client: &Client,
    table: &Table,
    others: &[String],
    create_schemas: bool,
) -> Result<Ensured, tokio_postgres::Error> {
    let exists = client
        .query_typed_one(
            "SELECT (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1) IS NOT NULL, \
             EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relname = $2)",
            &[(&table.schema, Type::NAME), (&table.name, Type::NAME)],
        )
        .await?;
    let (schema_exists, table_exists): (bool, bool) = (exists.get(0), exists.get(1));
    if table_exists {
        return Ok(Ensured::Existed);
    }
    let q = table.qualified();
    let pk = quote_ident(&format!("{}_pk", table.name));
    let idx = quote_ident(&format!("{}_s_idx", table.name));
    if !create_schemas && !schema_exists {
        return Ok(Ensured::SchemaMissing);
    }
    let mut ddl = String::from("BEGIN;\n");
    let mut created = Vec::new();
    if !schema_exists {
        ddl.push_str(&format!("CREATE SCHEMA {};\n", quote_ident(&table.schema)));
        created.push(quote_ident(&table.schema));
    }
    // Flyway leaves the other schemas alone too: a script that needs one fails on its own.
    let others = if create_schemas { others } else { &[] };
    for other in others.iter().filter(|o| **o != table.schema) {
        let missing: bool = client
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
                &[other],
            )
            .await?
            .get(0);
        if missing {
            ddl.push_str(&format!("CREATE SCHEMA {};\n", quote_ident(other)));
            created.push(quote_ident(other));
        }
    }
    ddl.push_str(&format!(
        "CREATE TABLE {q} (\n    \"installed_rank\" INT NOT NULL,\n    \"version\" VARCHAR(50),\n    \
         \"description\" VARCHAR(200) NOT NULL,\n    \"type\" VARCHAR(20) NOT NULL,\n    \"script\" VARCHAR(1000) NOT NULL,\n    \
         \"checksum\" INTEGER,\n    \"installed_by\" VARCHAR(100) NOT NULL,\n    \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),\n    \
         \"execution_time\" INTEGER NOT NULL,\n    \"success\" BOOLEAN NOT NULL\n);\n\
         ALTER TABLE {q} ADD CONSTRAINT {pk} PRIMARY KEY (\"installed_rank\");\n\
         CREATE INDEX {idx} ON {q} (\"success\");\n"
    ));
    if !created.is_empty() {
        // Flyway records the schemas it created, so that its `clean` knows to drop them.
        ddl.push_str(&format!(
            "INSERT INTO {q} (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
             VALUES (0, NULL, '<< Flyway Schema Creation >>', 'SCHEMA', {}, NULL, current_user, 0, true);\n",
            literal(&created.join(","))
        ));
    }
    ddl.push_str("COMMIT;");
    if let Err(e) = client.batch_execute(&ddl).await {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(e);
    }
    Ok(Ensured::Created)
}

/// Puts the history's schema first on the session's `search_path`, as Flyway does before
/// each migration, so that unqualified names in scripts land in `SCHEMAGATE_SCHEMA`.
/// Left alone when the path already starts with it.
pub async fn use_schema(client: &Client, table: &Table) -> Result<(), tokio_postgres::Error> {
    // Typed queries go in one round trip; `query_one` with text would prepare first.
    let current: String = client
        .query_typed_one("SELECT current_setting('search_path')", &[])
        .await?
        .get(0);
    let first = quote_ident(&table.schema);
    let starts = current
        .split(',')
        .next()
        .map(str::trim)
        .is_some_and(|p| p == first || p == table.schema);
    if !starts {
        let path = if current.trim().is_empty() {
            first
        } else {
            format!("{first}, {current}")
        };
        client
            .query_typed_one(
                "SELECT pg_catalog.set_config('search_path', $1, false)",
                &[(&path, Type::TEXT)],
            )
            .await?;
    }
    Ok(())
}

fn insert_sql(table: &Table) -> String {
    format!(
        "INSERT INTO {q} (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
         SELECT COALESCE(MAX(installed_rank), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8 FROM {q} RETURNING installed_rank",
        q = table.qualified()
    )
}

/// [`insert`] as a statement of text, for a migration sent as one message
/// ([`crate::core::flight`]): the values are literals, and `execution_time` is the server's
/// time since the message arrived (`now()` is the start of the transaction its `BEGIN` opened),
/// since nobody knows `row.execution_time` before the message is sent.
pub fn insert_text(table: &Table, row: &NewRow<'_>) -> String {
    format!(
        "INSERT INTO {q} (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
         SELECT COALESCE(MAX(installed_rank), 0) + 1, {}, {}, {}, {}, {}, {}, \
         LEAST(floor(EXTRACT(EPOCH FROM clock_timestamp() - now()) * 1000), 2147483647)::int4, {} FROM {q}",
        literal_or_null(row.version),
        literal(row.description),
        literal(row.kind),
        literal(row.script),
        row.checksum
            .map_or_else(|| "NULL".to_string(), |c| c.to_string()),
        literal(row.installed_by),
        row.success,
        q = table.qualified()
    )
}

async fn insert_with<T>(
    client: &impl GenericClient,
    statement: &T,
    row: &NewRow<'_>,
) -> Result<i32, tokio_postgres::Error>
where
    T: ?Sized + tokio_postgres::ToStatement + Sync + Send,
{
    let r = client
        .query_one(
            statement,
            &[
                &row.version,
                &row.description,
                &row.kind,
                &row.script,
                &row.checksum,
                &row.installed_by,
                &row.execution_time,
                &row.success,
            ],
        )
        .await?;
    Ok(r.get(0))
}

/// Inserts a row with the next rank (highest + 1, as Flyway does). Runs in the caller's
/// transaction, so a migration and its row commit together.
pub async fn insert(
    client: &impl GenericClient,
    table: &Table,
    row: &NewRow<'_>,
) -> Result<i32, tokio_postgres::Error> {
    insert_with(client, insert_sql(table).as_str(), row).await
}

/// The history insert of one session, prepared on first use and reused for every migration
/// after it: one round trip per migration instead of two (a `&str` query is prepared anew
/// each time). A prepared statement outlives a rolled-back transaction; it belongs to the
/// session, so a new session needs a new `Inserter`.
#[derive(Default)]
pub struct Inserter {
    statement: std::cell::RefCell<Option<tokio_postgres::Statement>>,
}

impl Inserter {
    /// Like [`insert`].
    pub async fn insert(
        &self,
        client: &Client,
        table: &Table,
        row: &NewRow<'_>,
    ) -> Result<i32, tokio_postgres::Error> {
        let cached = self.statement.borrow().clone();
        let statement = match cached {
            Some(s) => s,
            None => {
                let s = client.prepare(&insert_sql(table)).await?;
                *self.statement.borrow_mut() = Some(s.clone());
                s
            }
        };
        insert_with(client, &statement, row).await
    }
}

/// Marks a row as succeeded once a non-transactional script has finished.
pub async fn mark_success(
    client: &Client,
    table: &Table,
    rank: i32,
    execution_time: i32,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET success = true, execution_time = $2 WHERE installed_rank = $1",
        table.qualified()
    );
    client
        .execute(&sql, &[&rank, &execution_time])
        .await
        .map(|_| ())
}

/// Removes failed rows (`repair`). Returns what was removed, for the log.
pub async fn delete_failed(
    client: &Client,
    table: &Table,
) -> Result<Vec<(i32, Option<String>, String)>, tokio_postgres::Error> {
    let sql = format!(
        "DELETE FROM {} WHERE NOT success RETURNING installed_rank, version, description",
        table.qualified()
    );
    let rows = client.query(&sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// True when the schema already holds tables, views or sequences other than the history
/// table: a database that something else has built, which needs a baseline first.
pub async fn schema_has_objects(
    client: &Client,
    table: &Table,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_typed_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname <> $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f'))",
            &[(&table.schema, Type::NAME), (&table.name, Type::NAME)],
        )
        .await?;
    Ok(row.get(0))
}

/// Realigns a row's checksum and description with its local file (`repair`).
pub async fn realign(
    client: &Client,
    table: &Table,
    rank: i32,
    description: &str,
    checksum: i32,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET description = $2, checksum = $3 WHERE installed_rank = $1",
        table.qualified()
    );
    client
        .execute(&sql, &[&rank, &description, &checksum])
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        let t = Table {
            schema: "my \"app\"".into(),
            name: "Hist.ory".into(),
        };
        assert_eq!(t.qualified(), "\"my \"\"app\"\"\".\"Hist.ory\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
