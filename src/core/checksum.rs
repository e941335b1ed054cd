//! The one checksum: Flyway's CRC-32 over the lines of a script (reference §2).
//!
//! Lines are split as Java's `BufferedReader.readLine` splits them (`\n`, `\r`, `\r\n`; a
//! final terminator adds no empty line), terminators are not hashed, a BOM at the start of
//! the first line is dropped, and the CRC is stored as a signed 32-bit integer. This makes
//! the value independent of line endings, and equal to what Flyway wrote into existing
//! history tables, which is the whole point: do not "improve" it.

/// Checksum of decoded script text.
pub fn checksum(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut hasher = crc32fast::Hasher::new();
    // Line terminators contribute nothing, so hashing the bytes between them in order is
    // the same as hashing line by line. A byte scan (`\r` and `\n` never occur inside a
    // UTF-8 sequence) is several times faster than `str::split` with a char pattern.
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || b == b'\r' {
            hasher.update(&bytes[start..i]);
            start = i + 1;
        }
    }
    hasher.update(&bytes[start..]);
    hasher.finalize() as i32
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn line_endings_do_not_matter_but_spaces_do() {
        assert_eq!(checksum("SELECT 1;\n"), 78787420);
        assert_eq!(checksum("SELECT 1;\r\n"), 78787420);
        assert_eq!(checksum("SELECT 1;\r"), 78787420);
        assert_eq!(checksum("\u{feff}SELECT 1;"), 78787420);
        assert_eq!(checksum("SELECT 1; \n"), -1951047511);
        assert_eq!(checksum(""), 0);
        assert_eq!(checksum("\n"), 0);
    }

    #[test]
    fn a_bom_is_dropped_only_at_the_start() {
        assert_ne!(checksum("SELECT 1;\n\u{feff}"), checksum("SELECT 1;\n"));
    }
}
