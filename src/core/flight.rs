//! One transactional migration as a single simple-query message (issue 15): how its pieces are joined, which piece a server error is about, and the SQL literals the message carries instead of bind parameters.
//!
//! A managed PostgreSQL is 1–2 ms away; a migration sent statement by statement pays a round
//! trip for BEGIN, each statement, the history row and COMMIT. Sent as one message it pays one,
//! and PostgreSQL keeps the guarantees that matter: it stops at the first error and skips the
//! rest of the message (the COMMIT included), applies `statement_timeout` to each statement
//! separately (PostgreSQL 13+), and reports an error's position in the whole message, which
//! [`Flight::blame`] maps back to the piece and so to the script's file, line and column.

/// The pieces of one message, in order, each with the tag that says what it is.
#[derive(Debug)]
pub struct Flight<T> {
    text: String,
    chars: usize,
    pieces: Vec<Piece<T>>,
}

#[derive(Debug)]
struct Piece<T> {
    /// 0-based character index of the piece's first character: PostgreSQL counts an error's
    /// position in characters of the message it received.
    char_start: usize,
    tag: T,
}

/// What the server's reply says about one piece.
#[derive(Debug, PartialEq, Eq)]
pub struct Blame<'a, T> {
    pub tag: &'a T,
    /// The error's 1-based character position within the piece, when the server gave one.
    pub position: Option<usize>,
}

impl<T> Default for Flight<T> {
    fn default() -> Self {
        Flight {
            text: String::new(),
            chars: 0,
            pieces: Vec::new(),
        }
    }
}

impl<T> Flight<T> {
    /// Appends a statement, which must be one complete statement without its `;` (as the
    /// splitter gives them). The separator starts on a line of its own so that a statement
    /// ending in a `--` comment cannot swallow it.
    pub fn push(&mut self, sql: &str, tag: T) {
        self.pieces.push(Piece {
            char_start: self.chars,
            tag,
        });
        self.text.push_str(sql);
        self.text.push_str("\n;\n");
        self.chars += sql.chars().count() + 3;
    }

    /// The message to send.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The piece an error is about. With a position, the piece holding it: a syntax error
    /// stops the whole message before any of it runs, so counting answers would blame the
    /// first piece. Without one, the piece after the `completed` ones the server answered
    /// (each statement answers with exactly one CommandComplete).
    pub fn blame(&self, position: Option<usize>, completed: usize) -> Option<Blame<'_, T>> {
        match position {
            Some(p) => {
                let index = p.saturating_sub(1);
                let i = self
                    .pieces
                    .partition_point(|piece| piece.char_start <= index)
                    .checked_sub(1)?;
                let piece = &self.pieces[i];
                Some(Blame {
                    tag: &piece.tag,
                    position: Some(index - piece.char_start + 1),
                })
            }
            None => self.pieces.get(completed).map(|piece| Blame {
                tag: &piece.tag,
                position: None,
            }),
        }
    }
}

/// `"name"` with inner quotes doubled: any schema or table name is safe to splice.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a string literal that reads the same whether `standard_conforming_strings` is
/// on or off: with a backslash in it, an escape string (`E'…'`) with backslashes doubled.
pub fn literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// [`literal`], or `NULL`.
pub fn literal_or_null(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_string(), literal)
}

/// Whether a statement changes how the server reads the text after it. PostgreSQL parses a
/// whole message before it runs the first statement, so in one message such a setting would
/// not yet apply to the statements that follow it; a script with one runs statement by
/// statement, as it always did.
pub fn changes_parsing(statement: &str) -> bool {
    let lower = statement.to_ascii_lowercase();
    ["standard_conforming_strings", "client_encoding", "names"]
        .iter()
        .any(|setting| {
            lower.contains(setting)
                && lower
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|w| w == "set" || w == "set_config")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(parts: &[&str]) -> Flight<usize> {
        let mut f = Flight::default();
        for (i, p) in parts.iter().enumerate() {
            f.push(p, i);
        }
        f
    }

    #[test]
    fn pieces_are_joined_on_lines_of_their_own() {
        let f = flight(&["BEGIN", "SELECT 1 -- one", "COMMIT"]);
        assert_eq!(f.text(), "BEGIN\n;\nSELECT 1 -- one\n;\nCOMMIT\n;\n");
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn a_position_is_mapped_to_its_piece_in_characters() {
        // "BEGIN\n;\n" is 8 characters; the second piece starts at position 9.
        let f = flight(&["BEGIN", "SELECT 'ä', nope", "COMMIT"]);
        let at = f.text().chars().position(|c| c == 'n').unwrap() + 1;
        assert_eq!(
            f.blame(Some(at), 0),
            Some(Blame {
                tag: &1,
                position: Some(13)
            })
        );
        assert_eq!(f.blame(Some(1), 5).unwrap().tag, &0);
        assert_eq!(f.blame(Some(9), 0).unwrap().position, Some(1));
    }

    #[test]
    fn a_position_on_a_separator_blames_the_piece_before_it() {
        // A syntax error "at or near ;" points just past the piece's text; the splitter's
        // position mapping clamps that to the statement's end.
        let f = flight(&["BEGIN", "SELECT (1", "COMMIT"]);
        let semicolon = f.text().match_indices(';').nth(1).unwrap().0 + 1;
        let b = f.blame(Some(semicolon), 0).unwrap();
        assert_eq!((b.tag, b.position), (&1, Some(11)));
    }

    #[test]
    fn without_a_position_the_first_unanswered_piece_is_blamed() {
        let f = flight(&["BEGIN", "INSERT INTO t VALUES (1)", "COMMIT"]);
        assert_eq!(f.blame(None, 1).unwrap().tag, &1);
        assert_eq!(f.blame(None, 2).unwrap().tag, &2);
        assert_eq!(f.blame(None, 3), None);
    }

    #[test]
    fn literals_survive_quotes_and_backslashes_in_either_string_mode() {
        assert_eq!(literal("add email"), "'add email'");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"C:\dir\V1__a.sql"), r"E'C:\\dir\\V1__a.sql'");
        assert_eq!(literal(r"\'"), r"E'\\'''");
        assert_eq!(literal_or_null(None), "NULL");
        assert_eq!(literal_or_null(Some("1.2")), "'1.2'");
    }

    #[test]
    fn settings_that_change_parsing_keep_a_script_statement_by_statement() {
        assert!(changes_parsing("SET standard_conforming_strings = off"));
        assert!(changes_parsing("set client_encoding to 'LATIN1'"));
        assert!(changes_parsing("SET NAMES 'UTF8'"));
        assert!(changes_parsing(
            "SELECT set_config('standard_conforming_strings', 'off', false)"
        ));
        // Near misses: the words without a SET, or a SET of something else.
        assert!(!changes_parsing("CREATE TABLE names (id int)"));
        assert!(!changes_parsing("SET search_path = app"));
        assert!(!changes_parsing("UPDATE t SET a = 1"));
        assert!(!changes_parsing(
            "COMMENT ON COLUMN t.enc IS 'client_encoding'"
        ));
    }
}
