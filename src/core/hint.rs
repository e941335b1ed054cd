//! "Did you mean" hints: the known name closest to a mistyped one, for settings and directives alike.

/// Damerau–Levenshtein distance (optimal string alignment): a swapped pair of letters
/// (`LGO` for `LOG`) is one typo, not two.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word`, if it is close enough to be the likely intent.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_uppercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_uppercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 4).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["DEADLINE", "LOG", "LOG_FORMAT", "LOCATIONS", "LOCK_TIMEOUT"];
        assert_eq!(closest("DEADLIN", known), Some("DEADLINE"));
        assert_eq!(closest("deadline", known), Some("DEADLINE"));
        assert_eq!(closest("LGO", known), Some("LOG"));
        assert_eq!(closest("LOCATION", known), Some("LOCATIONS"));
        assert_eq!(closest("LOCK_TIMOUT", known), Some("LOCK_TIMEOUT"));
        assert_eq!(closest("PASSWORD", known), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
