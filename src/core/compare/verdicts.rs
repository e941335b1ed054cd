//! What the looks at chunks, counts and sequences amount to: which chunks still differ, how sure each difference is, the one difference a table's chunks make with the keys found in them, and the rule for a sequence (a target behind the source loses ids; one ahead is what cutover scripts leave).

use std::collections::BTreeMap;

use super::content::{Settled, Tally, settle};
use super::{Certainty, Difference, KeyDifference, Level, MAX_KEYS};

/// What one chunk (a key range, a bucket, a table's count or a whole table) looked like
/// each time it was looked at: (source, target).
#[derive(Clone, Debug)]
pub struct Chunk<K> {
    pub at: K,
    pub looks: Vec<(Tally, Tally)>,
}

impl<K> Chunk<K> {
    pub fn new(at: K, look: (Tally, Tally)) -> Self {
        Chunk {
            at,
            looks: vec![look],
        }
    }

    pub fn settled(&self) -> Settled {
        settle(&self.looks)
    }
}

/// A count as a tally, so that counts settle by the same rule as hashes.
pub fn rows(rows: i64) -> Tally {
    Tally {
        rows,
        sum: String::new(),
    }
}

/// `None` for a chunk that turned out equal.
pub fn certainty(s: Settled) -> Option<Certainty> {
    match s {
        Settled::Equal => None,
        Settled::Stable => Some(Certainty::Stable),
        Settled::Changing => Some(Certainty::Changing),
    }
}

/// The chunks that still differ, and how many were equal at a re-check.
pub fn split_settled<K>(chunks: Vec<Chunk<K>>) -> (Vec<Chunk<K>>, u64) {
    let before = chunks.len();
    let open: Vec<Chunk<K>> = chunks
        .into_iter()
        .filter(|c| c.settled() != Settled::Equal)
        .collect();
    let settled = (before - open.len()) as u64;
    (open, settled)
}

/// The one difference a table's still differing chunks make, with the keys found in the
/// first `fetched` of them (the rest are counted): stable if any chunk held still.
pub fn keyed<K>(
    table: &str,
    open: &[Chunk<K>],
    fetched: usize,
    mut keys: Vec<KeyDifference>,
) -> Option<Difference> {
    if open.is_empty() {
        return None;
    }
    let stable = open.iter().any(|c| c.settled() == Settled::Stable);
    let found = keys.len() as u64;
    let fetched = open.len().min(fetched);
    let rows = |n: u64| {
        if n == 1 {
            "1 row differs".to_string()
        } else {
            format!("{n} rows differ")
        }
    };
    let detail = match (fetched == open.len(), found) {
        // Equal when fetched: the differing rows moved on after the last look.
        (true, 0) => format!(
            "{} chunk(s) differed, but no row did when they were read again",
            open.len()
        ),
        (true, n) => rows(n),
        (false, n) => format!(
            "{} chunks differ; {} in the first {fetched}",
            open.len(),
            rows(n)
        ),
    };
    keys.truncate(MAX_KEYS);
    Some(Difference {
        level: Level::Content,
        object: format!("table {table}"),
        detail,
        keys,
        keys_found: found,
        certainty: if stable {
            Certainty::Stable
        } else {
            Certainty::Changing
        },
    })
}

/// A sequence's last value; `None` when never used (or not readable by the role).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceValue {
    /// `public.orders_id_seq`.
    pub qualified: String,
    /// The owning table's schema and name (the sequence's own without an owner), unquoted,
    /// for the table filter.
    pub table: (String, String),
    pub last: Option<i128>,
}

/// A sequence's last value on the source and on the target.
pub type Values = (Option<i128>, Option<i128>);

/// The sequences whose target value is behind the source's (or unused where the source's
/// is used), among those `keep` keeps: the classic cutover loss after logical replication,
/// which copies rows, not sequences. A sequence the target lacks is the schema level's.
pub fn behind(
    source: &[SequenceValue],
    target: &[SequenceValue],
    keep: impl Fn(&SequenceValue) -> bool,
) -> BTreeMap<String, Values> {
    let theirs: BTreeMap<&str, Option<i128>> = target
        .iter()
        .map(|v| (v.qualified.as_str(), v.last))
        .collect();
    source
        .iter()
        .filter(|v| keep(v))
        .filter_map(|v| {
            let other = *theirs.get(v.qualified.as_str())?;
            (v.last.is_some() && other < v.last).then(|| (v.qualified.clone(), (v.last, other)))
        })
        .collect()
}

/// The difference a sequence still behind at every look makes.
pub fn sequence(qualified: &str, looks: &[Values]) -> Difference {
    let (mine, other) = looks.last().copied().unwrap_or_default();
    let shown = |v: Option<i128>| v.map_or_else(|| "never used".to_string(), |v| v.to_string());
    Difference {
        certainty: if looks.windows(2).all(|w| w[0] == w[1]) {
            Certainty::Stable
        } else {
            Certainty::Changing
        },
        ..Difference::stable(
            Level::Counts,
            format!("sequence {qualified}"),
            format!(
                "the target's last value ({}) is behind the source's ({}): the target would hand out ids the source already gave; setval it before the cutover",
                shown(other),
                shown(mine)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::compare::Change;

    fn tally(rows: i64, sum: &str) -> Tally {
        Tally {
            rows,
            sum: sum.into(),
        }
    }

    fn key(k: &str) -> KeyDifference {
        KeyDifference {
            key: k.into(),
            change: Change::Changed,
        }
    }

    #[test]
    fn chunks_equal_at_a_recheck_are_dropped_and_counted() {
        let mut settles = Chunk::new(1, (tally(10, "5"), tally(10, "6")));
        settles.looks.push((tally(10, "5"), tally(10, "5")));
        let stays = Chunk::new(2, (tally(10, "5"), tally(10, "6")));
        let (open, settled) = split_settled(vec![settles, stays]);
        assert_eq!((open.len(), open[0].at, settled), (1, 2, 1));
    }

    #[test]
    fn a_table_difference_counts_its_keys_names_twenty_and_says_what_was_not_fetched() {
        let open: Vec<Chunk<u8>> = (0..3)
            .map(|i| Chunk::new(i, (tally(1, "1"), tally(1, "2"))))
            .collect();
        let keys: Vec<KeyDifference> = (0..25).map(|i| key(&i.to_string())).collect();
        let d = keyed("public.t", &open, 8, keys.clone()).unwrap();
        assert_eq!(
            (d.detail.as_str(), d.keys.len(), d.keys_found),
            ("25 rows differ", 20, 25)
        );
        assert_eq!(d.certainty, Certainty::Stable);
        let d = keyed("public.t", &open, 2, keys[..4].to_vec()).unwrap();
        assert_eq!(d.detail, "3 chunks differ; 4 rows differ in the first 2");
        let d = keyed("public.t", &open[..1], 8, Vec::new()).unwrap();
        assert_eq!(
            d.detail,
            "1 chunk(s) differed, but no row did when they were read again"
        );
        assert!(keyed::<u8>("public.t", &[], 8, Vec::new()).is_none());
    }

    #[test]
    fn a_table_whose_chunks_all_kept_changing_is_changing() {
        let mut c = Chunk::new((), (tally(1, "1"), tally(1, "2")));
        c.looks.push((tally(1, "3"), tally(1, "2")));
        let d = keyed("public.t", &[c], 8, vec![key("1")]).unwrap();
        assert_eq!(d.certainty, Certainty::Changing);
    }

    fn seq(name: &str, last: Option<i128>) -> SequenceValue {
        SequenceValue {
            qualified: format!("public.{name}"),
            table: ("public".into(), name.into()),
            last,
        }
    }

    #[test]
    fn only_a_target_sequence_behind_the_source_is_a_difference() {
        let source = [
            seq("a", Some(100)),
            seq("b", Some(100)),
            seq("c", None),
            seq("d", Some(5)),
            seq("only_here", Some(9)),
        ];
        let target = [
            seq("a", Some(99)),
            seq("b", Some(500)),
            seq("c", Some(1)),
            seq("d", None),
        ];
        let behind = behind(&source, &target, |_| true);
        assert_eq!(
            behind.into_iter().collect::<Vec<_>>(),
            vec![
                ("public.a".to_string(), (Some(100), Some(99))),
                ("public.d".to_string(), (Some(5), None)),
            ]
        );
        let d = sequence("public.d", &[(Some(5), None), (Some(5), None)]);
        assert_eq!(d.certainty, Certainty::Stable);
        assert!(
            d.detail
                .starts_with("the target's last value (never used) is behind the source's (5)"),
            "{}",
            d.detail
        );
        assert_eq!(
            sequence("public.a", &[(Some(5), None), (Some(6), None)]).certainty,
            Certainty::Changing
        );
    }
}
