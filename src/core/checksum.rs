//! The one checksum: Flyway's CRC-32 over the lines of a script (reference §2).
//!
//! Lines are split as Java's `BufferedReader.readLine` splits them (`\n`, `\r`, `\r\n`; a
//! final terminator adds no empty line), terminators are not hashed, a BOM at the start of
//! the first line is dropped, and the CRC is stored as a signed 32-bit integer. This makes
//! the value independent of line endings, and equal to what Flyway wrote into existing
//! history tables, which is the whole point: do not "improve" it.

/// Bytes gathered before each CRC update: long enough for crc32fast's SIMD path.
const CHUNK: usize = 16 * 1024;

/// Checksum of decoded script text.
pub fn checksum(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut hasher = crc32fast::Hasher::new();
    // Line terminators contribute nothing, so hashing the bytes between them in order is
    // the same as hashing line by line. `\r` and `\n` never occur inside a UTF-8 sequence,
    // so a byte search finds them (memchr: SIMD). The lines are gathered into a buffer and
    // hashed a chunk at a time: one CRC call per short line would stay on its slow path.
    // Sized to the script, never zeroed: most scripts are far shorter than a chunk, and a
    // run hashes every one of them.
    let bytes = text.as_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(bytes.len().min(CHUNK));
    let mut start = 0;
    let ends = memchr::memchr2_iter(b'\n', b'\r', bytes).chain(std::iter::once(bytes.len()));
    for end in ends {
        let line = &bytes[start..end];
        if buf.len() + line.len() > CHUNK {
            hasher.update(&buf);
            buf.clear();
        }
        if line.len() >= CHUNK {
            hasher.update(line);
        } else {
            buf.extend_from_slice(line);
        }
        start = end + 1;
    }
    hasher.update(&buf);
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

    /// The definition, line by line, as Java's `BufferedReader.readLine` splits lines.
    fn line_by_line(text: &str) -> i32 {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut hasher = crc32fast::Hasher::new();
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
            hasher.update(&rest.as_bytes()[..end]);
            rest = &rest[end..];
            rest = rest
                .strip_prefix("\r\n")
                .or_else(|| rest.strip_prefix('\r'))
                .or_else(|| rest.strip_prefix('\n'))
                .unwrap_or(rest);
        }
        hasher.finalize() as i32
    }

    #[test]
    fn chunked_hashing_matches_line_by_line_hashing() {
        // Lines shorter than, equal to and longer than the buffer, crossing its end, with
        // every kind of terminator, empty lines and multi-byte characters.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let mut text = String::new();
            if round % 5 == 0 {
                text.push('\u{feff}');
            }
            for _ in 0..(next() % 40) {
                let len = match next() % 8 {
                    0 => super::CHUNK - 1 + (next() % 3) as usize,
                    1 => super::CHUNK * 2 + (next() % 100) as usize,
                    2 => 0,
                    _ => (next() % 200) as usize,
                };
                for i in 0..len {
                    text.push(if i % 97 == 13 {
                        'é'
                    } else {
                        (b'a' + (i % 26) as u8) as char
                    });
                }
                text.push_str(["\n", "\r\n", "\r", "\n\n", "\r\r\n"][(next() % 5) as usize]);
            }
            if next() % 2 == 0 {
                text.push_str("last line without a terminator");
            }
            assert_eq!(checksum(&text), line_by_line(&text), "round {round}");
        }
    }

    #[test]
    fn a_bom_is_dropped_only_at_the_start() {
        assert_ne!(checksum("SELECT 1;\n\u{feff}"), checksum("SELECT 1;\n"));
    }
}
