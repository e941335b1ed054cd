//! Migration identity: `Version`, the kinds of script, and Flyway's file-name grammar.

use std::cmp::Ordering;
use std::fmt;

/// A migration version: digits separated by `.` (a `_` in a file name reads as `.`).
///
/// Compared numerically part by part with missing parts as zero, as Flyway does, so
/// `7.1 < 7.10`, `1.0 == 1` and `001 == 1`. The text keeps what was written (`_` turned
/// into `.`), because that is what Flyway stores in the `version` column.
#[derive(Clone, Debug)]
pub struct Version {
    text: String,
    /// Parts without leading zeros, trailing zero parts dropped: the comparison key.
    /// Kept as digit strings so that no version is too long to compare.
    key: Vec<String>,
}

impl Version {
    /// Parses version text as written in a file name, a setting or the history table.
    pub fn parse(text: &str) -> Result<Version, String> {
        let text = text.replace('_', ".");
        if text.is_empty() {
            return Err("the version is empty".into());
        }
        let mut key = Vec::new();
        for part in text.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "`{text}` is not a version: use digits separated by `.` or `_`, like 7, 7.1 or 2024_05_01"
                ));
            }
            let trimmed = part.trim_start_matches('0');
            key.push(if trimmed.is_empty() {
                "0".to_string()
            } else {
                trimmed.to_string()
            });
        }
        while key.len() > 1 && key.last().is_some_and(|p| p == "0") {
            key.pop();
        }
        if key == ["0"] {
            key.clear();
        }
        Ok(Version { text, key })
    }

    /// The text as written, `_` turned into `.`: what the history table stores.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn cmp_digits(a: &str, b: &str) -> Ordering {
    // Equal lengths compare digit by digit in an inline loop: `str::cmp` calls the C
    // library's memcmp (musl's goes byte by byte behind a call), and sorting and planning
    // 1000 versions compare them tens of thousands of times.
    a.len().cmp(&b.len()).then_with(|| {
        a.bytes()
            .zip(b.bytes())
            .map(|(x, y)| x.cmp(&y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.key.len().max(other.key.len());
        for i in 0..n {
            let a = self.key.get(i).map_or("0", String::as_str);
            let b = other.key.get(i).map_or("0", String::as_str);
            match cmp_digits(a, b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The SQL callbacks schemagate runs, by Flyway's event names (SPEC §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Callback {
    BeforeMigrate,
    BeforeEachMigrate,
    AfterEachMigrate,
    AfterMigrate,
    AfterMigrateError,
}

impl Callback {
    /// Longest names first, because prefixes are matched with `starts_with`.
    pub const ALL: [Callback; 5] = [
        Callback::AfterMigrateError,
        Callback::BeforeEachMigrate,
        Callback::AfterEachMigrate,
        Callback::BeforeMigrate,
        Callback::AfterMigrate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Callback::BeforeMigrate => "beforeMigrate",
            Callback::BeforeEachMigrate => "beforeEachMigrate",
            Callback::AfterEachMigrate => "afterEachMigrate",
            Callback::AfterMigrate => "afterMigrate",
            Callback::AfterMigrateError => "afterMigrateError",
        }
    }
}

/// Flyway callback events that schemagate recognises but does not run. A file named after
/// one is refused rather than silently skipped, so nobody believes it ran.
const UNSUPPORTED_CALLBACKS: &[&str] = &[
    "afterEachMigrateStatementError",
    "beforeEachMigrateStatement",
    "afterEachMigrateStatement",
    "afterEachMigrateError",
    "afterMigrateApplied",
    "afterValidateError",
    "afterBaselineError",
    "beforeCreateSchema",
    "beforeRepeatables",
    "afterRepairError",
    "afterCleanError",
    "afterInfoError",
    "afterVersioned",
    "beforeValidate",
    "beforeBaseline",
    "afterValidate",
    "afterBaseline",
    "beforeConnect",
    "beforeRepair",
    "afterConnect",
    "createSchema",
    "afterRepair",
    "beforeClean",
    "beforeInfo",
    "afterClean",
    "afterInfo",
];

/// What a `.sql` file is, by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Versioned(Version),
    /// `U<version>__…`: recognised so the name is valid; never run (undo is not in the open-source Flyway either).
    Undo(Version),
    Repeatable,
    Callback(Callback),
}

/// A parsed file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptName {
    pub kind: Kind,
    /// Underscores turned into spaces; may be empty (`V1__.sql`).
    pub description: String,
}

impl ScriptName {
    pub fn version(&self) -> Option<&Version> {
        match &self.kind {
            Kind::Versioned(v) | Kind::Undo(v) => Some(v),
            _ => None,
        }
    }
}

/// Parses a file name (no directory) the way Flyway does (reference §1.2).
///
/// `Ok(None)`: not a `.sql` file, ignored. `Err`: a `.sql` file that is no migration, which
/// schemagate refuses (Flyway's `validateMigrationNaming=true`) so that a typo never skips one.
pub fn parse_name(file_name: &str) -> Result<Option<ScriptName>, String> {
    const SUFFIX: &str = ".sql";
    let Some(stem_len) = file_name.len().checked_sub(SUFFIX.len()) else {
        return Ok(None);
    };
    if !file_name.is_char_boundary(stem_len) || !file_name[stem_len..].eq_ignore_ascii_case(SUFFIX)
    {
        return Ok(None);
    }
    let stem = &file_name[..stem_len];
    let split = |rest: &str| -> (String, String) {
        match rest.split_once("__") {
            Some((v, d)) => (v.to_string(), d.replace('_', " ")),
            None => (rest.to_string(), String::new()),
        }
    };

    for cb in Callback::ALL {
        if let Some(rest) = stem.strip_prefix(cb.name()) {
            let (left, description) = split(rest);
            if !left.is_empty() {
                return Err(format!(
                    "callback names are `{}.sql` or `{}__<description>.sql`",
                    cb.name(),
                    cb.name()
                ));
            }
            return Ok(Some(ScriptName {
                kind: Kind::Callback(cb),
                description,
            }));
        }
    }
    if let Some(event) = UNSUPPORTED_CALLBACKS.iter().find(|e| stem.starts_with(**e)) {
        return Err(format!(
            "`{event}` is a Flyway callback that schemagate does not run; supported callbacks are beforeMigrate, beforeEachMigrate, afterEachMigrate, afterMigrate and afterMigrateError"
        ));
    }
    let versioned = |rest: &str, undo: bool| -> Result<Option<ScriptName>, String> {
        let (left, description) = split(rest);
        if left.is_empty() {
            return Err(
                "a versioned migration needs a version: V<version>__<description>.sql".into(),
            );
        }
        let v = Version::parse(&left)
            .map_err(|e| format!("{e}; the name must be V<version>__<description>.sql"))?;
        let kind = if undo {
            Kind::Undo(v)
        } else {
            Kind::Versioned(v)
        };
        Ok(Some(ScriptName { kind, description }))
    };
    if stem.len() > 1 {
        if let Some(rest) = stem.strip_prefix('V') {
            return versioned(rest, false);
        }
        if let Some(rest) = stem.strip_prefix('U') {
            return versioned(rest, true);
        }
        if let Some(rest) = stem.strip_prefix('R') {
            let (left, description) = split(rest);
            if !left.is_empty() {
                return Err("a repeatable migration has no version: R__<description>.sql".into());
            }
            return Ok(Some(ScriptName {
                kind: Kind::Repeatable,
                description,
            }));
        }
    }
    Err("not a migration name: use V<version>__<description>.sql, R__<description>.sql or a callback name like afterMigrate.sql".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_compare_numerically_part_by_part() {
        assert!(v("7.1") < v("7.10"));
        assert!(v("1.1") < v("2"));
        assert!(v("2") > v("1.999"));
        assert!(v("2") < v("10"));
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("001"), v("1"));
        assert_eq!(v("7.01"), v("7.1"));
        assert_eq!(v("0"), v("0.0"));
        assert!(v("0") < v("0.1"));
        assert!(v("99999999999999999999999") > v("9999999999999999999999"));
    }

    #[test]
    fn version_text_keeps_what_was_written_with_underscores_as_dots() {
        assert_eq!(v("1_01").as_str(), "1.01");
        assert_eq!(v("2024_05_01").as_str(), "2024.05.01");
        assert_eq!(v("001").as_str(), "001");
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in ["", "1..2", "1.", ".1", "1a", "1-2", "+1", "-1", "1 2"] {
            assert!(Version::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn name(file: &str) -> ScriptName {
        parse_name(file)
            .unwrap()
            .unwrap_or_else(|| panic!("{file} ignored"))
    }

    #[test]
    fn flyway_names_parse_as_flyway_parses_them() {
        let n = name("V1__First.sql");
        assert_eq!(n.kind, Kind::Versioned(v("1")));
        assert_eq!(n.description, "First");
        assert_eq!(
            name("V1_2__Populate_table.sql").description,
            "Populate table"
        );
        assert_eq!(
            name("V1_2__Populate_table.sql").version().unwrap().as_str(),
            "1.2"
        );
        assert_eq!(name("V1__.sql").description, "");
        assert_eq!(name("V1.sql").description, "");
        assert_eq!(name("V1__a__b.sql").description, "a  b");
        assert_eq!(name("V1___x.sql").description, " x");
        assert_eq!(name("V7.1__x.SQL").version().unwrap().as_str(), "7.1");
        assert_eq!(name("R__views.sql").kind, Kind::Repeatable);
        assert_eq!(name("R__.sql").description, "");
        assert_eq!(name("U3__undo.sql").kind, Kind::Undo(v("3")));
        assert_eq!(
            name("afterMigrate.sql").kind,
            Kind::Callback(Callback::AfterMigrate)
        );
        assert_eq!(
            name("afterMigrateError.sql").kind,
            Kind::Callback(Callback::AfterMigrateError)
        );
        assert_eq!(name("beforeEachMigrate__grants.sql").description, "grants");
    }

    #[test]
    fn other_endings_are_ignored() {
        for f in ["README.md", "V1__x.sql.conf", "V1__x.sqlx", "sql", ".sql"] {
            assert_eq!(
                parse_name(f),
                if f == ".sql" { parse_name(f) } else { Ok(None) },
                "{f}"
            );
        }
        assert!(parse_name(".sql").is_err());
    }

    #[test]
    fn sql_files_that_parse_as_nothing_are_errors() {
        for f in [
            "V1_init.sql",
            "v1__x.sql",
            "seed.sql",
            "V__x.sql",
            "R1__x.sql",
            "Vlatest__x.sql",
            "beforeValidate.sql",
            "afterMigrateFoo.sql",
            "V.sql",
        ] {
            assert!(parse_name(f).is_err(), "{f} accepted");
        }
    }
}
