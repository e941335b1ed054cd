//! A focused parser over the lexer's tokens: the statement shapes the lint rules judge (DDL that locks or rewrites, data changes, session settings), everything else as `Other`.
//!
//! It is not a PostgreSQL grammar. It reads the keywords that decide a rule (`CONCURRENTLY`,
//! `NOT VALID`, `USING INDEX`, a column's type and default) and skips what it does not need by
//! balanced parentheses, so a statement it does not know is `Other`, never an error: the
//! server, not the linter, reports syntax errors. `tests/lint_parse_agrees.rs` checks its
//! reading against PostgreSQL's own parser (`pg_query`).

use super::types::TypeName;
use crate::core::lexer::{Token, TokenKind, tokens};

/// A possibly schema-qualified name, folded as PostgreSQL folds it: unquoted words lower-cased,
/// quoted ones kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub schema: Option<String>,
    pub name: String,
}

impl Name {
    pub fn bare(name: &str) -> Name {
        Name {
            schema: None,
            name: name.to_string(),
        }
    }

    /// As SQL would write it: quoted where folding would change it.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        }
    }

    /// The same object, whichever way it was qualified: `public.t` and `t` match when the
    /// unqualified one resolves to `default_schema`.
    pub fn same(&self, other: &Name, default_schema: &str) -> bool {
        self.name == other.name
            && self.schema.as_deref().unwrap_or(default_schema)
                == other.schema.as_deref().unwrap_or(default_schema)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql())
    }
}

fn quote(ident: &str) -> String {
    let plain = ident
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_lowercase() || b == b'_' || (i > 0 && b.is_ascii_digit()));
    if plain && !ident.is_empty() {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// A column as `CREATE TABLE` or `ADD COLUMN` defines it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: Option<TypeName>,
    /// The default's function calls, lower-cased (`now`, `nextval`, `public.f`), and whether
    /// it has one at all.
    pub default: Option<Default>,
    pub not_null: bool,
    pub primary_key: bool,
    pub unique: bool,
    pub check: bool,
    pub references: Option<Name>,
    pub identity: bool,
    pub generated_stored: bool,
    pub generated_virtual: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Default {
    /// Function names called in the expression, as written (lower-cased, qualified if so).
    pub calls: Vec<String>,
    /// `DEFAULT NULL`: no value at all.
    pub null: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConstraintKind {
    /// The columns a `CHECK (col IS NOT NULL)` proves non-null, if it is that shape.
    Check {
        not_null_of: Option<String>,
    },
    ForeignKey {
        references: Option<Name>,
    },
    Unique {
        using_index: bool,
    },
    PrimaryKey {
        using_index: bool,
        columns: Vec<String>,
    },
    Exclude,
    /// PostgreSQL 18: `ADD CONSTRAINT n NOT NULL col`.
    NotNull {
        column: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    AddColumn(ColumnDef),
    DropColumn {
        column: String,
    },
    AlterType {
        column: String,
        ty: Option<TypeName>,
        using: bool,
    },
    SetNotNull {
        column: String,
    },
    DropNotNull {
        column: String,
    },
    AddConstraint {
        name: Option<String>,
        kind: ConstraintKind,
        not_valid: bool,
    },
    ValidateConstraint {
        name: String,
    },
    DropConstraint {
        name: String,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    RenameTable {
        to: String,
    },
    RenameConstraint,
    SetSchema,
    /// SET TABLESPACE, SET LOGGED / UNLOGGED, SET ACCESS METHOD, SET EXPRESSION: the table is
    /// copied or rewritten.
    Rewrite {
        what: &'static str,
    },
    AttachPartition {
        partition: Name,
    },
    DetachPartition {
        partition: Name,
        concurrently: bool,
    },
    /// Anything else; `exclusive` when it takes ACCESS EXCLUSIVE (most sub-commands do).
    Other {
        exclusive: bool,
    },
}

impl Action {
    /// Whether this sub-command takes ACCESS EXCLUSIVE (reference §4.2).
    pub fn exclusive(&self) -> bool {
        match self {
            Action::AttachPartition { .. } | Action::ValidateConstraint { .. } => false,
            Action::DetachPartition { concurrently, .. } => !concurrently,
            Action::AddConstraint {
                kind: ConstraintKind::ForeignKey { .. },
                ..
            } => false,
            Action::Other { exclusive } => *exclusive,
            _ => true,
        }
    }
}

/// What can be dropped; the app may use any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    Table,
    Schema,
    View,
    MaterializedView,
    Function,
    Type,
    Sequence,
}

impl Dropped {
    pub fn word(self) -> &'static str {
        match self {
            Dropped::Table => "table",
            Dropped::Schema => "schema",
            Dropped::View => "view",
            Dropped::MaterializedView => "materialized view",
            Dropped::Function => "function",
            Dropped::Type => "type",
            Dropped::Sequence => "sequence",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    CreateTable {
        table: Name,
        columns: Vec<ColumnDef>,
        partitioned: bool,
    },
    CreateIndex {
        name: Option<Name>,
        table: Name,
        unique: bool,
        concurrently: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<Name>,
        concurrently: bool,
    },
    AlterTable {
        table: Name,
        actions: Vec<Action>,
    },
    Drop {
        what: Dropped,
        names: Vec<Name>,
        if_exists: bool,
    },
    /// `ALTER SCHEMA|VIEW … RENAME TO`, `ALTER TYPE … RENAME VALUE`.
    Rename {
        what: &'static str,
        name: Name,
    },
    Truncate {
        tables: Vec<Name>,
        cascade: bool,
    },
    /// UPDATE or DELETE.
    Change {
        verb: &'static str,
        table: Name,
        has_where: bool,
    },
    InsertSelect {
        table: Name,
    },
    Vacuum {
        full: bool,
        tables: Vec<Name>,
    },
    Cluster {
        table: Option<Name>,
    },
    Refresh {
        view: Name,
        concurrently: bool,
    },
    Reindex {
        /// INDEX, TABLE, SCHEMA, DATABASE or SYSTEM.
        kind: &'static str,
        name: Option<Name>,
        concurrently: bool,
    },
    /// `SET [LOCAL|SESSION] name = value` and `SET name TO value`.
    Set {
        local: bool,
        name: String,
        value: String,
    },
    /// `RESET name` / `RESET ALL`.
    Reset {
        name: String,
    },
    Lock {
        tables: Vec<Name>,
        mode: Option<String>,
    },
    AddEnumValue {
        ty: Name,
        value: String,
        positioned: bool,
    },
    CreateTrigger {
        table: Name,
    },
    /// `BEGIN`, `COMMIT`, … written in the script.
    Transaction,
    Other,
}

impl Stmt {
    /// The table whose data the statement changes, for the rules that count DDL and data
    /// changes in one transaction.
    pub fn changes_data(&self) -> Option<&Name> {
        match self {
            Stmt::Change { table, .. } | Stmt::InsertSelect { table } => Some(table),
            _ => None,
        }
    }
}

/// A cursor over a statement's significant tokens.
struct Cur<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(src: &'a str) -> Self {
        let toks = tokens(src).filter(|t| !t.is_trivia()).collect();
        Cur { src, toks, i: 0 }
    }

    fn peek(&self) -> Option<Token> {
        self.toks.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<Token> {
        self.toks.get(self.i + k).copied()
    }

    fn is(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(self.src, kw))
    }

    fn is_at(&self, k: usize, kw: &str) -> bool {
        self.peek_at(k).is_some_and(|t| t.is_word(self.src, kw))
    }

    fn eat(&mut self, kw: &str) -> bool {
        if self.is(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Eats the words `kws` in order, or nothing.
    fn eat_all(&mut self, kws: &[&str]) -> bool {
        if kws.iter().enumerate().all(|(k, kw)| self.is_at(k, kw)) {
            self.i += kws.len();
            true
        } else {
            false
        }
    }

    fn kind_is(&self, kind: TokenKind) -> bool {
        self.peek().is_some_and(|t| t.kind == kind)
    }

    fn punct(&self, c: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Punct && t.text(self.src) == c)
    }

    fn eat_punct(&mut self, c: &str) -> bool {
        if self.punct(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.i >= self.toks.len()
    }

    fn word_lower(&self) -> Option<String> {
        self.peek()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text(self.src).to_ascii_lowercase())
    }

    /// One identifier, folded.
    fn ident(&mut self) -> Option<String> {
        let t = self.peek()?;
        let out = match t.kind {
            TokenKind::Word => t.text(self.src).to_lowercase(),
            TokenKind::QuotedIdent => {
                let s = t.text(self.src);
                let inner = s.strip_prefix("U&").unwrap_or(s);
                inner[1..inner.len() - 1].replace("\"\"", "\"")
            }
            _ => return None,
        };
        self.i += 1;
        Some(out)
    }

    /// `a`, `a.b` (and `a.b.c`, keeping the last two).
    fn qname(&mut self) -> Option<Name> {
        let first = self.ident()?;
        let mut parts = vec![first];
        while self.punct(".") {
            self.i += 1;
            match self.ident() {
                Some(p) => parts.push(p),
                None => break,
            }
        }
        let name = parts.pop()?;
        Some(Name {
            schema: parts.pop(),
            name,
        })
    }

    /// Skips one balanced `( … )` group, if the cursor is at one.
    fn skip_group(&mut self) -> bool {
        if !self.kind_is(TokenKind::OpenParen) {
            return false;
        }
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            self.i += 1;
            match t.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// The tokens of a parenthesised group, without the parentheses, split at its top-level
    /// commas; the cursor moves past the group.
    fn group_items(&mut self) -> Vec<Vec<Token>> {
        let mut items = vec![Vec::new()];
        if !self.kind_is(TokenKind::OpenParen) {
            return Vec::new();
        }
        self.i += 1;
        let mut depth = 1usize;
        while let Some(t) = self.peek() {
            self.i += 1;
            match t.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                TokenKind::Punct if depth == 1 && t.text(self.src) == "," => {
                    items.push(Vec::new());
                    continue;
                }
                _ => {}
            }
            items.last_mut().expect("never empty").push(t);
        }
        items.retain(|i| !i.is_empty());
        items
    }

    /// Moves to the next top-level comma (consumed) or the end; false at the end.
    fn skip_past_comma(&mut self) -> bool {
        while let Some(t) = self.peek() {
            if t.kind == TokenKind::OpenParen {
                self.skip_group();
                continue;
            }
            self.i += 1;
            if t.kind == TokenKind::Punct && t.text(self.src) == "," {
                return true;
            }
        }
        false
    }

    /// A sub-cursor over `toks`.
    fn sub(&self, toks: Vec<Token>) -> Cur<'a> {
        Cur {
            src: self.src,
            toks,
            i: 0,
        }
    }

    /// `a, b, c` names up to a word that is not a name separator.
    fn name_list(&mut self) -> Vec<Name> {
        let mut out = Vec::new();
        loop {
            self.eat("only");
            let Some(n) = self.qname() else { break };
            out.push(n);
            self.eat_punct("*");
            if !self.eat_punct(",") {
                break;
            }
        }
        out
    }
}

/// A name as the catalog prints one (`regclass::text`: `orders`, `shop."Orders"`).
pub fn name(text: &str) -> Option<Name> {
    Cur::new(text).qname()
}

/// A type as `format_type` prints one (`character varying(20)`, `integer[]`).
pub fn type_text(text: &str) -> Option<TypeName> {
    type_name(&mut Cur::new(text))
}

/// Reads one statement's text.
pub fn parse(stmt: &str) -> Stmt {
    let mut c = Cur::new(stmt);
    let Some(first) = c.word_lower() else {
        return Stmt::Other;
    };
    c.i += 1;
    match first.as_str() {
        // `WITH … AS (…)` before an INSERT, UPDATE or DELETE: the statement after it counts.
        "with" => {
            c.eat("recursive");
            loop {
                c.ident();
                c.skip_group();
                c.eat("as");
                c.eat("not");
                c.eat("materialized");
                if !c.skip_group() {
                    return Stmt::Other;
                }
                if !c.eat_punct(",") {
                    break;
                }
            }
            match c.peek() {
                Some(t) => parse(&stmt[t.start..]),
                None => Stmt::Other,
            }
        }
        "create" => create(&mut c),
        "alter" => alter(&mut c),
        "drop" => drop(&mut c),
        "truncate" => {
            c.eat("table");
            let tables = c.name_list();
            let cascade = rest_has(&c, "cascade");
            Stmt::Truncate { tables, cascade }
        }
        "update" => change(&mut c, "UPDATE"),
        "delete" if c.eat("from") => change(&mut c, "DELETE"),
        "insert" => {
            if !c.eat("into") {
                return Stmt::Other;
            }
            let Some(table) = c.qname() else {
                return Stmt::Other;
            };
            // `INSERT … VALUES` touches the rows it lists; `INSERT … SELECT` as many as the
            // query finds.
            let mut k = c.i;
            while let Some(t) = c.toks.get(k) {
                if t.kind == TokenKind::OpenParen {
                    let mut d = 0;
                    while let Some(t) = c.toks.get(k) {
                        match t.kind {
                            TokenKind::OpenParen => d += 1,
                            TokenKind::CloseParen => d -= 1,
                            _ => {}
                        }
                        k += 1;
                        if d == 0 {
                            break;
                        }
                    }
                    continue;
                }
                if t.is_word(stmt, "select") || t.is_word(stmt, "with") {
                    return Stmt::InsertSelect { table };
                }
                if t.is_word(stmt, "values") || t.is_word(stmt, "default") {
                    break;
                }
                k += 1;
            }
            Stmt::Other
        }
        "vacuum" => {
            let mut full = false;
            if c.kind_is(TokenKind::OpenParen) {
                let items = c.group_items();
                full = items.iter().any(|i| {
                    i.first().is_some_and(|t| t.is_word(stmt, "full"))
                        && !i.get(1).is_some_and(|t| {
                            t.is_word(stmt, "false")
                                || t.is_word(stmt, "off")
                                || t.text(stmt) == "0"
                        })
                });
            } else {
                while let Some(w) = c.word_lower() {
                    match w.as_str() {
                        "full" => full = true,
                        "freeze" | "verbose" | "analyze" | "analyse" => {}
                        _ => break,
                    }
                    c.i += 1;
                }
            }
            Stmt::Vacuum {
                full,
                tables: c.name_list(),
            }
        }
        "cluster" => {
            c.eat("verbose");
            if c.kind_is(TokenKind::OpenParen) {
                c.skip_group();
            }
            Stmt::Cluster { table: c.qname() }
        }
        "refresh" => {
            if !c.eat_all(&["materialized", "view"]) {
                return Stmt::Other;
            }
            let concurrently = c.eat("concurrently");
            match c.qname() {
                Some(view) => Stmt::Refresh { view, concurrently },
                None => Stmt::Other,
            }
        }
        "reindex" => {
            let mut concurrently = false;
            if c.kind_is(TokenKind::OpenParen) {
                let items = c.group_items();
                concurrently = items
                    .iter()
                    .any(|i| i.first().is_some_and(|t| t.is_word(stmt, "concurrently")));
            }
            let kind = match c.word_lower().as_deref() {
                Some("index") => "INDEX",
                Some("table") => "TABLE",
                Some("schema") => "SCHEMA",
                Some("database") => "DATABASE",
                Some("system") => "SYSTEM",
                _ => return Stmt::Other,
            };
            c.i += 1;
            concurrently |= c.eat("concurrently");
            Stmt::Reindex {
                kind,
                name: c.qname(),
                concurrently,
            }
        }
        "set" => {
            let local = c.eat("local");
            if !local {
                c.eat("session");
            }
            let Some(name) = c.ident() else {
                return Stmt::Other;
            };
            if !(c.eat("to") || c.eat_punct("=")) {
                return Stmt::Other;
            }
            let value = c.toks[c.i..]
                .iter()
                .map(|t| t.text(stmt))
                .collect::<Vec<_>>()
                .join(" ");
            Stmt::Set { local, name, value }
        }
        "reset" => match c.ident() {
            Some(name) => Stmt::Reset { name },
            None => Stmt::Other,
        },
        "lock" => {
            c.eat("table");
            let tables = c.name_list();
            let mode = c.eat("in").then(|| {
                let words: Vec<String> = c.toks[c.i..]
                    .iter()
                    .take_while(|t| !t.is_word(stmt, "mode"))
                    .map(|t| t.text(stmt).to_ascii_uppercase())
                    .collect();
                words.join(" ")
            });
            Stmt::Lock { tables, mode }
        }
        "begin" | "commit" | "rollback" | "savepoint" | "release" | "end" => Stmt::Transaction,
        "start" if c.is("transaction") => Stmt::Transaction,
        _ => Stmt::Other,
    }
}

/// `UPDATE [ONLY] t …` / `DELETE FROM [ONLY] t …`, the cursor after the verb.
fn change(c: &mut Cur<'_>, verb: &'static str) -> Stmt {
    c.eat("only");
    match c.qname() {
        Some(table) => Stmt::Change {
            verb,
            table,
            has_where: rest_has(c, "where"),
        },
        None => Stmt::Other,
    }
}

/// Whether a top-level word `kw` appears in the rest of the statement (outside parentheses).
fn rest_has(c: &Cur<'_>, kw: &str) -> bool {
    let mut depth = 0i32;
    c.toks[c.i..].iter().any(|t| {
        match t.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth -= 1,
            _ => {}
        }
        depth == 0 && t.is_word(c.src, kw)
    })
}

fn create(c: &mut Cur<'_>) -> Stmt {
    c.eat_all(&["or", "replace"]);
    let mut unique = false;
    loop {
        match c.word_lower().as_deref() {
            Some("global" | "local" | "temp" | "temporary" | "unlogged") => c.i += 1,
            Some("unique") => {
                unique = true;
                c.i += 1
            }
            _ => break,
        }
    }
    if c.eat("index") {
        let concurrently = c.eat("concurrently");
        let if_not_exists = c.eat_all(&["if", "not", "exists"]);
        let name = if c.is("on") { None } else { c.qname() };
        if !c.eat("on") {
            return Stmt::Other;
        }
        c.eat("only");
        return match c.qname() {
            Some(table) => Stmt::CreateIndex {
                name,
                table,
                unique,
                concurrently,
                if_not_exists,
            },
            None => Stmt::Other,
        };
    }
    if c.eat("table") {
        c.eat_all(&["if", "not", "exists"]);
        let Some(table) = c.qname() else {
            return Stmt::Other;
        };
        let mut columns = Vec::new();
        if c.kind_is(TokenKind::OpenParen) {
            for item in c.group_items() {
                let mut s = c.sub(item);
                if matches!(
                    s.word_lower().as_deref(),
                    Some(
                        "constraint"
                            | "check"
                            | "unique"
                            | "primary"
                            | "foreign"
                            | "exclude"
                            | "like"
                    )
                ) {
                    continue;
                }
                if let Some(col) = column_def(&mut s) {
                    columns.push(col);
                }
            }
        }
        let partitioned =
            rest_has(c, "partition") && c.toks[c.i..].iter().any(|t| t.is_word(c.src, "by"));
        return Stmt::CreateTable {
            table,
            columns,
            partitioned,
        };
    }
    if c.eat_all(&["constraint", "trigger"]) || c.eat("trigger") {
        let mut depth = 0i32;
        while let Some(t) = c.peek() {
            match t.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => depth -= 1,
                _ => {}
            }
            c.i += 1;
            if depth == 0 && t.is_word(c.src, "on") {
                if let Some(table) = c.qname() {
                    return Stmt::CreateTrigger { table };
                }
            }
        }
    }
    Stmt::Other
}

/// `name type [constraint …]`.
fn column_def(c: &mut Cur<'_>) -> Option<ColumnDef> {
    let name = c.ident()?;
    let mut col = ColumnDef {
        name,
        ty: type_name(c),
        ..ColumnDef::default()
    };
    while !c.done() {
        if c.eat("constraint") {
            c.ident();
            continue;
        }
        if c.eat_all(&["not", "null"]) {
            col.not_null = true;
        } else if c.eat("null") {
        } else if c.eat("default") {
            col.default = Some(default_expr(c));
        } else if c.eat("check") {
            col.check = true;
            c.skip_group();
            c.eat_all(&["no", "inherit"]);
        } else if c.eat("unique") {
            col.unique = true;
            c.eat_all(&["nulls", "not", "distinct"]);
            c.eat_all(&["nulls", "distinct"]);
        } else if c.eat_all(&["primary", "key"]) {
            col.primary_key = true;
        } else if c.eat("references") {
            col.references = c.qname();
            c.skip_group();
        } else if c.eat("generated") {
            let _ = c.eat("always") || c.eat_all(&["by", "default"]);
            c.eat("as");
            if c.eat("identity") {
                col.identity = true;
                c.skip_group();
            } else {
                c.skip_group();
                if c.eat("virtual") {
                    col.generated_virtual = true;
                } else {
                    // STORED, and PostgreSQL 12–17 know only stored ones.
                    c.eat("stored");
                    col.generated_stored = true;
                }
            }
        } else if c.eat("collate") {
            c.qname();
        } else {
            c.i += 1;
        }
    }
    Some(col)
}

/// The tokens of a DEFAULT expression up to the next column constraint.
fn default_expr(c: &mut Cur<'_>) -> Default {
    const STOP: [&str; 9] = [
        "constraint",
        "not",
        "check",
        "unique",
        "primary",
        "references",
        "generated",
        "collate",
        "default",
    ];
    let mut d = Default::default();
    let mut first = true;
    let mut depth = 0i32;
    while let Some(t) = c.peek() {
        if depth == 0 && STOP.iter().any(|k| t.is_word(c.src, k)) {
            break;
        }
        if depth == 0 && !first && t.is_word(c.src, "null") {
            break;
        }
        match t.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth -= 1,
            TokenKind::Word | TokenKind::QuotedIdent
                if c.peek_at(1).is_some_and(|n| n.kind == TokenKind::OpenParen) =>
            {
                let mut name = t.text(c.src).to_lowercase();
                // `schema.f(`: the qualified name.
                if c.i >= 2 && c.toks[c.i - 1].text(c.src) == "." {
                    name = format!("{}.{name}", c.toks[c.i - 2].text(c.src).to_lowercase());
                }
                d.calls.push(name);
            }
            TokenKind::Word if first && t.is_word(c.src, "null") => d.null = true,
            TokenKind::Word => {
                // The SQL-standard value functions written without parentheses.
                let w = t.text(c.src).to_ascii_lowercase();
                if matches!(
                    w.as_str(),
                    "current_timestamp"
                        | "current_date"
                        | "current_time"
                        | "localtimestamp"
                        | "localtime"
                        | "current_user"
                        | "session_user"
                        | "current_schema"
                ) {
                    d.calls.push(w);
                }
            }
            _ => {}
        }
        first = false;
        c.i += 1;
    }
    d
}

/// A type name with its modifiers: `varchar(20)`, `character varying`, `numeric(10, 2)`,
/// `timestamp(3) with time zone`, `int[]`, `public.mood`.
fn type_name(c: &mut Cur<'_>) -> Option<TypeName> {
    let mut words = Vec::new();
    let first = c.qname()?;
    let qualified = first.schema.is_some();
    words.push(first.name.clone());
    // Multi-word SQL types.
    if !qualified {
        loop {
            let next = c.word_lower();
            let joins = matches!(
                (words.last().map(String::as_str), next.as_deref()),
                (
                    Some("character" | "char" | "national" | "bit"),
                    Some("varying")
                ) | (Some("national"), Some("character" | "char"))
                    | (Some("double"), Some("precision"))
            );
            if !joins {
                break;
            }
            words.push(next.expect("checked"));
            c.i += 1;
        }
    }
    let mut mods = Vec::new();
    if c.kind_is(TokenKind::OpenParen) {
        for item in c.group_items() {
            if let [t] = item.as_slice() {
                if let Ok(n) = t.text(c.src).parse::<i64>() {
                    mods.push(n);
                }
            }
        }
    }
    let mut with_tz = None;
    if c.eat_all(&["with", "time", "zone"]) {
        with_tz = Some(true);
    } else if c.eat_all(&["without", "time", "zone"]) {
        with_tz = Some(false);
    }
    let mut array = false;
    while c.punct("[") || c.is("array") {
        array = true;
        c.i += 1;
        while c.kind_is(TokenKind::Number) || c.punct("]") {
            c.i += 1;
        }
    }
    let schema = first.schema.clone();
    Some(TypeName::new(
        schema,
        &words.join(" "),
        mods,
        with_tz,
        array,
    ))
}

fn alter(c: &mut Cur<'_>) -> Stmt {
    if c.eat("table") {
        if c.eat_all(&["all", "in", "tablespace"]) {
            return Stmt::Other;
        }
        c.eat_all(&["if", "exists"]);
        c.eat("only");
        let Some(table) = c.qname() else {
            return Stmt::Other;
        };
        c.eat_punct("*");
        let mut actions = Vec::new();
        loop {
            let start = c.i;
            actions.push(action(c));
            // An action reads what it needs; the rest, up to its comma, is skipped.
            if c.i == start {
                c.i += 1;
            }
            if !c.skip_past_comma() {
                break;
            }
        }
        return Stmt::AlterTable { table, actions };
    }
    if c.eat("type") {
        let Some(ty) = c.qname() else {
            return Stmt::Other;
        };
        if c.eat_all(&["add", "value"]) {
            c.eat_all(&["if", "not", "exists"]);
            let value = c
                .peek()
                .map(|t| string_value(t.text(c.src)))
                .unwrap_or_default();
            c.i += 1;
            let positioned = c.is("before") || c.is("after");
            return Stmt::AddEnumValue {
                ty,
                value,
                positioned,
            };
        }
        if c.eat_all(&["rename", "value"]) {
            return Stmt::Rename {
                what: "enum value",
                name: ty,
            };
        }
        return Stmt::Other;
    }
    for (words, what) in [
        (&["schema"][..], "schema"),
        (&["view"][..], "view"),
        (&["materialized", "view"][..], "materialized view"),
    ] {
        if c.eat_all(words) {
            c.eat_all(&["if", "exists"]);
            let Some(name) = c.qname() else {
                return Stmt::Other;
            };
            if c.eat_all(&["rename", "to"]) {
                return Stmt::Rename { what, name };
            }
            return Stmt::Other;
        }
    }
    Stmt::Other
}

fn string_value(lit: &str) -> String {
    lit.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("''", "'"))
        .unwrap_or_else(|| lit.to_string())
}

fn action(c: &mut Cur<'_>) -> Action {
    if c.eat("add") {
        if let Some(kind) = table_constraint_start(c) {
            return kind;
        }
        c.eat("column");
        c.eat_all(&["if", "not", "exists"]);
        // The column definition runs to the next top-level comma.
        let mut toks = Vec::new();
        let mut depth = 0i32;
        while let Some(t) = c.peek() {
            match t.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => depth -= 1,
                TokenKind::Punct if depth == 0 && t.text(c.src) == "," => break,
                _ => {}
            }
            toks.push(t);
            c.i += 1;
        }
        let mut s = c.sub(toks);
        return match column_def(&mut s) {
            Some(col) => Action::AddColumn(col),
            None => Action::Other { exclusive: true },
        };
    }
    if c.eat("drop") {
        if c.eat("constraint") {
            c.eat_all(&["if", "exists"]);
            return match c.ident() {
                Some(name) => Action::DropConstraint { name },
                None => Action::Other { exclusive: true },
            };
        }
        let explicit = c.eat("column");
        if !explicit
            && matches!(
                c.word_lower().as_deref(),
                Some("default" | "not" | "expression" | "identity")
            )
        {
            return Action::Other { exclusive: true };
        }
        c.eat_all(&["if", "exists"]);
        return match c.ident() {
            Some(column) => Action::DropColumn { column },
            None => Action::Other { exclusive: true },
        };
    }
    if c.eat("alter") {
        c.eat("column");
        let Some(column) = c.ident() else {
            return Action::Other { exclusive: true };
        };
        if c.eat("type") || c.eat_all(&["set", "data", "type"]) {
            let ty = type_name(c);
            if c.eat("collate") {
                c.qname();
            }
            let using = c.eat("using");
            return Action::AlterType { column, ty, using };
        }
        if c.eat_all(&["set", "not", "null"]) {
            return Action::SetNotNull { column };
        }
        if c.eat_all(&["drop", "not", "null"]) {
            return Action::DropNotNull { column };
        }
        if c.eat_all(&["set", "expression"]) {
            return Action::Rewrite {
                what: "SET EXPRESSION",
            };
        }
        // SET STATISTICS and attribute options take SHARE UPDATE EXCLUSIVE.
        if c.eat_all(&["set", "statistics"]) || (c.is("set") && c.is_at(1, "(")) {
            return Action::Other { exclusive: false };
        }
        if c.is("set") && c.peek_at(1).is_some_and(|t| t.kind == TokenKind::OpenParen) {
            return Action::Other { exclusive: false };
        }
        if c.is("reset") {
            return Action::Other { exclusive: false };
        }
        return Action::Other { exclusive: true };
    }
    if c.eat_all(&["validate", "constraint"]) {
        return match c.ident() {
            Some(name) => Action::ValidateConstraint { name },
            None => Action::Other { exclusive: false },
        };
    }
    if c.eat("rename") {
        if c.eat("constraint") {
            return Action::RenameConstraint;
        }
        if c.eat("to") {
            return match c.ident() {
                Some(to) => Action::RenameTable { to },
                None => Action::Other { exclusive: true },
            };
        }
        c.eat("column");
        let from = c.ident();
        c.eat("to");
        let to = c.ident();
        return match (from, to) {
            (Some(from), Some(to)) => Action::RenameColumn { from, to },
            _ => Action::Other { exclusive: true },
        };
    }
    if c.eat("set") {
        if c.eat("schema") {
            return Action::SetSchema;
        }
        if c.eat("tablespace") {
            return Action::Rewrite {
                what: "SET TABLESPACE",
            };
        }
        if c.eat("logged") {
            return Action::Rewrite { what: "SET LOGGED" };
        }
        if c.eat("unlogged") {
            return Action::Rewrite {
                what: "SET UNLOGGED",
            };
        }
        if c.eat_all(&["access", "method"]) {
            return Action::Rewrite {
                what: "SET ACCESS METHOD",
            };
        }
        if c.eat_all(&["without", "cluster"]) || c.kind_is(TokenKind::OpenParen) {
            return Action::Other { exclusive: false };
        }
        return Action::Other { exclusive: true };
    }
    if c.eat_all(&["cluster", "on"]) {
        return Action::Other { exclusive: false };
    }
    if c.eat_all(&["attach", "partition"]) {
        return match c.qname() {
            Some(partition) => Action::AttachPartition { partition },
            None => Action::Other { exclusive: false },
        };
    }
    if c.eat_all(&["detach", "partition"]) {
        let Some(partition) = c.qname() else {
            return Action::Other { exclusive: true };
        };
        let concurrently = c.eat("concurrently") || c.eat("finalize");
        return Action::DetachPartition {
            partition,
            concurrently,
        };
    }
    // ENABLE/DISABLE TRIGGER: SHARE ROW EXCLUSIVE; every other form here takes AE.
    let trigger = (c.is("enable") || c.is("disable")) && c.is_at(1, "trigger");
    Action::Other {
        exclusive: !trigger,
    }
}

/// `ADD [CONSTRAINT name] CHECK|FOREIGN KEY|UNIQUE|PRIMARY KEY|EXCLUDE|NOT NULL …`.
fn table_constraint_start(c: &mut Cur<'_>) -> Option<Action> {
    let save = c.i;
    let name = if c.eat("constraint") { c.ident() } else { None };
    let kind = if c.eat("check") {
        let items = c.group_items();
        let not_null_of = items.first().and_then(|toks| {
            let mut s = c.sub(toks.clone());
            let col = s.ident()?;
            (s.eat_all(&["is", "not", "null"]) && s.done()).then_some(col)
        });
        ConstraintKind::Check { not_null_of }
    } else if c.eat_all(&["foreign", "key"]) {
        c.skip_group();
        c.eat("references");
        ConstraintKind::ForeignKey {
            references: c.qname(),
        }
    } else if c.eat("unique") {
        c.eat_all(&["nulls", "not", "distinct"]);
        c.eat_all(&["nulls", "distinct"]);
        ConstraintKind::Unique {
            using_index: c.eat_all(&["using", "index"]),
        }
    } else if c.eat_all(&["primary", "key"]) {
        let columns = c
            .group_items()
            .into_iter()
            .filter_map(|toks| c.sub(toks).ident())
            .collect();
        ConstraintKind::PrimaryKey {
            using_index: c.eat_all(&["using", "index"]),
            columns,
        }
    } else if c.eat("exclude") {
        ConstraintKind::Exclude
    } else if c.eat_all(&["not", "null"]) {
        match c.ident() {
            Some(column) => ConstraintKind::NotNull { column },
            None => ConstraintKind::Exclude,
        }
    } else {
        c.i = save;
        return None;
    };
    let not_valid = rest_of_item_has(c, &["not", "valid"]);
    Some(Action::AddConstraint {
        name,
        kind,
        not_valid,
    })
}

/// Whether the words appear, in a row, before the next top-level comma.
fn rest_of_item_has(c: &Cur<'_>, words: &[&str]) -> bool {
    let mut depth = 0i32;
    let toks = &c.toks[c.i..];
    for (k, t) in toks.iter().enumerate() {
        match t.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth -= 1,
            TokenKind::Punct if depth == 0 && t.text(c.src) == "," => return false,
            _ => {}
        }
        if depth == 0
            && words
                .iter()
                .enumerate()
                .all(|(j, w)| toks.get(k + j).is_some_and(|t| t.is_word(c.src, w)))
        {
            return true;
        }
    }
    false
}

fn drop(c: &mut Cur<'_>) -> Stmt {
    if c.eat("index") {
        let concurrently = c.eat("concurrently");
        c.eat_all(&["if", "exists"]);
        return Stmt::DropIndex {
            names: c.name_list(),
            concurrently,
        };
    }
    let what = if c.eat("table") {
        Dropped::Table
    } else if c.eat("schema") {
        Dropped::Schema
    } else if c.eat("view") {
        Dropped::View
    } else if c.eat_all(&["materialized", "view"]) {
        Dropped::MaterializedView
    } else if c.eat("function") || c.eat("procedure") || c.eat("routine") {
        Dropped::Function
    } else if c.eat("type") || c.eat("domain") {
        Dropped::Type
    } else if c.eat("sequence") {
        Dropped::Sequence
    } else {
        return Stmt::Other;
    };
    let if_exists = c.eat_all(&["if", "exists"]);
    let mut names = Vec::new();
    while let Some(n) = c.qname() {
        names.push(n);
        // A function's argument list.
        c.skip_group();
        if !c.eat_punct(",") {
            break;
        }
    }
    Stmt::Drop {
        what,
        names,
        if_exists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alter_actions(sql: &str) -> Vec<Action> {
        match parse(sql) {
            Stmt::AlterTable { actions, .. } => actions,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn names_fold_like_postgres() {
        let Stmt::CreateIndex { name, table, .. } =
            parse(r#"CREATE INDEX "Idx" ON Shop."Orders" (id)"#)
        else {
            panic!()
        };
        assert_eq!(name.unwrap().name, "Idx");
        assert_eq!(table.schema.as_deref(), Some("shop"));
        assert_eq!(table.name, "Orders");
        assert_eq!(table.sql(), "shop.\"Orders\"");
    }

    #[test]
    fn create_index_reads_its_flags() {
        let s = parse("create unique index concurrently if not exists i on only t using btree (a)");
        assert_eq!(
            s,
            Stmt::CreateIndex {
                name: Some(Name::bare("i")),
                table: Name::bare("t"),
                unique: true,
                concurrently: true,
                if_not_exists: true,
            }
        );
        let Stmt::CreateIndex { name, .. } = parse("CREATE INDEX ON t (a)") else {
            panic!()
        };
        assert_eq!(name, None);
    }

    #[test]
    fn add_column_reads_type_default_and_constraints() {
        let acts = alter_actions(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS c character varying(20) NOT NULL DEFAULT lower('X'::text), ADD d int REFERENCES u (id)",
        );
        let Action::AddColumn(c) = &acts[0] else {
            panic!("{acts:?}")
        };
        assert_eq!(c.name, "c");
        assert_eq!(c.ty.as_ref().unwrap().name, "varchar");
        assert_eq!(c.ty.as_ref().unwrap().mods, vec![20]);
        assert!(c.not_null);
        assert_eq!(c.default.as_ref().unwrap().calls, vec!["lower"]);
        let Action::AddColumn(d) = &acts[1] else {
            panic!()
        };
        assert_eq!(d.references, Some(Name::bare("u")));
    }

    #[test]
    fn default_null_and_keyword_functions() {
        let acts = alter_actions(
            "ALTER TABLE t ADD c timestamptz DEFAULT NULL, ADD d timestamp DEFAULT CURRENT_TIMESTAMP NOT NULL",
        );
        let Action::AddColumn(c) = &acts[0] else {
            panic!()
        };
        assert!(c.default.as_ref().unwrap().null);
        let Action::AddColumn(d) = &acts[1] else {
            panic!()
        };
        assert_eq!(d.default.as_ref().unwrap().calls, vec!["current_timestamp"]);
        assert!(d.not_null);
    }

    #[test]
    fn generated_and_identity_columns() {
        let acts = alter_actions(
            "ALTER TABLE t ADD a int GENERATED ALWAYS AS (b * 2) STORED, ADD i bigint GENERATED BY DEFAULT AS IDENTITY, ADD v int GENERATED ALWAYS AS (b) VIRTUAL",
        );
        let Action::AddColumn(a) = &acts[0] else {
            panic!()
        };
        assert!(a.generated_stored);
        let Action::AddColumn(i) = &acts[1] else {
            panic!()
        };
        assert!(i.identity);
        let Action::AddColumn(v) = &acts[2] else {
            panic!()
        };
        assert!(v.generated_virtual && !v.generated_stored);
    }

    #[test]
    fn constraints_read_not_valid_and_using_index() {
        let acts = alter_actions(
            "ALTER TABLE t ADD CONSTRAINT c CHECK (x IS NOT NULL) NOT VALID, ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES s.u (id), ADD CONSTRAINT k UNIQUE USING INDEX i, ADD PRIMARY KEY (a, b)",
        );
        assert_eq!(
            acts[0],
            Action::AddConstraint {
                name: Some("c".into()),
                kind: ConstraintKind::Check {
                    not_null_of: Some("x".into())
                },
                not_valid: true
            }
        );
        assert!(matches!(
            &acts[1],
            Action::AddConstraint { kind: ConstraintKind::ForeignKey { references: Some(n) }, not_valid: false, .. } if n.schema.as_deref() == Some("s")
        ));
        assert!(matches!(
            &acts[2],
            Action::AddConstraint {
                kind: ConstraintKind::Unique { using_index: true },
                ..
            }
        ));
        assert!(matches!(
            &acts[3],
            Action::AddConstraint { kind: ConstraintKind::PrimaryKey { using_index: false, columns }, .. } if columns == &["a", "b"]
        ));
    }

    #[test]
    fn alter_column_forms() {
        let acts = alter_actions(
            "ALTER TABLE t ALTER COLUMN a TYPE bigint USING a::bigint, ALTER b SET NOT NULL, ALTER c DROP NOT NULL, ALTER d SET DATA TYPE text, ALTER e SET STATISTICS 100, DROP COLUMN f, DROP CONSTRAINT g, VALIDATE CONSTRAINT h",
        );
        assert!(
            matches!(&acts[0], Action::AlterType { column, using: true, ty: Some(t) } if column == "a" && t.name == "int8")
        );
        assert_eq!(acts[1], Action::SetNotNull { column: "b".into() });
        assert_eq!(acts[2], Action::DropNotNull { column: "c".into() });
        assert!(
            matches!(&acts[3], Action::AlterType { using: false, ty: Some(t), .. } if t.name == "text")
        );
        assert_eq!(acts[4], Action::Other { exclusive: false });
        assert_eq!(acts[5], Action::DropColumn { column: "f".into() });
        assert_eq!(acts[6], Action::DropConstraint { name: "g".into() });
        assert_eq!(acts[7], Action::ValidateConstraint { name: "h".into() });
    }

    #[test]
    fn drop_default_is_not_a_dropped_column() {
        assert_eq!(
            alter_actions("ALTER TABLE t ALTER COLUMN a DROP DEFAULT")[0],
            Action::Other { exclusive: true }
        );
    }

    #[test]
    fn renames_and_partitions() {
        let acts = alter_actions("ALTER TABLE t RENAME COLUMN a TO b");
        assert_eq!(
            acts[0],
            Action::RenameColumn {
                from: "a".into(),
                to: "b".into()
            }
        );
        assert_eq!(
            alter_actions("ALTER TABLE t RENAME TO u")[0],
            Action::RenameTable { to: "u".into() }
        );
        assert!(matches!(
            alter_actions("ALTER TABLE t DETACH PARTITION p CONCURRENTLY")[0],
            Action::DetachPartition {
                concurrently: true,
                ..
            }
        ));
        assert!(matches!(
            parse("ALTER SCHEMA a RENAME TO b"),
            Stmt::Rename { what: "schema", .. }
        ));
    }

    #[test]
    fn data_changes() {
        assert!(matches!(
            parse("UPDATE t SET a = 1"),
            Stmt::Change {
                verb: "UPDATE",
                has_where: false,
                ..
            }
        ));
        assert!(matches!(
            parse("update t set a = (select 1 where true) where id < 10"),
            Stmt::Change {
                has_where: true,
                ..
            }
        ));
        assert!(matches!(
            parse("UPDATE t SET a = (SELECT b FROM u WHERE u.id = t.id)"),
            Stmt::Change {
                has_where: false,
                ..
            }
        ));
        assert!(matches!(
            parse("INSERT INTO t (a) SELECT a FROM u"),
            Stmt::InsertSelect { .. }
        ));
        assert!(matches!(
            parse("WITH x AS MATERIALIZED (SELECT 1), y (a) AS (SELECT 2) UPDATE t SET a = 1"),
            Stmt::Change {
                verb: "UPDATE",
                has_where: false,
                ..
            }
        ));
        assert_eq!(parse("INSERT INTO t (a) VALUES (1)"), Stmt::Other);
        assert!(matches!(
            parse("insert into t (a) values ((select 1))"),
            Stmt::Other
        ));
    }

    #[test]
    fn maintenance_and_sessions() {
        assert!(matches!(
            parse("VACUUM (FULL, ANALYZE) t"),
            Stmt::Vacuum { full: true, .. }
        ));
        assert!(matches!(
            parse("VACUUM (FULL false) t"),
            Stmt::Vacuum { full: false, .. }
        ));
        assert!(matches!(
            parse("vacuum full t"),
            Stmt::Vacuum { full: true, .. }
        ));
        assert!(matches!(
            parse("VACUUM ANALYZE t"),
            Stmt::Vacuum { full: false, .. }
        ));
        assert!(matches!(
            parse("REINDEX (CONCURRENTLY) INDEX i"),
            Stmt::Reindex {
                concurrently: true,
                kind: "INDEX",
                ..
            }
        ));
        assert_eq!(
            parse("SET LOCAL lock_timeout = '5s'"),
            Stmt::Set {
                local: true,
                name: "lock_timeout".into(),
                value: "'5s'".into()
            }
        );
        assert!(matches!(
            parse("SET statement_timeout TO 0"),
            Stmt::Set { local: false, .. }
        ));
        assert!(matches!(
            parse("LOCK TABLE t"),
            Stmt::Lock { mode: None, .. }
        ));
        assert!(
            matches!(parse("LOCK t IN SHARE MODE"), Stmt::Lock { mode: Some(m), .. } if m == "SHARE")
        );
        assert!(matches!(
            parse("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok'"),
            Stmt::AddEnumValue { positioned: true, value, .. } if value == "meh"
        ));
        assert!(
            matches!(parse("TRUNCATE TABLE a, b CASCADE"), Stmt::Truncate { cascade: true, tables } if tables.len() == 2)
        );
    }

    #[test]
    fn create_table_columns_skip_table_constraints() {
        let Stmt::CreateTable {
            columns,
            partitioned,
            ..
        } = parse(
            "CREATE TABLE IF NOT EXISTS t (id bigserial PRIMARY KEY, name varchar(50) NOT NULL, CONSTRAINT c UNIQUE (name)) PARTITION BY RANGE (id)",
        )
        else {
            panic!()
        };
        assert_eq!(columns.len(), 2);
        assert_eq!(columns[0].ty.as_ref().unwrap().name, "bigserial");
        assert!(partitioned);
    }

    #[test]
    fn drops() {
        assert!(matches!(
            parse("DROP TABLE IF EXISTS a, b CASCADE"),
            Stmt::Drop { what: Dropped::Table, if_exists: true, names } if names.len() == 2
        ));
        assert!(matches!(
            parse("DROP FUNCTION f(int), g(text)"),
            Stmt::Drop { what: Dropped::Function, names, .. } if names.len() == 2
        ));
        assert!(matches!(
            parse("DROP INDEX CONCURRENTLY IF EXISTS i"),
            Stmt::DropIndex {
                concurrently: true,
                ..
            }
        ));
    }

    #[test]
    fn unknown_statements_are_other_not_errors() {
        for s in [
            "",
            "SELECT 1",
            "GRANT ALL ON t TO u",
            "ALTER",
            "CREATE",
            "ALTER TABLE",
            "DROP",
            "comment on table t is 'x'",
        ] {
            let _ = parse(s);
        }
        assert_eq!(parse("SELECT 1"), Stmt::Other);
    }
}
