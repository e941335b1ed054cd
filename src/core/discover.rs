//! Discovery: (path, bytes) entries read by an adapter → sorted, checksummed scripts, or errors naming each bad file.

use std::collections::BTreeMap;

use super::backfill;
use super::checksum::checksum;
use super::directives::{self, Phase};
use super::script::{Kind, ScriptName, parse_name};

/// One file as the filesystem adapter found it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Path relative to its location root, `/`-separated: what the history's `script` column holds.
    pub path: String,
    /// The path a person recognises in an error (location joined with `path`).
    pub display: String,
    pub bytes: Vec<u8>,
}

/// Per-script settings from `<script>.sql.conf` (Flyway's script configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptConf {
    /// `Some(false)`: run outside a transaction even if no statement needs it.
    pub execute_in_transaction: Option<bool>,
    pub placeholder_replacement: bool,
}

impl Default for ScriptConf {
    fn default() -> Self {
        ScriptConf {
            execute_in_transaction: None,
            placeholder_replacement: true,
        }
    }
}

/// A migration or callback script, decoded and checksummed.
#[derive(Clone, Debug)]
pub struct Script {
    pub path: String,
    pub display: String,
    pub name: ScriptName,
    /// UTF-8 text, BOM dropped, line endings as in the file.
    pub sql: String,
    /// Flyway's checksum of the raw file.
    pub checksum: i32,
    pub conf: ScriptConf,
    /// From its `schemagate:` directive (SPEC §11); expand unless it says otherwise.
    pub phase: Phase,
}

impl Script {
    /// The file name without its folders, for `${schemagate:filename}`.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Everything a set of locations holds.
#[derive(Clone, Debug, Default)]
pub struct Scripts {
    /// Versioned (by version) then repeatable (by description) migrations.
    pub migrations: Vec<Script>,
    /// Callbacks by event, several per event in description order.
    pub callbacks: Vec<Script>,
    /// `U` files: valid names, never run.
    pub undo: Vec<Script>,
    /// `.sql` files whose names are no migration's, skipped because naming is not validated
    /// (Flyway's `validateMigrationNaming=false`): (file, why).
    pub skipped: Vec<(String, String)>,
}

/// True for the files discovery wants to read: `.sql` scripts and their `.sql.conf` files.
/// Lets the adapter skip everything else without reading it.
pub fn wants(file_name: &str) -> bool {
    ends_with_ignore_case(file_name, ".sql") || ends_with_ignore_case(file_name, ".sql.conf")
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.is_char_boundary(s.len() - suffix.len())
        && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Takes the bytes by value: a large script is decoded in place, never copied.
fn decode(bytes: Vec<u8>, display: &str) -> Result<String, String> {
    let mut text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{display}: not valid UTF-8 at byte offset {}; save the file as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    // memchr: SIMD, where `str::find` for a char walks a word at a time.
    if let Some(at) = memchr::memchr(0, text.as_bytes()) {
        return Err(format!(
            "{display}: contains a NUL byte at byte offset {at}, which PostgreSQL cannot take in SQL text"
        ));
    }
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

fn parse_conf(text: &str, display: &str, base: ScriptConf) -> Result<ScriptConf, String> {
    let mut conf = base;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            return Err(format!("{display} line {}: expected key=value", i + 1));
        };
        let value = value.trim();
        let flag = || match value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!(
                "{display} line {}: `{}` must be true or false",
                i + 1,
                key.trim()
            )),
        };
        match key.trim() {
            "executeInTransaction" => conf.execute_in_transaction = Some(flag()?),
            "placeholderReplacement" => conf.placeholder_replacement = flag()?,
            "encoding"
                if value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8") => {}
            "encoding" => {
                return Err(format!(
                    "{display} line {}: only UTF-8 scripts are supported; convert the script and remove encoding={value}",
                    i + 1
                ));
            }
            other => {
                return Err(format!(
                    "{display} line {}: unknown setting `{other}`; known: executeInTransaction, placeholderReplacement, encoding",
                    i + 1
                ));
            }
        }
    }
    Ok(conf)
}

/// Turns the entries of all locations into scripts. Every problem is collected, so one run
/// names every bad file at once rather than one per attempt.
pub fn discover(entries: Vec<Entry>) -> Result<Scripts, Vec<String>> {
    discover_with(entries, &Options::default())
}

/// How a run reads its scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `false`: a misnamed `.sql` file is skipped (and listed in `skipped`), not refused.
    pub validate_naming: bool,
    /// What a script without its own `.sql.conf` setting gets.
    pub defaults: ScriptConf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            validate_naming: true,
            defaults: ScriptConf::default(),
        }
    }
}

/// [`discover`] under `options`.
pub fn discover_with(entries: Vec<Entry>, options: &Options) -> Result<Scripts, Vec<String>> {
    let validate_naming = options.validate_naming;
    let mut problems = Vec::new();
    let mut confs: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    // Sized up front: growing these copies every entry again, into pages touched for the
    // first time, and a thousand-script run pays for each such page.
    let mut sql_entries = Vec::with_capacity(entries.len());
    for e in entries {
        if ends_with_ignore_case(&e.path, ".sql.conf") {
            let script_display = e.display[..e.display.len() - ".conf".len()].to_string();
            confs.insert(script_display, (e.display, e.bytes));
        } else {
            sql_entries.push(e);
        }
    }

    let mut out = Scripts::default();
    out.migrations.reserve(sql_entries.len());
    for e in sql_entries {
        let file_name = e.path.rsplit('/').next().unwrap_or(&e.path);
        let name = match parse_name(file_name) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(why) if !validate_naming => {
                out.skipped.push((e.display, why));
                continue;
            }
            Err(why) => {
                problems.push(format!("{}: {why}", e.display));
                continue;
            }
        };
        let sql = match decode(e.bytes, &e.display) {
            Ok(s) => s,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let conf = match confs.remove(&e.display) {
            None => options.defaults,
            Some((conf_display, bytes)) => {
                match decode(bytes, &conf_display)
                    .and_then(|t| parse_conf(&t, &conf_display, options.defaults))
                {
                    Ok(c) => c,
                    Err(p) => {
                        problems.push(p);
                        continue;
                    }
                }
            }
        };
        let phase = match script_phase(&name, &sql) {
            Ok(p) => p,
            Err(why) => {
                problems.extend(why.into_iter().map(|w| format!("{}: {w}", e.display)));
                continue;
            }
        };
        let script = Script {
            phase,
            checksum: checksum(&sql),
            path: e.path,
            display: e.display,
            name,
            sql,
            conf,
        };
        match script.name.kind {
            Kind::Versioned(_) | Kind::Repeatable => out.migrations.push(script),
            Kind::Callback(_) => out.callbacks.push(script),
            Kind::Undo(_) => out.undo.push(script),
        }
    }
    for (script_display, (conf_display, _)) in confs {
        problems.push(format!(
            "{conf_display}: configures {script_display}, which does not exist; rename or remove it"
        ));
    }

    // `then_with`: the paths share the location's prefix, and comparing them for every pair
    // (not only for ties) was most of a thousand-file sort.
    out.migrations.sort_by(|a, b| {
        order_key(&a.name)
            .cmp(&order_key(&b.name))
            .then_with(|| a.display.cmp(&b.display))
    });
    out.undo.sort_by(|a, b| {
        a.name
            .version()
            .cmp(&b.name.version())
            .then_with(|| a.display.cmp(&b.display))
    });
    let callback_key = |s: &Script| match s.name.kind {
        Kind::Callback(c) => Some(c),
        _ => None,
    };
    out.callbacks.sort_by(|a, b| {
        (callback_key(a), &a.name.description, &a.display).cmp(&(
            callback_key(b),
            &b.name.description,
            &b.display,
        ))
    });
    report_duplicates(&out.migrations, &mut problems);
    report_duplicates(&out.undo, &mut problems);
    for u in &out.undo {
        let Some(v) = u.name.version() else { continue };
        // Both lists are sorted by version, but a binary search would need the repeatables
        // apart; undo files are few.
        let has_its_script = out
            .migrations
            .iter()
            .any(|m| matches!(&m.name.kind, Kind::Versioned(mv) if mv == v));
        if !has_its_script {
            problems.push(format!(
                "{}: there is no V{v}__*.sql for this undo file; an undo file reverts the versioned script of its version and is stored with it when that applies. Add V{v}, or remove this file",
                u.display
            ));
        }
    }
    report_duplicates(&out.callbacks, &mut problems);

    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The phase a script's directives give it, checked against what it is: only a versioned
/// migration has a phase other than expand, and a backfill must be one statement that limits
/// itself. Refused here, before connecting, so that no pod starts a release that cannot run.
fn script_phase(name: &ScriptName, sql: &str) -> Result<Phase, Vec<String>> {
    let d = directives::read(sql)?;
    let line = d.phase_line.unwrap_or(1);
    match (d.phase, &name.kind) {
        (Phase::Expand, _) => Ok(Phase::Expand),
        (p, Kind::Versioned(_)) => {
            if p == Phase::Backfill {
                backfill::check_shape(sql).map_err(|why| {
                    vec![format!(
                        "line {line}: `schemagate:backfill`, but the script {why}"
                    )]
                })?;
            }
            Ok(p)
        }
        (p, _) => Err(vec![format!(
            "line {line}: `schemagate:{p}` is for versioned migrations (V<version>__<description>.sql); a repeatable, undo or callback script always runs as written"
        )]),
    }
}

/// Versioned by version first, then repeatables by description: the order they apply in.
fn order_key(n: &ScriptName) -> (u8, Option<&super::script::Version>, &str) {
    match &n.kind {
        Kind::Versioned(v) | Kind::Undo(v) => (0, Some(v), ""),
        Kind::Repeatable => (1, None, &n.description),
        Kind::Callback(_) => (2, None, &n.description),
    }
}

fn same_identity(a: &ScriptName, b: &ScriptName) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Versioned(x), Kind::Versioned(y)) | (Kind::Undo(x), Kind::Undo(y)) => x == y,
        (Kind::Repeatable, Kind::Repeatable) => a.description == b.description,
        (Kind::Callback(x), Kind::Callback(y)) => x == y && a.description == b.description,
        _ => false,
    }
}

/// Sorted input puts equal identities next to each other.
fn report_duplicates(scripts: &[Script], problems: &mut Vec<String>) {
    for pair in scripts.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if same_identity(&a.name, &b.name) {
            let what = match a.name.version() {
                Some(v) => format!("version {v}"),
                None => format!("description \"{}\"", a.name.description),
            };
            problems.push(format!(
                "{} and {} both have {what}; give one of them another {}",
                a.display,
                b.display,
                if a.name.version().is_some() {
                    "version"
                } else {
                    "name"
                }
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, body: &str) -> Entry {
        Entry {
            path: path.into(),
            display: format!("sql/{path}"),
            bytes: body.as_bytes().to_vec(),
        }
    }

    fn versions(s: &Scripts) -> Vec<String> {
        s.migrations
            .iter()
            .map(|m| {
                m.name
                    .version()
                    .map_or(format!("R:{}", m.name.description), |v| v.to_string())
            })
            .collect()
    }

    #[test]
    fn scripts_sort_numerically_with_repeatables_last() {
        let s = discover(vec![
            entry("V10__ten.sql", ""),
            entry("R__view.sql", ""),
            entry("V2__two.sql", ""),
            entry("sub/V1.1__one_one.sql", ""),
            entry("V7.1__seven.sql", ""),
            entry("V1__one.sql", ""),
            entry("afterMigrate.sql", ""),
        ])
        .unwrap();
        assert_eq!(versions(&s), ["1", "1.1", "2", "7.1", "10", "R:view"]);
        assert_eq!(s.callbacks.len(), 1);
        assert_eq!(s.migrations[1].path, "sub/V1.1__one_one.sql");
    }

    #[test]
    fn every_bad_file_is_named_at_once() {
        let err = discover(vec![
            entry("V1_init.sql", ""),
            entry("seed.sql", ""),
            entry("V2__a.sql", ""),
            entry("V2.0__b.sql", ""),
            entry("R__v.sql", ""),
            entry("other/R__v.sql", ""),
            Entry {
                path: "V3__bin.sql".into(),
                display: "sql/V3__bin.sql".into(),
                bytes: b"SELECT 1;\n\xff".to_vec(),
            },
        ])
        .unwrap_err();
        let all = err.join("\n");
        assert!(all.contains("sql/V1_init.sql"), "{all}");
        assert!(all.contains("sql/seed.sql"), "{all}");
        assert!(
            all.contains("sql/V2.0__b.sql")
                && all.contains("sql/V2__a.sql")
                && all.contains("version 2"),
            "{all}"
        );
        assert!(all.contains("description \"v\""), "{all}");
        assert!(
            all.contains("sql/V3__bin.sql: not valid UTF-8 at byte offset 10"),
            "{all}"
        );
        assert_eq!(err.len(), 5, "{all}");
    }

    #[test]
    fn an_undo_file_needs_the_versioned_script_of_its_version() {
        let s = discover(vec![
            entry("V1__a.sql", ""),
            entry("V2.0__b.sql", ""),
            entry("U2__undo_b.sql", "DROP TABLE b;"),
        ])
        .unwrap();
        assert_eq!(s.undo.len(), 1);
        let err = discover(vec![entry("V1__a.sql", ""), entry("U3__undo_c.sql", "")]).unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(
            err[0].starts_with("sql/U3__undo_c.sql: there is no V3__*.sql for this undo file"),
            "{err:?}"
        );
    }

    #[test]
    fn bom_is_dropped_and_other_endings_are_ignored() {
        let s = discover(vec![
            entry("V1__x.sql", "\u{feff}SELECT 1;\n"),
            entry("README.md", "x"),
        ])
        .unwrap();
        assert_eq!(s.migrations[0].sql, "SELECT 1;\n");
        assert_eq!(s.migrations[0].checksum, 78787420);
    }

    #[test]
    fn conf_files_set_transaction_mode_and_are_checked() {
        let s = discover(vec![
            entry("V1__idx.sql", "CREATE INDEX CONCURRENTLY i ON t (a);"),
            entry("V1__idx.sql.conf", "executeInTransaction=false\n"),
        ])
        .unwrap();
        assert_eq!(s.migrations[0].conf.execute_in_transaction, Some(false));
        let err = discover(vec![
            entry("V1__x.sql", ""),
            entry("V1__x.sql.conf", "shouldExecute=true\n"),
            entry("V9__gone.sql.conf", ""),
        ])
        .unwrap_err();
        assert!(
            err[0].contains("unknown setting `shouldExecute`"),
            "{err:?}"
        );
        assert!(
            err[1].contains("V9__gone.sql.conf") && err[1].contains("does not exist"),
            "{err:?}"
        );
    }

    #[test]
    fn phases_come_from_directives_and_bad_ones_are_named_with_file_and_line() {
        let s = discover(vec![
            entry("V1__add.sql", "ALTER TABLE t ADD COLUMN c int;"),
            entry("V2__drop.sql", "-- schemagate:contract\nALTER TABLE t DROP COLUMN b;"),
            entry(
                "V3__fill.sql",
                "-- schemagate:backfill\nUPDATE t SET c = 1 WHERE id IN (SELECT id FROM t WHERE c IS NULL LIMIT ${schemagate:batch_size});",
            ),
        ])
        .unwrap();
        let phases: Vec<Phase> = s.migrations.iter().map(|m| m.phase).collect();
        assert_eq!(phases, [Phase::Expand, Phase::Contract, Phase::Backfill]);
        let err = discover(vec![
            entry(
                "V1__typo.sql",
                "-- schemagate:contarct\nALTER TABLE t DROP COLUMN b;",
            ),
            entry(
                "V2__fill.sql",
                "-- schemagate:backfill\nUPDATE t SET c = 1;\nUPDATE t SET d = 2;",
            ),
            entry(
                "R__view.sql",
                "\n-- schemagate:contract\nCREATE VIEW v AS SELECT 1;",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err[0].starts_with("sql/V1__typo.sql: line 1: unknown directive `schemagate:contarct`; did you mean `schemagate:contract`?"), "{err:?}");
        assert!(
            err[1].starts_with(
                "sql/V2__fill.sql: line 1: `schemagate:backfill`, but the script holds 2 statements"
            ),
            "{err:?}"
        );
        assert!(
            err[2].starts_with(
                "sql/R__view.sql: line 2: `schemagate:contract` is for versioned migrations"
            ),
            "{err:?}"
        );
    }

    #[test]
    fn nul_bytes_are_refused_with_their_offset() {
        let err = discover(vec![entry("V1__x.sql", "SELECT\0 1;")]).unwrap_err();
        assert!(err[0].contains("NUL byte at byte offset 6"), "{err:?}");
    }
}
