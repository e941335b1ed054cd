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
    /// The comparison key's first 8 bytes, big-endian, zero-padded. The key, compared
    /// bytewise: for each part, its digit count (4 bytes, big-endian) then its digits, with
    /// leading zeros dropped (a zero part is a count of 0 and no digits) and trailing zero
    /// parts dropped. A part with more digits is the larger number and counts come first, so
    /// the bytes order as the numbers do; a key that is a prefix of another is the smaller
    /// version, because what follows it ends in a part above zero.
    ///
    /// A key ends in a digit, never in a zero byte, so padding cannot make two keys look
    /// equal, and a version up to 4 digits compares in one integer comparison. Every run
    /// sorts, inserts and looks up a thousand versions on each pod start.
    head: u64,
    /// The key after its first 8 bytes: empty (no allocation) for most versions.
    tail: Box<[u8]>,
}

impl Version {
    /// Parses version text as written in a file name, a setting or the history table.
    pub fn parse(text: &str) -> Result<Version, String> {
        if text.is_empty() {
            return Err("the version is empty".into());
        }
        let mut key = Vec::with_capacity(text.len() + 12);
        // The key's length after the last part above zero: trailing zero parts end there.
        let mut significant = 0;
        for part in text.as_bytes().split(|&b| b == b'.' || b == b'_') {
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(format!(
                    "`{}` is not a version: use digits separated by `.` or `_`, like 7, 7.1 or 2024_05_01",
                    text.replace('_', ".")
                ));
            }
            let zeros = part.iter().take_while(|&&b| b == b'0').count();
            let digits = &part[zeros..];
            // A part longer than u32::MAX digits cannot come from a file name or a column.
            let count = u32::try_from(digits.len()).unwrap_or(u32::MAX);
            key.extend_from_slice(&count.to_be_bytes());
            key.extend_from_slice(digits);
            if !digits.is_empty() {
                significant = key.len();
            }
        }
        key.truncate(significant);
        let mut head = [0u8; 8];
        let n = key.len().min(8);
        head[..n].copy_from_slice(&key[..n]);
        Ok(Version {
            text: if text.contains('_') {
                text.replace('_', ".")
            } else {
                text.to_owned()
            },
            head: u64::from_be_bytes(head),
            tail: key[n..].into(),
        })
    }

    /// The text as written, `_` turned into `.`: what the history table stores.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // The tails in an inline loop: `[u8]::cmp` calls the C library's memcmp, and musl's
        // goes byte by byte behind a call.
        self.head.cmp(&other.head).then_with(|| {
            let (a, b) = (&self.tail, &other.tail);
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| x.cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.len().cmp(&b.len()))
        })
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
    /// `U<version>__…`: the undo of `V<version>`, stored with it when it applies and run by
    /// `schemagate undo` (SPEC §12; Flyway has it only in its paid edition).
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
        assert!(v("1") < v("1.0.1"));
        assert!(v("1.0.1") < v("1.1"));
        assert!(v("1.0.0.0") < v("1.0.0.1"));
        assert_eq!(v("1.0.0"), v("1"));
        assert!(v("2.0") > v("1.255"));
        assert!(v("256") > v("255.9"));
        assert!(v("12345.1") > v("12345"));
        assert!(v("123456789.2") > v("123456789.1"));
        assert_eq!(v("2024_05_01_1200"), v("2024.5.1.1200"));
    }

    /// The definition: numbers compared part by part, a missing part counting as zero.
    fn by_definition(a: &str, b: &str) -> Ordering {
        let parts = |s: &str| -> Vec<String> {
            s.split('.')
                .map(|p| match p.trim_start_matches('0') {
                    "" => "0".to_string(),
                    d => d.to_string(),
                })
                .collect()
        };
        let (a, b) = (parts(a), parts(b));
        let zero = "0".to_string();
        (0..a.len().max(b.len()))
            .map(|i| {
                let (x, y) = (a.get(i).unwrap_or(&zero), b.get(i).unwrap_or(&zero));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    #[test]
    fn the_byte_key_orders_versions_as_the_definition_does() {
        let parts = ["0", "00", "1", "01", "10", "256", "12345"];
        let mut versions = Vec::new();
        for n in 1..=3u32 {
            let mut idx = vec![0usize; n as usize];
            loop {
                let text: Vec<&str> = idx.iter().map(|&i| parts[i]).collect();
                versions.push(text.join("."));
                let mut k = 0;
                while k < idx.len() && idx[k] == parts.len() - 1 {
                    idx[k] = 0;
                    k += 1;
                }
                if k == idx.len() {
                    break;
                }
                idx[k] += 1;
            }
        }
        let parsed: Vec<Version> = versions.iter().map(|t| v(t)).collect();
        for (a, va) in versions.iter().zip(&parsed) {
            for (b, vb) in versions.iter().zip(&parsed) {
                assert_eq!(va.cmp(vb), by_definition(a, b), "{a} vs {b}");
            }
        }
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
