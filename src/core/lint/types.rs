//! Column types as PostgreSQL resolves them, and what changing one into another costs: nothing, an index rebuild, or a rewrite of the table (reference §4.2).

use std::fmt;

/// A type name folded to PostgreSQL's internal spelling (`integer` → `int4`,
/// `character varying` → `varchar`, `timestamp with time zone` → `timestamptz`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeName {
    pub schema: Option<String>,
    pub name: String,
    pub mods: Vec<i64>,
    pub array: bool,
}

impl TypeName {
    pub fn new(
        schema: Option<String>,
        written: &str,
        mods: Vec<i64>,
        with_tz: Option<bool>,
        array: bool,
    ) -> TypeName {
        let tz = with_tz == Some(true);
        let name = match written {
            "int" | "integer" | "int4" => "int4",
            "smallint" | "int2" => "int2",
            "bigint" | "int8" => "int8",
            "serial" | "serial4" => "serial",
            "bigserial" | "serial8" => "bigserial",
            "smallserial" | "serial2" => "smallserial",
            "varchar" | "character varying" | "char varying" => "varchar",
            "char" | "character" | "bpchar" => "bpchar",
            "national character varying" | "national char varying" => "varchar",
            "national character" | "national char" | "nchar" => "bpchar",
            "decimal" | "numeric" => "numeric",
            "real" | "float4" => "float4",
            "double precision" | "float8" | "float" => "float8",
            "bool" | "boolean" => "bool",
            "timestamp" if tz => "timestamptz",
            "time" if tz => "timetz",
            "bit varying" | "varbit" => "varbit",
            other => other,
        }
        .to_string();
        // `char` alone is char(1).
        let mods = if name == "bpchar" && mods.is_empty() && schema.is_none() {
            vec![1]
        } else {
            mods
        };
        TypeName {
            schema: schema.filter(|s| s != "pg_catalog"),
            name,
            mods,
            array,
        }
    }

    pub fn is_serial(&self) -> bool {
        self.schema.is_none()
            && matches!(self.name.as_str(), "serial" | "bigserial" | "smallserial")
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}.")?;
        }
        f.write_str(&self.name)?;
        if !self.mods.is_empty() {
            let m: Vec<String> = self.mods.iter().map(i64::to_string).collect();
            write!(f, "({})", m.join(","))?;
        }
        if self.array {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

/// What `ALTER COLUMN … TYPE` costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Catalog only: binary-compatible and the type modifier only widens.
    Fast,
    /// No table rewrite, but the column's indexes are rebuilt (`citext` ↔ `text`,
    /// `timestamp` ↔ `timestamptz` under UTC).
    Rebuild,
    /// The table and its indexes are rewritten.
    Rewrite,
}

/// What the server knows that decides some changes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Session {
    /// `server_version_num`.
    pub version: Option<u32>,
    /// Whether the migration session's TimeZone is UTC.
    pub utc: Option<bool>,
}

/// Whether the new type modifier only widens the old one: absent (unlimited) or not smaller.
fn widens(old: &[i64], new: &[i64]) -> bool {
    match (old.first(), new.first()) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(o), Some(n)) => n >= o,
    }
}

/// The cost of changing a column of type `old` to `new`, with no `USING` (reference §4.2).
pub fn classify(old: &TypeName, new: &TypeName, s: Session) -> Change {
    if old == new {
        return Change::Fast;
    }
    if old.array != new.array || old.schema != new.schema {
        return Change::Rewrite;
    }
    let (o, n) = (old.name.as_str(), new.name.as_str());
    match (o, n) {
        ("varchar", "varchar") | ("varbit", "varbit") if widens(&old.mods, &new.mods) => {
            Change::Fast
        }
        ("varchar", "text") => Change::Fast,
        ("text", "varchar") if new.mods.is_empty() => Change::Fast,
        ("citext", "text" | "varchar") | ("text" | "varchar", "citext") if new.mods.is_empty() => {
            Change::Rebuild
        }
        ("numeric", "numeric") => {
            let same_scale =
                old.mods.get(1).copied().unwrap_or(0) == new.mods.get(1).copied().unwrap_or(0);
            if new.mods.is_empty()
                || (!old.mods.is_empty() && same_scale && widens(&old.mods, &new.mods))
            {
                Change::Fast
            } else {
                Change::Rewrite
            }
        }
        ("timestamp", "timestamp")
        | ("timestamptz", "timestamptz")
        | ("time", "time")
        | ("timetz", "timetz")
        | ("interval", "interval")
            if widens(&old.mods, &new.mods) =>
        {
            Change::Fast
        }
        ("timestamp", "timestamptz") | ("timestamptz", "timestamp")
            if s.utc == Some(true)
                && s.version.is_some_and(|v| v >= 120_000)
                && widens(&old.mods, &new.mods) =>
        {
            Change::Rebuild
        }
        _ => Change::Rewrite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, mods: &[i64]) -> TypeName {
        TypeName::new(None, name, mods.to_vec(), None, false)
    }

    const PG15_UTC: Session = Session {
        version: Some(150_000),
        utc: Some(true),
    };

    #[test]
    fn spellings_fold() {
        assert_eq!(t("integer", &[]).name, "int4");
        assert_eq!(t("character varying", &[20]).to_string(), "varchar(20)");
        assert_eq!(
            TypeName::new(None, "timestamp", vec![], Some(true), false).name,
            "timestamptz"
        );
        assert_eq!(t("char", &[]).mods, vec![1]);
    }

    #[test]
    fn binary_compatible_changes_are_fast() {
        let s = Session::default();
        assert_eq!(
            classify(&t("varchar", &[50]), &t("text", &[]), s),
            Change::Fast
        );
        assert_eq!(
            classify(&t("varchar", &[50]), &t("varchar", &[100]), s),
            Change::Fast
        );
        assert_eq!(
            classify(&t("varchar", &[50]), &t("varchar", &[]), s),
            Change::Fast
        );
        assert_eq!(
            classify(&t("numeric", &[10, 2]), &t("numeric", &[12, 2]), s),
            Change::Fast
        );
        assert_eq!(
            classify(&t("numeric", &[10, 2]), &t("numeric", &[]), s),
            Change::Fast
        );
        assert_eq!(
            classify(&t("timestamp", &[3]), &t("timestamp", &[6]), s),
            Change::Fast
        );
    }

    #[test]
    fn narrowing_and_different_types_rewrite() {
        let s = Session::default();
        assert_eq!(
            classify(&t("int4", &[]), &t("int8", &[]), s),
            Change::Rewrite
        );
        assert_eq!(
            classify(&t("varchar", &[100]), &t("varchar", &[50]), s),
            Change::Rewrite
        );
        assert_eq!(
            classify(&t("text", &[]), &t("varchar", &[50]), s),
            Change::Rewrite
        );
        assert_eq!(
            classify(&t("numeric", &[10, 2]), &t("numeric", &[12, 3]), s),
            Change::Rewrite
        );
        assert_eq!(
            classify(&t("bpchar", &[5]), &t("text", &[]), s),
            Change::Rewrite
        );
        assert_eq!(
            classify(&t("int4", &[]), &t("text", &[]), s),
            Change::Rewrite
        );
    }

    #[test]
    fn timestamptz_needs_utc_and_pg12() {
        let tz = TypeName::new(None, "timestamp", vec![], Some(true), false);
        let plain = t("timestamp", &[]);
        assert_eq!(classify(&plain, &tz, PG15_UTC), Change::Rebuild);
        assert_eq!(classify(&plain, &tz, Session::default()), Change::Rewrite);
        let berlin = Session {
            utc: Some(false),
            ..PG15_UTC
        };
        assert_eq!(classify(&plain, &tz, berlin), Change::Rewrite);
    }
}
