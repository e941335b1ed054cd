//! The rule set of reference §7: one unit per rule, each with its firing and near-miss cases beside it; this module holds what they share (the script context, a hit, the registry).

use super::facts::{Live, Size};
use super::parse::{Name, Stmt};
use super::types::{Session, TypeName};
use super::{Model, Options, Parsed, Pos, Severity};

mod compat_destructive;
mod compat_drop_not_null;
mod compat_phase_mismatch;
mod compat_rename;
mod compat_required_column;
mod data_truncate_cascade;
mod data_unbatched_backfill;
mod lock_constraint_without_not_valid;
mod lock_drop_index_not_concurrent;
mod lock_index_not_concurrent;
mod lock_many_ae_in_one_tx;
mod lock_partition_detach;
mod lock_reindex_not_concurrent;
mod lock_set_not_null_scan;
mod lock_unique_or_pk_build;
mod ops_deadline_exceeded;
mod ops_invalid_index_leftover;
mod ops_timeout_override;
mod rewrite_add_column;
mod rewrite_column_type;
mod rewrite_maintenance;
mod tx_concurrently_in_transaction;
mod tx_enum_add_value;
mod tx_validate_same_transaction;

/// A rule: its public id (SPEC §8), what it is worth before the data is asked, and its check.
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// Whether the table's size decides (reference §7 "(size)"): empty → dropped, small →
    /// information.
    pub sized: bool,
    /// A phase rule: an error in expand scripts, allowed in contract scripts (SPEC §8, §11).
    pub phase: bool,
    /// squawk's names for the same finding, so that `-- squawk-ignore` keeps working.
    pub squawk: &'static [&'static str],
    /// One line for `lint --rules` and SARIF.
    pub summary: &'static str,
    pub check: fn(&Cx<'_>) -> Vec<Hit>,
}

/// Every rule, in reference §7's order.
pub static ALL: [&Rule; 24] = [
    &lock_index_not_concurrent::RULE,
    &lock_drop_index_not_concurrent::RULE,
    &tx_concurrently_in_transaction::RULE,
    &ops_invalid_index_leftover::RULE,
    &lock_constraint_without_not_valid::RULE,
    &tx_validate_same_transaction::RULE,
    &lock_set_not_null_scan::RULE,
    &rewrite_add_column::RULE,
    &compat_required_column::RULE,
    &rewrite_column_type::RULE,
    &lock_unique_or_pk_build::RULE,
    &compat_destructive::RULE,
    &compat_rename::RULE,
    &compat_drop_not_null::RULE,
    &compat_phase_mismatch::RULE,
    &data_unbatched_backfill::RULE,
    &lock_many_ae_in_one_tx::RULE,
    &rewrite_maintenance::RULE,
    &lock_partition_detach::RULE,
    &lock_reindex_not_concurrent::RULE,
    &tx_enum_add_value::RULE,
    &ops_timeout_override::RULE,
    &ops_deadline_exceeded::RULE,
    &data_truncate_cascade::RULE,
];

pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// Our rules that a squawk rule name stands for.
pub fn squawk_equivalents(name: &str) -> Vec<&'static str> {
    ALL.iter()
        .filter(|r| r.squawk.contains(&name))
        .map(|r| r.id)
        .collect()
}

/// What a rule found, before the engine judges it.
#[derive(Clone, Debug, Default)]
pub struct Hit {
    /// The statement's index in its script.
    pub stmt: usize,
    /// The table it is about first; its size decides.
    pub tables: Vec<Name>,
    /// `{size}` is replaced by ` (N rows, S MB)` when the size is known.
    pub message: String,
    pub rewrite: String,
    /// Overrides the rule's severity (a fast type change is information).
    pub severity: Option<Severity>,
    /// Overrides whether the size decides.
    pub sized: Option<bool>,
}

impl Hit {
    pub fn on(stmt: usize, table: &Name, message: String, rewrite: String) -> Hit {
        Hit {
            stmt,
            tables: vec![table.clone()],
            message,
            rewrite,
            ..Hit::default()
        }
    }
}

/// One script's statements with everything the rules may ask about them.
pub struct Cx<'a> {
    pub script: &'a Parsed<'a>,
    pub model: &'a Model,
    pub live: Option<&'a Live>,
    pub opts: &'a Options,
}

/// A known-volatile function (static lint; the live catalog decides otherwise).
const VOLATILE: &[&str] = &[
    "random",
    "random_normal",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "gen_random_bytes",
    "nextval",
    "setval",
    "txid_current",
    "pg_current_xact_id",
];

/// Built-ins that are stable or immutable, so a default calling them is fast on PG ≥ 11.
const NOT_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "current_schema",
    "current_setting",
    "lower",
    "upper",
    "btrim",
    "trim",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "concat",
    "length",
    "substring",
    "replace",
    "to_char",
    "to_date",
    "to_timestamp",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "array",
    "make_interval",
    "make_date",
    "date_trunc",
    "timezone",
    "abs",
    "round",
    "md5",
    "interval",
    "int4",
    "int8",
    "text",
    "numeric",
];

impl<'a> Cx<'a> {
    pub fn stmts(&self) -> impl Iterator<Item = (usize, &'a Stmt)> + 'a {
        self.script.stmts.iter().enumerate()
    }

    /// Every `ALTER TABLE` sub-command of the script, with its statement's index and table.
    pub fn actions(
        &self,
    ) -> impl Iterator<Item = (usize, &'a Name, &'a super::parse::Action)> + 'a {
        self.stmts().flat_map(|(i, s)| match s {
            Stmt::AlterTable { table, actions } => {
                actions.iter().map(move |a| (i, table, a)).collect()
            }
            _ => Vec::new(),
        })
    }

    fn pos(&self, stmt: usize) -> Pos {
        self.script.first + stmt
    }

    fn key(&self, name: &Name) -> String {
        super::Model::key(name, &self.opts.default_schema)
    }

    /// Whether `table` was created by a script of the same run before statement `stmt`.
    pub fn created_in_run(&self, table: &Name, stmt: usize) -> bool {
        self.model
            .created
            .get(&self.key(table))
            .is_some_and(|&(p, g)| p < self.pos(stmt) && g == self.script.group)
    }

    /// The size that decides a finding at position `at`.
    pub fn size(&self, table: &Name, at: Pos) -> Size {
        let key = self.key(table);
        if self
            .model
            .created
            .get(&key)
            .is_some_and(|&(p, g)| p < at && g == self.script.group)
        {
            return Size::New;
        }
        match self.live {
            None => Size::Unknown,
            Some(live) => match self.asked(live, table) {
                Some(Some(t)) => Size::Live {
                    rows: t.rows,
                    bytes: t.bytes,
                },
                Some(None) => Size::Missing,
                // Not asked about: judge as if offline rather than drop a finding.
                None => Size::Unknown,
            },
        }
    }

    fn asked(&self, live: &'a Live, table: &Name) -> Option<&'a Option<super::facts::Table>> {
        live.tables.get(table).or_else(|| {
            live.tables
                .iter()
                .find(|(n, _)| n.same(table, &self.opts.default_schema))
                .map(|(_, t)| t)
        })
    }

    pub fn live_table(&self, table: &Name) -> Option<&'a super::facts::Table> {
        self.asked(self.live?, table)?.as_ref()
    }

    /// Whether `table` counts as big at statement `stmt`: not created by the run, and not
    /// known to be small. Without a database every existing table may be big.
    pub fn big(&self, table: &Name, stmt: usize) -> bool {
        match self.size(table, self.pos(stmt)) {
            Size::New | Size::Missing => false,
            Size::Unknown => true,
            Size::Live { rows, bytes } => {
                rows >= self.opts.small_rows || bytes as u64 >= self.opts.small_bytes
            }
        }
    }

    /// The column's type before statement `stmt`: from the scripts when one of them set it,
    /// else from the catalog.
    pub fn column_type(&self, table: &Name, column: &str, stmt: usize) -> Option<TypeName> {
        let at = self.pos(stmt);
        let from_scripts = self
            .model
            .columns
            .get(&(self.key(table), column.to_string()))
            .and_then(|h| h.iter().rev().find(|(p, _)| *p < at));
        if let Some((_, ty)) = from_scripts {
            return ty.clone();
        }
        self.live_table(table)?.columns.get(column)?.0.clone()
    }

    /// Whether the column is NOT NULL already in the catalog.
    pub fn live_not_null(&self, table: &Name, column: &str) -> Option<bool> {
        Some(self.live_table(table)?.columns.get(column)?.1)
    }

    /// Whether a validated `CHECK (col IS NOT NULL)` exists before statement `stmt`.
    pub fn proven_not_null(&self, table: &Name, column: &str, stmt: usize) -> bool {
        let at = self.pos(stmt);
        let in_scripts = self
            .model
            .proven_not_null
            .get(&(self.key(table), column.to_string()))
            .is_some_and(|ps| ps.iter().any(|p| *p < at));
        in_scripts
            || self
                .live_table(table)
                .is_some_and(|t| t.proven_not_null.contains(column))
    }

    /// Whether a function is volatile: the catalog's word, else the built-in lists; `None`
    /// when neither knows it.
    pub fn volatile(&self, function: &str) -> Option<bool> {
        if let Some(v) = self.live.and_then(|l| l.volatile.get(function)) {
            return Some(*v);
        }
        let bare = function.rsplit('.').next().unwrap_or(function);
        if VOLATILE.contains(&bare) {
            Some(true)
        } else if NOT_VOLATILE.contains(&bare) {
            Some(false)
        } else {
            None
        }
    }

    pub fn session(&self) -> Session {
        self.live.map(|l| l.session).unwrap_or_default()
    }

    /// The server's `server_version_num`, when connected.
    pub fn version(&self) -> Option<u32> {
        self.session().version
    }

    pub fn transactional(&self) -> bool {
        self.script.input.transactional
    }

    pub fn phase(&self) -> crate::core::directives::Phase {
        self.script.input.phase
    }

    /// The planner's row estimate for a data change, when connected.
    pub fn estimate(&self, stmt: usize) -> Option<u64> {
        self.live?
            .estimates
            .get(&(self.script.input.display.to_string(), stmt))
            .copied()
    }

    /// An index the scripts or the catalog know, and its table.
    pub fn index_table(&self, index: &Name, stmt: usize) -> Option<Name> {
        let at = self.pos(stmt);
        if let Some((p, _, t)) = self.model.indexes.get(&self.key(index)) {
            if *p < at {
                return Some(t.clone());
            }
        }
        let live = self.live?;
        live.indexes
            .get(index)
            .or_else(|| {
                live.indexes
                    .iter()
                    .find(|(n, _)| n.same(index, &self.opts.default_schema))
                    .map(|(_, i)| i)
            })
            .map(|i| i.table.clone())
    }

    /// Whether the catalog holds `index` as INVALID.
    pub fn index_invalid(&self, index: &Name) -> bool {
        self.live.is_some_and(|l| {
            l.indexes
                .iter()
                .any(|(n, i)| !i.valid && n.same(index, &self.opts.default_schema))
        })
    }
}

/// Support for the rules' own tests: lint SQL as one static script, or against facts.
#[cfg(test)]
pub mod testing {
    use super::super::facts::{Live, Table};
    use super::super::parse::Name;
    use super::super::{Finding, Input, Options, lint};
    use crate::core::directives::{self, Phase};
    use crate::core::split::split;

    pub fn run(sql: &str, live: Option<&Live>) -> Vec<Finding> {
        let stmts = split(sql).unwrap();
        let transactional = !stmts
            .iter()
            .any(|s| crate::core::split::non_transactional_reason(s.text(sql)).is_some());
        run_with(sql, transactional, live, &Options::default())
    }

    /// One script, run in a transaction or not as told, with these options: the rule ids.
    pub fn run_with(
        sql: &str,
        transactional: bool,
        live: Option<&Live>,
        opts: &Options,
    ) -> Vec<Finding> {
        let phase = directives::read(sql).map(|d| d.phase).unwrap_or_default();
        let stmts = split(sql).unwrap();
        let input = Input {
            display: "V1__t.sql",
            version: None,
            sql,
            statements: &stmts,
            transactional,
            phase,
            linted: true,
        };
        lint(&[input], live, opts).findings
    }

    /// The rule ids that fire, with their severity, statically.
    pub fn ids(sql: &str) -> Vec<String> {
        run(sql, None)
            .into_iter()
            .filter(|f| f.allowed.is_none())
            .map(|f| format!("{}:{}", f.rule, f.severity.as_str()))
            .collect()
    }

    /// Whether `rule` fires on `sql` statically (allowed findings do not count).
    pub fn fires(rule: &str, sql: &str) -> bool {
        run(sql, None)
            .iter()
            .any(|f| f.rule == rule && f.allowed.is_none())
    }

    /// A live database holding `big` (300 000 rows), `small` (50 rows) and `empty`.
    pub fn live() -> Live {
        let mut l = Live::default();
        l.session.version = Some(150_004);
        l.session.utc = Some(true);
        for (name, rows, bytes) in [
            ("big", 300_000u64, 40i64 << 20),
            ("small", 50, 16 << 10),
            ("empty", 0, 8 << 10),
        ] {
            l.tables.insert(
                Name::bare(name),
                Some(Table {
                    rows,
                    bytes,
                    ..Table::default()
                }),
            );
        }
        l
    }

    /// The facts of one of [`live`]'s tables, to change for a case.
    pub fn table_mut<'a>(l: &'a mut Live, name: &str) -> &'a mut Table {
        l.tables
            .get_mut(&Name::bare(name))
            .and_then(Option::as_mut)
            .unwrap_or_else(|| panic!("no table {name} in the test database"))
    }

    /// The severity `rule` gets on `sql` against `live`, if it fires.
    pub fn live_severity(rule: &str, sql: &str, live: &Live) -> Option<&'static str> {
        run(sql, Some(live))
            .iter()
            .find(|f| f.rule == rule && f.allowed.is_none())
            .map(|f| f.severity.as_str())
    }

    pub fn contract(sql: &str) -> String {
        format!("-- schemagate:contract\n{sql}")
    }

    #[allow(dead_code)]
    pub fn phase_of(sql: &str) -> Phase {
        directives::read(sql).unwrap().phase
    }
}
