//! The small value syntaxes every setting shares: durations, booleans, version text, names.
//!
//! The `pub` functions echo the text they reject, for the CLI and for settings that are not
//! secret. The `pub(crate)` variants return only the reason, so that a caller holding a value
//! that may carry a password (a connection string) can report it without showing it.

use std::time::Duration;

const DURATION_HELP: &str = "use 30s, 5m, 1h30m, 250ms or a number of seconds";

/// No setting needs more, and a bound keeps `Instant + duration` from overflowing later.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses `30s`, `5m`, `1h30m`, `250ms`, or a plain number of seconds (`90`).
///
/// Units are `h`, `m`, `s` and `ms`, each at most once, largest first, no spaces inside.
/// Surrounding whitespace is ignored.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    duration(text).map_err(|reason| format!("{text:?} {reason}"))
}

/// Accepts `true/false/1/0/yes/no` in any case, surrounding whitespace ignored.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    boolean(text)
        .ok_or_else(|| format!("{text:?} is not a boolean; use true or false (1/0, yes/no)"))
}

/// A size as PostgreSQL writes one: `64MB`, `500kB`, `1GB`, `1TB`, or a number of bytes.
/// Units are powers of 1024, as in PostgreSQL's settings.
pub(crate) fn bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let help = "is not a size; write a number of bytes or one with a unit: 500kB, 64MB, 1GB, 1TB";
    if digits == 0 {
        return Err(help.into());
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| "is too large".to_string())?;
    let factor: u64 = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "tb" => 1 << 40,
        _ => return Err(help.into()),
    };
    n.checked_mul(factor)
        .ok_or_else(|| "is too large".to_string())
}

/// [`parse_duration`] without the value in the error: the reason reads after the value's name.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let not_a_duration = || format!("is not a duration; {DURATION_HELP}");
    if text.is_empty() {
        return Err(not_a_duration());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| "is too long".to_string())?;
        return bounded(Duration::from_secs(secs));
    }

    // Units in the order they must appear; "ms" is listed before "m" so it is tried first
    // at the same position, but it ranks last.
    const UNITS: [(&str, u64, usize); 4] = [
        ("ms", 1, 3),
        ("h", 3_600_000, 0),
        ("m", 60_000, 1),
        ("s", 1_000, 2),
    ];
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut next_rank = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(not_a_duration());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "is too long".to_string())?;
        rest = &rest[digits..];
        let (unit, factor, rank) = UNITS
            .iter()
            .find(|(unit, _, _)| rest.starts_with(unit))
            .copied()
            .ok_or_else(not_a_duration)?;
        if rank < next_rank {
            return Err(format!(
                "is not a duration: units go from largest to smallest, each once; {DURATION_HELP}"
            ));
        }
        next_rank = rank + 1;
        rest = &rest[unit.len()..];
        total_ms = number
            .checked_mul(factor)
            .and_then(|ms| ms.checked_add(total_ms))
            .ok_or_else(|| "is too long".to_string())?;
    }
    bounded(Duration::from_millis(total_ms))
}

fn bounded(d: Duration) -> Result<Duration, String> {
    if d > MAX_DURATION {
        Err("is too long: at most 366 days".to_string())
    } else {
        Ok(d)
    }
}

pub(crate) fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Flyway's version text: digits separated by `.` or `_` (`7.1`, `2024_05_01`).
pub(crate) fn is_version(text: &str) -> bool {
    !text.is_empty()
        && text
            .split(['.', '_'])
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// PostgreSQL's `NAMEDATALEN - 1`: longer identifiers are silently truncated by the server,
/// which would make the history table a different one than configured.
pub(crate) const MAX_IDENTIFIER_BYTES: usize = 63;

/// `text` cut to at most `max` bytes without splitting a character.
pub(crate) fn cut_to_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("64MB"), Ok(64 << 20));
        assert_eq!(bytes(" 500kB "), Ok(500 << 10));
        assert_eq!(bytes("1gb"), Ok(1 << 30));
        assert_eq!(bytes("4096"), Ok(4096));
        assert!(bytes("64 megs").is_err());
        assert!(bytes("MB").is_err());
    }

    #[test]
    fn durations() {
        let ok: &[(&str, Duration)] = &[
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h30m", Duration::from_secs(5400)),
            ("1h30m15s", Duration::from_secs(5415)),
            ("2m500ms", Duration::from_millis(120_500)),
            ("250ms", Duration::from_millis(250)),
            ("90", Duration::from_secs(90)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            (" 4m ", Duration::from_secs(240)),
            ("4m\n", Duration::from_secs(240)),
            ("1h", Duration::from_secs(3600)),
            ("8784h", Duration::from_secs(366 * 24 * 3600)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(*want), "{text:?}");
        }
        let bad = [
            "",
            " ",
            "5 minutes",
            "5 m",
            "1.5s",
            "-5s",
            "+5",
            "s",
            "5M",
            "5S",
            "30sec",
            "1m1h",
            "1s1s",
            "5m 30s",
            "ms",
            "1d",
            "8785h",
            "99999999999999999999",
            "18446744073709551615h",
            "1h-",
        ];
        for text in bad {
            let err = parse_duration(text).expect_err(text);
            assert!(err.starts_with(&format!("{text:?} ")), "{err}");
        }
        assert!(
            parse_duration("5 minutes")
                .unwrap_err()
                .ends_with("is not a duration; use 30s, 5m, 1h30m, 250ms or a number of seconds")
        );
        assert!(
            parse_duration("1m1h")
                .unwrap_err()
                .contains("largest to smallest")
        );
    }

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "True", "1", "yes", "YES", " yes\n"] {
            assert_eq!(parse_bool(t), Ok(true), "{t:?}");
        }
        for t in ["false", "FALSE", "0", "no", "No"] {
            assert_eq!(parse_bool(t), Ok(false), "{t:?}");
        }
        for t in ["", "on", "off", "y", "n", "2", "truee", "t"] {
            let err = parse_bool(t).expect_err(t);
            assert!(err.contains("is not a boolean"), "{err}");
        }
    }

    #[test]
    fn versions() {
        for v in ["1", "7.1", "2024_05_01", "1.0.10", "001"] {
            assert!(is_version(v), "{v}");
        }
        for v in ["", "v1", "1.", ".1", "1..2", "1.a", "1-2", " 1", "latest"] {
            assert!(!is_version(v), "{v}");
        }
    }

    #[test]
    fn cutting_respects_char_boundaries() {
        assert_eq!(cut_to_bytes("abc", 63), "abc");
        assert_eq!(cut_to_bytes("abcdef", 3), "abc");
        // "é" is two bytes: cutting at 2 would split it.
        assert_eq!(cut_to_bytes("aé", 2), "a");
        assert_eq!(cut_to_bytes("aé", 3), "aé");
    }
}
