//! The counts and content levels' arithmetic: the SQL that counts and hashes a table's rows in chunks (key ranges for integer and uuid keys, key-hash buckets otherwise, the whole table without a key), what a series of looks at a chunk says (equal, a stable difference, or one that kept changing), and which keys two chunks' rows differ in.
//!
//! A row's hash is a 64-bit hash of `row(columns in name order)::text COLLATE "C"`: the
//! text form quotes and delimits every field, so `NULL` and `''` differ, as do
//! `('ab','c')` and `('a','bc')`; name order, because blue and green may hold the columns
//! in another physical order; `COLLATE "C"`, so that a column's nondeterministic collation
//! cannot make two different texts hash alike. A chunk's fingerprint is its row count and
//! the `numeric` sum of its row hashes: order-independent, no sort, no overflow, and a
//! duplicated row counts twice (a XOR would cancel it). What the text of a value is
//! depends on session settings (`TimeZone`, `DateStyle`, `extra_float_digits`, …), which
//! the adapter pins to the same values on both sides.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Change, KeyDifference};
use crate::core::flight::{literal, quote_ident};

/// Which 64-bit hash the servers compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFn {
    /// `hashtextextended`: twice as fast as any digest (measured), but an internal
    /// function; used only when both servers are the same major version and encoding.
    Builtin,
    /// The first 64 bits of `sha256` of the UTF-8 text: the same everywhere since
    /// PostgreSQL 11, and allowed under FIPS, unlike `md5`.
    Sha256,
}

impl HashFn {
    /// `hashtextextended` is safe to compare only between servers that run the same code
    /// on the same bytes.
    pub fn choose(source: (u32, &str), target: (u32, &str)) -> HashFn {
        let major = |v: u32| v / 10_000;
        if major(source.0) == major(target.0) && source.1 == target.1 {
            HashFn::Builtin
        } else {
            HashFn::Sha256
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HashFn::Builtin => "hashtextextended",
            HashFn::Sha256 => "sha256",
        }
    }

    /// The bigint hash of the text expression `text`.
    fn of(self, text: &str) -> String {
        match self {
            HashFn::Builtin => format!("hashtextextended(({text}) COLLATE \"C\", 0)"),
            HashFn::Sha256 => format!(
                "('x' || left(encode(sha256(convert_to(({text}) COLLATE \"C\", 'UTF8')), 'hex'), 16))::bit(64)::bigint"
            ),
        }
    }
}

/// How a table's content is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// One integer or uuid key column: chunks are key ranges whose bounds are read from
    /// the source's primary key index. Neither collation nor text plays a part.
    KeyRange,
    /// Any other key (text, composite): chunks are buckets of a hash of the key, one pass
    /// over the table a side. Collation-proof, where a text range is not (`B` sorts before
    /// `a` in C and after it in en-US).
    KeyHash,
    /// No primary key: one count and one hash of the whole table. A difference is found
    /// but its rows cannot be named.
    WholeTable,
}

impl Method {
    pub fn describe(self) -> &'static str {
        match self {
            Method::KeyRange => "key ranges",
            Method::KeyHash => "key-hash buckets",
            Method::WholeTable => "whole table (no primary key)",
        }
    }
}

/// A table present on both sides, as the content level reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// The columns both sides have, in name order.
    pub columns: Vec<String>,
    /// The source's primary key columns in key order; empty without one.
    pub key: Vec<String>,
    /// The key is one column of an integer type or uuid.
    pub ranged: bool,
}

/// A key range `[from, to)`; `None` is unbounded. Bounds are keys as the source prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A chunk's fingerprint on one side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub rows: i64,
    /// The `numeric` sum of the row hashes, as text (exact).
    pub sum: String,
}

impl Table {
    /// The name as SQL text (always quoted).
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// The name as PostgreSQL prints it, and as the schema level names it:
    /// `public.orders`, `public."Order"`.
    pub fn display(&self) -> String {
        format!("{}.{}", shown_ident(&self.schema), shown_ident(&self.name))
    }

    pub fn method(&self) -> Method {
        match (self.key.len(), self.ranged) {
            (0, _) => Method::WholeTable,
            (1, true) => Method::KeyRange,
            _ => Method::KeyHash,
        }
    }

    fn row_hash(&self, h: HashFn) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
        // `row()` of no columns is `()`; a table of no columns still has rows to count.
        h.of(&format!("row({})::text", cols.join(", ")))
    }

    /// The key as PostgreSQL prints it: the value of a one-column key, the row of a
    /// composite one (`(7,a)`).
    fn key_text(&self) -> String {
        match self.key.as_slice() {
            [one] => format!("{}::text", quote_ident(one)),
            many => {
                let cols: Vec<String> = many.iter().map(|c| quote_ident(c)).collect();
                format!("row({})::text", cols.join(", "))
            }
        }
    }

    fn key_column(&self) -> String {
        quote_ident(self.key.first().map_or("", String::as_str))
    }

    fn range_filter(&self, r: &Range) -> String {
        let k = self.key_column();
        let mut parts = Vec::new();
        if let Some(from) = &r.from {
            parts.push(format!("{k} >= {}", literal(from)));
        }
        if let Some(to) = &r.to {
            parts.push(format!("{k} < {}", literal(to)));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        }
    }

    pub fn count_sql(&self) -> String {
        format!("SELECT count(*) FROM ONLY {}", self.qualified())
    }

    /// Count and hash sum of a key range (or, unbounded, of the whole table).
    pub fn tally_sql(&self, h: HashFn, r: &Range) -> String {
        format!(
            "SELECT count(*), coalesce(sum({}), 0)::text FROM ONLY {}{}",
            self.row_hash(h),
            self.qualified(),
            self.range_filter(r)
        )
    }

    /// The key `skip` rows into the range in key order: the next chunk's first key (or a
    /// range's middle), read from the primary key index without touching the heap.
    ///
    /// The key is ordered by its qualified name: a bare `ORDER BY "id"` would sort by the
    /// output column of that name, the key's *text*, where `10899` comes before `2`.
    pub fn next_bound_sql(&self, r: &Range, skip: u64) -> String {
        let k = self.key_column();
        format!(
            "SELECT {k}::text FROM ONLY {} AS x{} ORDER BY x.{k} OFFSET {skip} LIMIT 1",
            self.qualified(),
            self.range_filter(r)
        )
    }

    /// Key and hash of each row of a key range, to name the keys that differ.
    pub fn rows_sql(&self, h: HashFn, r: &Range) -> String {
        format!(
            "SELECT {}, {} FROM ONLY {}{}",
            self.key_text(),
            self.row_hash(h),
            self.qualified(),
            self.range_filter(r)
        )
    }

    fn bucket(&self, h: HashFn, bits: u32) -> String {
        format!("({} & {})", h.of(&self.key_text()), mask(bits))
    }

    /// Each bucket's count and hash sum, in one pass; only `only`'s buckets when given.
    pub fn buckets_sql(&self, h: HashFn, bits: u32, only: Option<&[u64]>) -> String {
        format!(
            "SELECT b::text, count(*), sum(h)::text FROM (SELECT {} AS b, {} AS h FROM ONLY {}) x{} GROUP BY b",
            self.bucket(h, bits),
            self.row_hash(h),
            self.qualified(),
            in_buckets(only)
        )
    }

    /// Key and hash of each row of the given buckets.
    pub fn bucket_rows_sql(&self, h: HashFn, bits: u32, buckets: &[u64]) -> String {
        format!(
            "SELECT k, h FROM (SELECT {} AS k, {} AS b, {} AS h FROM ONLY {}) x{}",
            self.key_text(),
            self.bucket(h, bits),
            self.row_hash(h),
            self.qualified(),
            in_buckets(Some(buckets))
        )
    }
}

/// An identifier quoted only where PostgreSQL's `quote_ident` would (keywords aside).
pub fn shown_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

fn in_buckets(only: Option<&[u64]>) -> String {
    match only {
        None => String::new(),
        Some(b) => format!(
            " WHERE b IN ({})",
            b.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// How many bits of the key hash make buckets of about `chunk_rows` rows for a table of
/// `rows` rows (on the bigger side): 0 is one bucket.
pub fn bucket_bits(rows: i64, chunk_rows: u64) -> u32 {
    let want = (rows.max(0) as u64).div_ceil(chunk_rows.max(1)).max(1);
    want.next_power_of_two().trailing_zeros().min(20)
}

/// What the looks at one chunk (or count) say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Equal at some look: the copy kept up.
    Equal,
    /// Different, and the same at every look.
    Stable,
    /// Different at every look, and not the same way twice.
    Changing,
}

/// Each look is (source, target). One equal look settles it: both sides held the same
/// rows at that moment. Otherwise a difference that never moved is real, one that moved
/// is a live source (or a replica catching up) and may yet settle.
pub fn settle<T: PartialEq>(looks: &[(T, T)]) -> Settled {
    if looks.is_empty() || looks.iter().any(|(s, t)| s == t) {
        Settled::Equal
    } else if looks.windows(2).all(|w| w[0] == w[1]) {
        Settled::Stable
    } else {
        Settled::Changing
    }
}

/// The keys whose rows differ between the two sides' `(key, hash)` lists, in key order
/// (numeric keys numerically).
pub fn diff_rows(source: &[(String, i64)], target: &[(String, i64)]) -> Vec<KeyDifference> {
    let s: BTreeMap<&str, i64> = source.iter().map(|(k, h)| (k.as_str(), *h)).collect();
    let t: BTreeMap<&str, i64> = target.iter().map(|(k, h)| (k.as_str(), *h)).collect();
    let mut out: Vec<KeyDifference> = Vec::new();
    for (k, h) in &s {
        let change = match t.get(k) {
            Some(th) if th == h => continue,
            Some(_) => Change::Changed,
            None => Change::Missing,
        };
        out.push(KeyDifference {
            key: (*k).to_string(),
            change,
        });
    }
    for k in t.keys().filter(|k| !s.contains_key(*k)) {
        out.push(KeyDifference {
            key: (*k).to_string(),
            change: Change::Extra,
        });
    }
    out.sort_by(|a, b| key_order(&a.key, &b.key));
    out
}

fn key_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<i128>(), b.parse::<i128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(key: &[&str], ranged: bool) -> Table {
        Table {
            schema: "public".into(),
            name: "Order".into(),
            columns: vec!["id".into(), "note".into()],
            key: key.iter().map(|k| k.to_string()).collect(),
            ranged,
        }
    }

    #[test]
    fn names_are_shown_as_postgresql_prints_them() {
        assert_eq!(table(&[], false).display(), "public.\"Order\"");
        assert_eq!(shown_ident("order_2$"), "order_2$");
        assert_eq!(shown_ident("2nd"), "\"2nd\"");
        assert_eq!(shown_ident("a b"), "\"a b\"");
    }

    #[test]
    fn the_method_follows_the_key() {
        assert_eq!(table(&["id"], true).method(), Method::KeyRange);
        assert_eq!(table(&["code"], false).method(), Method::KeyHash);
        assert_eq!(table(&["a", "b"], false).method(), Method::KeyHash);
        assert_eq!(table(&[], false).method(), Method::WholeTable);
    }

    #[test]
    fn range_sql_quotes_names_and_bounds_and_leaves_open_ends_open() {
        let t = table(&["id"], true);
        let all = t.tally_sql(HashFn::Builtin, &Range::default());
        assert_eq!(
            all,
            "SELECT count(*), coalesce(sum(hashtextextended((row(\"id\", \"note\")::text) COLLATE \"C\", 0)), 0)::text FROM ONLY \"public\".\"Order\""
        );
        let r = Range {
            from: Some("10".into()),
            to: Some("2'0".into()),
        };
        assert!(
            t.rows_sql(HashFn::Builtin, &r)
                .ends_with(" WHERE \"id\" >= '10' AND \"id\" < '2''0'")
        );
        assert_eq!(
            t.next_bound_sql(&Range::default(), 10_000),
            "SELECT \"id\"::text FROM ONLY \"public\".\"Order\" AS x ORDER BY x.\"id\" OFFSET 10000 LIMIT 1"
        );
        let from5 = Range {
            from: Some("5".into()),
            to: None,
        };
        assert!(
            t.next_bound_sql(&from5, 3)
                .contains(" WHERE \"id\" >= '5' ORDER BY")
        );
    }

    #[test]
    fn sha256_takes_the_first_64_bits_of_the_utf8_text() {
        let sql = table(&["id"], true).tally_sql(HashFn::Sha256, &Range::default());
        assert!(sql.contains("('x' || left(encode(sha256(convert_to((row(\"id\", \"note\")::text) COLLATE \"C\", 'UTF8')), 'hex'), 16))::bit(64)::bigint"), "{sql}");
    }

    #[test]
    fn buckets_hash_the_key_text_and_can_be_narrowed_to_some() {
        let t = table(&["a", "b"], false);
        let sql = t.buckets_sql(HashFn::Builtin, 3, Some(&[1, 6]));
        assert!(
            sql.contains("(hashtextextended((row(\"a\", \"b\")::text) COLLATE \"C\", 0) & 7) AS b"),
            "{sql}"
        );
        assert!(sql.ends_with(" WHERE b IN (1, 6) GROUP BY b"), "{sql}");
        assert!(!t.buckets_sql(HashFn::Builtin, 0, None).contains("WHERE"));
    }

    #[test]
    fn the_hash_is_builtin_only_between_like_servers() {
        assert_eq!(
            HashFn::choose((150_018, "UTF8"), (150_004, "UTF8")),
            HashFn::Builtin
        );
        assert_eq!(
            HashFn::choose((150_018, "UTF8"), (170_002, "UTF8")),
            HashFn::Sha256
        );
        assert_eq!(
            HashFn::choose((150_018, "UTF8"), (150_018, "LATIN1")),
            HashFn::Sha256
        );
    }

    #[test]
    fn buckets_hold_about_a_chunk() {
        assert_eq!(bucket_bits(0, 10_000), 0);
        assert_eq!(bucket_bits(10_000, 10_000), 0);
        assert_eq!(bucket_bits(10_001, 10_000), 1);
        assert_eq!(bucket_bits(1_000_000, 10_000), 7);
        assert_eq!(
            bucket_bits(i64::MAX, 1),
            20,
            "capped: a million buckets at most"
        );
    }

    #[test]
    fn one_equal_look_settles_and_a_moving_difference_is_changing() {
        assert_eq!(settle::<i32>(&[]), Settled::Equal);
        assert_eq!(settle(&[(1, 2), (1, 1)]), Settled::Equal);
        assert_eq!(settle(&[(1, 2)]), Settled::Stable);
        assert_eq!(settle(&[(1, 2), (1, 2), (1, 2)]), Settled::Stable);
        assert_eq!(settle(&[(1, 2), (3, 2)]), Settled::Changing);
        assert_eq!(
            settle(&[(1, 2), (1, 3)]),
            Settled::Changing,
            "a replica catching up"
        );
    }

    #[test]
    fn rows_differ_by_key_in_numeric_order() {
        let s = vec![
            ("10".into(), 1),
            ("9".into(), 2),
            ("3".into(), 3),
            ("4".into(), 4),
        ];
        let t = vec![
            ("10".into(), 1),
            ("9".into(), 7),
            ("4".into(), 4),
            ("11".into(), 5),
        ];
        let d = diff_rows(&s, &t);
        let got: Vec<(&str, Change)> = d.iter().map(|k| (k.key.as_str(), k.change)).collect();
        assert_eq!(
            got,
            vec![
                ("3", Change::Missing),
                ("9", Change::Changed),
                ("11", Change::Extra)
            ]
        );
    }
}
