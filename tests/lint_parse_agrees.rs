//! The lint's focused parser reads what PostgreSQL's own parser (libpg_query) reads: the same statement kind, target table, CONCURRENTLY flag and ALTER TABLE sub-commands, over every labelled case, the fixture and a list of tricky forms.

use pg_query::NodeEnum;
use pg_query::protobuf::{AlterTableType, ConstrType, RangeVar};
use schemagate::core::lint::parse::{Action, ConstraintKind, Name, Stmt, parse};
use schemagate::core::split::split;

/// Statements whose shape the rules depend on, beyond the cases and the fixture.
const EXTRA: &[&str] = &[
    r#"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Idx" ON ONLY app."Orders" USING btree (a) WHERE b IS NULL"#,
    "CREATE INDEX ON t ((lower(email)))",
    "ALTER TABLE IF EXISTS ONLY s.t ADD COLUMN IF NOT EXISTS c character varying(20) NOT NULL DEFAULT 'x', DROP COLUMN IF EXISTS d CASCADE",
    "ALTER TABLE t ALTER COLUMN a SET DATA TYPE numeric(12, 2) USING a::numeric, ALTER b DROP NOT NULL, ALTER c SET NOT NULL",
    "ALTER TABLE t ADD CONSTRAINT c CHECK ((x IS NOT NULL)) NOT VALID, VALIDATE CONSTRAINT d, DROP CONSTRAINT IF EXISTS e",
    "ALTER TABLE t ADD FOREIGN KEY (a, b) REFERENCES u (x, y) ON DELETE CASCADE NOT VALID",
    "ALTER TABLE t ADD CONSTRAINT k PRIMARY KEY USING INDEX k_idx",
    "ALTER TABLE t ADD CONSTRAINT k UNIQUE NULLS NOT DISTINCT (a)",
    "ALTER TABLE t ALTER COLUMN a SET DEFAULT now(), ALTER COLUMN a SET STATISTICS 100",
    "ALTER TABLE m ATTACH PARTITION m2 FOR VALUES FROM (1) TO (10)",
    "ALTER TABLE m DETACH PARTITION m2 CONCURRENTLY",
    "ALTER TABLE m DETACH PARTITION m2",
    "ALTER TABLE t SET UNLOGGED",
    "ALTER TABLE t ENABLE TRIGGER ALL",
    "DROP INDEX CONCURRENTLY IF EXISTS a.i1",
    "DROP TABLE IF EXISTS a, s.b CASCADE",
    "DROP VIEW v",
    "TRUNCATE TABLE ONLY a, b RESTART IDENTITY CASCADE",
    "UPDATE ONLY t AS x SET a = 1 FROM u WHERE u.id = x.id",
    "DELETE FROM s.t USING u WHERE u.id = t.id",
    "INSERT INTO t (a) SELECT a FROM u",
    "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
    "VACUUM (FULL, ANALYZE) a",
    "CLUSTER VERBOSE t USING t_pkey",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY mv WITH DATA",
    "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
    "SET LOCAL lock_timeout = '2s'",
    "SET SESSION statement_timeout TO 0",
    "RESET lock_timeout",
    "LOCK TABLE a, b IN SHARE ROW EXCLUSIVE MODE",
    "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' BEFORE 'sad'",
    "CREATE TRIGGER tr BEFORE UPDATE ON s.t FOR EACH ROW EXECUTE FUNCTION f()",
    "ALTER TABLE t RENAME COLUMN a TO b",
    "ALTER TABLE t RENAME TO u",
];

fn pg_name(r: &RangeVar) -> Name {
    Name {
        schema: (!r.schemaname.is_empty()).then(|| r.schemaname.clone()),
        name: r.relname.clone(),
    }
}

fn subtype(cmd: &pg_query::protobuf::AlterTableCmd) -> &'static str {
    AlterTableType::try_from(cmd.subtype)
        .map(|t| t.as_str_name())
        .unwrap_or("?")
}

fn contype(node: &Option<Box<pg_query::protobuf::Node>>) -> Option<(&'static str, bool)> {
    match node.as_ref()?.node.as_ref()? {
        NodeEnum::Constraint(c) => Some((
            ConstrType::try_from(c.contype)
                .map(|t| t.as_str_name())
                .unwrap_or("?"),
            c.skip_validation,
        )),
        _ => None,
    }
}

/// What our reading and PostgreSQL's disagree on, if anything.
fn disagreement(sql: &str) -> Option<String> {
    compare(sql, parse(sql))
}

fn compare(sql: &str, ours: Stmt) -> Option<String> {
    let pg = pg_query::parse(sql, 0).ok()?;
    let node = pg
        .protobuf
        .stmts
        .first()?
        .stmt
        .as_ref()?
        .node
        .as_ref()?
        .clone();
    let bad = |why: String| Some(format!("{why}\n  sql: {sql}\n  ours: {ours:?}"));
    match (&node, &ours) {
        (
            NodeEnum::IndexStmt(i),
            Stmt::CreateIndex {
                name,
                table,
                unique,
                concurrently,
                if_not_exists,
            },
        ) => {
            let pg_table = pg_name(i.relation.as_ref()?);
            if *table != pg_table
                || *unique != i.unique
                || *concurrently != i.concurrent
                || *if_not_exists != i.if_not_exists
            {
                return bad(format!(
                    "index: pg says {pg_table:?} unique={} concurrent={}",
                    i.unique, i.concurrent
                ));
            }
            if name.as_ref().map(|n| n.name.as_str()).unwrap_or("") != i.idxname {
                return bad(format!("index name: pg says {:?}", i.idxname));
            }
        }
        (NodeEnum::CreateStmt(c), Stmt::CreateTable { table, .. }) => {
            if *table != pg_name(c.relation.as_ref()?) {
                return bad("table name".into());
            }
        }
        (NodeEnum::AlterTableStmt(a), Stmt::AlterTable { table, actions }) => {
            if *table != pg_name(a.relation.as_ref()?) {
                return bad("altered table".into());
            }
            if a.cmds.len() != actions.len() {
                return bad(format!(
                    "{} sub-commands, pg says {}",
                    actions.len(),
                    a.cmds.len()
                ));
            }
            for (cmd, act) in a.cmds.iter().zip(actions) {
                let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else {
                    return bad("not a command".into());
                };
                let st = subtype(cmd);
                let ok = match act {
                    Action::AddColumn(c) => {
                        st == "AT_AddColumn"
                            && matches!(cmd.def.as_ref().and_then(|d| d.node.as_ref()), Some(NodeEnum::ColumnDef(d)) if d.colname == c.name)
                    }
                    Action::DropColumn { column } => st == "AT_DropColumn" && cmd.name == *column,
                    Action::AlterType { column, .. } => {
                        st == "AT_AlterColumnType" && cmd.name == *column
                    }
                    Action::SetNotNull { column } => st == "AT_SetNotNull" && cmd.name == *column,
                    Action::DropNotNull { column } => st == "AT_DropNotNull" && cmd.name == *column,
                    Action::ValidateConstraint { name } => {
                        st == "AT_ValidateConstraint" && cmd.name == *name
                    }
                    Action::DropConstraint { name } => {
                        st == "AT_DropConstraint" && cmd.name == *name
                    }
                    Action::AttachPartition { partition } => {
                        st == "AT_AttachPartition"
                            && matches!(cmd.def.as_ref().and_then(|d| d.node.as_ref()), Some(NodeEnum::PartitionCmd(p)) if p.name.as_ref().map(pg_name).as_ref() == Some(partition))
                    }
                    Action::DetachPartition {
                        partition,
                        concurrently,
                    } => {
                        st == "AT_DetachPartition"
                            && matches!(cmd.def.as_ref().and_then(|d| d.node.as_ref()), Some(NodeEnum::PartitionCmd(p)) if p.name.as_ref().map(pg_name).as_ref() == Some(partition) && p.concurrent == *concurrently)
                    }
                    Action::AddConstraint {
                        kind, not_valid, ..
                    } => {
                        let want = match kind {
                            ConstraintKind::Check { .. } => "CONSTR_CHECK",
                            ConstraintKind::ForeignKey { .. } => "CONSTR_FOREIGN",
                            ConstraintKind::Unique { .. } => "CONSTR_UNIQUE",
                            ConstraintKind::PrimaryKey { .. } => "CONSTR_PRIMARY",
                            ConstraintKind::Exclude => "CONSTR_EXCLUSION",
                            ConstraintKind::NotNull { .. } => "CONSTR_NOTNULL",
                        };
                        st == "AT_AddConstraint" && contype(&cmd.def) == Some((want, *not_valid))
                    }
                    Action::Rewrite { .. } => matches!(
                        st,
                        "AT_SetTableSpace"
                            | "AT_SetLogged"
                            | "AT_SetUnLogged"
                            | "AT_SetAccessMethod"
                            | "AT_SetExpression"
                    ),
                    Action::Other { .. } => !matches!(
                        st,
                        "AT_AddColumn"
                            | "AT_DropColumn"
                            | "AT_AlterColumnType"
                            | "AT_SetNotNull"
                            | "AT_DropNotNull"
                            | "AT_AddConstraint"
                            | "AT_ValidateConstraint"
                            | "AT_DropConstraint"
                    ),
                    Action::RenameColumn { .. }
                    | Action::RenameTable { .. }
                    | Action::RenameConstraint
                    | Action::SetSchema => false,
                };
                if !ok {
                    return bad(format!("sub-command {act:?}: pg says {st}"));
                }
            }
        }
        // PostgreSQL's grammar makes these RenameStmt; ours keeps them with ALTER TABLE.
        (NodeEnum::RenameStmt(r), Stmt::AlterTable { table, actions }) => {
            let renamed = matches!(actions.as_slice(), [Action::RenameColumn { from, to }] if *from == r.subname && *to == r.newname)
                || matches!(actions.as_slice(), [Action::RenameTable { to }] if *to == r.newname);
            if !renamed || r.relation.as_ref().map(pg_name).as_ref() != Some(table) {
                return bad("rename".into());
            }
        }
        (
            NodeEnum::DropStmt(d),
            Stmt::DropIndex {
                names,
                concurrently,
            },
        ) => {
            if d.concurrent != *concurrently || d.objects.len() != names.len() {
                return bad("drop index".into());
            }
        }
        (
            NodeEnum::DropStmt(d),
            Stmt::Drop {
                names, if_exists, ..
            },
        ) => {
            if d.objects.len() != names.len() || d.missing_ok != *if_exists {
                return bad("drop".into());
            }
        }
        (NodeEnum::TruncateStmt(t), Stmt::Truncate { tables, cascade }) => {
            let pg: Vec<Name> = t
                .relations
                .iter()
                .filter_map(|n| match n.node.as_ref() {
                    Some(NodeEnum::RangeVar(r)) => Some(pg_name(r)),
                    _ => None,
                })
                .collect();
            if pg != *tables || (t.behavior == 2) != *cascade {
                return bad(format!("truncate: pg says {pg:?} behavior {}", t.behavior));
            }
        }
        (
            NodeEnum::UpdateStmt(u),
            Stmt::Change {
                verb: "UPDATE",
                table,
                has_where,
            },
        ) => {
            if *table != pg_name(u.relation.as_ref()?) || u.where_clause.is_some() != *has_where {
                return bad("update".into());
            }
        }
        (
            NodeEnum::DeleteStmt(u),
            Stmt::Change {
                verb: "DELETE",
                table,
                has_where,
            },
        ) => {
            if *table != pg_name(u.relation.as_ref()?) || u.where_clause.is_some() != *has_where {
                return bad("delete".into());
            }
        }
        (NodeEnum::InsertStmt(i), Stmt::InsertSelect { table }) => {
            if *table != pg_name(i.relation.as_ref()?) {
                return bad("insert".into());
            }
        }
        (NodeEnum::InsertStmt(_), Stmt::Other) => {
            // INSERT … VALUES: not a data change the rules count.
            let select_from = sql.to_ascii_lowercase().contains(" select ");
            if select_from {
                return bad("insert … select read as other".into());
            }
        }
        (NodeEnum::VacuumStmt(_), Stmt::Vacuum { .. })
        | (NodeEnum::ClusterStmt(_), Stmt::Cluster { .. })
        | (NodeEnum::RefreshMatViewStmt(_), Stmt::Refresh { .. })
        | (NodeEnum::ReindexStmt(_), Stmt::Reindex { .. })
        | (NodeEnum::LockStmt(_), Stmt::Lock { .. })
        | (NodeEnum::AlterEnumStmt(_), Stmt::AddEnumValue { .. })
        | (NodeEnum::CreateTrigStmt(_), Stmt::CreateTrigger { .. })
        | (NodeEnum::TransactionStmt(_), Stmt::Transaction) => {}
        (NodeEnum::VariableSetStmt(v), Stmt::Set { local, name, .. }) => {
            if v.is_local != *local || v.name != *name {
                return bad("set".into());
            }
        }
        (NodeEnum::VariableSetStmt(v), Stmt::Reset { name }) => {
            if v.name != *name && !(v.name.is_empty() && name == "all") {
                return bad("reset".into());
            }
        }
        // ANALYZE is a VacuumStmt to PostgreSQL, and takes no lock that stops traffic.
        (NodeEnum::VacuumStmt(v), Stmt::Other) if !v.is_vacuumcmd => {}
        // Everything else is outside the rules, and must be `Other`.
        (_, Stmt::Other) => {
            let judged = matches!(
                node,
                NodeEnum::IndexStmt(_)
                    | NodeEnum::AlterTableStmt(_)
                    | NodeEnum::UpdateStmt(_)
                    | NodeEnum::DeleteStmt(_)
                    | NodeEnum::TruncateStmt(_)
                    | NodeEnum::VacuumStmt(_)
                    | NodeEnum::ReindexStmt(_)
            );
            if judged {
                return bad("a statement the rules judge, read as Other".into());
            }
        }
        (NodeEnum::CreateTableAsStmt(_) | NodeEnum::AlterObjectSchemaStmt(_), _) => {}
        (pg, ours) => {
            let pg = format!("{pg:?}");
            return bad(format!(
                "kinds differ: pg {}… ours {ours:?}",
                &pg[..pg.len().min(40)]
            ));
        }
    }
    None
}

fn statements() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lint");
    let mut texts = vec![std::fs::read_to_string(format!("{root}/fixture.sql")).unwrap()];
    let mut cases: Vec<_> = std::fs::read_dir(format!("{root}/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    for c in cases {
        texts.push(std::fs::read_to_string(c).unwrap());
    }
    let mut out: Vec<String> = EXTRA.iter().map(|s| s.to_string()).collect();
    for t in texts {
        // What the runner sends: placeholders resolved.
        let t = t
            .replace("${schema}", "public")
            .replace("${schemagate:batch_size}", "100");
        for s in split(&t).unwrap() {
            out.push(s.text(&t).to_string());
        }
    }
    out
}

#[test]
fn the_focused_parser_reads_what_postgres_reads() {
    let all = statements();
    assert!(all.len() > 120, "{} statements", all.len());
    let problems: Vec<String> = all.iter().filter_map(|s| disagreement(s)).collect();
    assert!(
        problems.is_empty(),
        "{} of {} disagree:\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );
}

#[test]
fn the_comparison_can_fail() {
    // Wrong readings of statements PostgreSQL reads plainly must each be caught.
    let sql = "CREATE INDEX i ON t (a)";
    assert!(compare(sql, parse(sql)).is_none());
    let Stmt::CreateIndex {
        name,
        table,
        unique,
        if_not_exists,
        ..
    } = parse(sql)
    else {
        panic!()
    };
    let wrong = Stmt::CreateIndex {
        name,
        table,
        unique,
        if_not_exists,
        concurrently: true,
    };
    assert!(compare(sql, wrong).is_some());
    let sql = "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID";
    let Stmt::AlterTable { table, .. } = parse(sql) else {
        panic!()
    };
    let wrong = Stmt::AlterTable {
        table,
        actions: vec![Action::AddConstraint {
            name: Some("c".into()),
            kind: ConstraintKind::Check { not_null_of: None },
            not_valid: false,
        }],
    };
    assert!(compare(sql, wrong).is_some());
    assert!(compare("UPDATE t SET a = 1 WHERE b", Stmt::Other).is_some());
}
