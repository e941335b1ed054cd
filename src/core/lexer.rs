//! PostgreSQL tokens: a byte cursor over a script that classifies each token by kind and byte range.
//!
//! The lexer follows PostgreSQL's own scanner (`scan.l`) where it matters for finding statement
//! boundaries: nested block comments, `''` inside strings, backslash escapes only in `E'…'`,
//! `$tag$` dollar quotes (and `$1` as a parameter, not a quote), `"…"` identifiers, and psql
//! meta-commands (`\` first on a line). Input it cannot close — a string, comment, quoted
//! identifier or dollar quote that runs to the end — comes back as an `Unterminated…` token,
//! never as a panic; callers decide whether that is an error.
//!
//! Tokens hold no text, only a range into the source, so lexing allocates nothing. Every token
//! boundary is a `char` boundary: tokens end after an ASCII byte or at the end of the input.

use std::ops::Range;

/// What a token is.
///
/// A string, comment, quoted identifier or dollar quote that runs to the end of the input has
/// its own `Unterminated…` kind, so callers see it as data; those kinds, and psql meta-commands,
/// sort after every other kind (see [`TokenKind::is_refused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TokenKind {
    /// Spaces, tabs, newlines, carriage returns, form and vertical feeds.
    Whitespace,
    /// `--` up to (not including) the end of the line or input; a line ends at `\n` or `\r`,
    /// as in `scan.l`, so a CR-only line end closes the comment too.
    LineComment,
    /// `/* … */`, nested.
    BlockComment,
    /// `'…'`: standard-conforming, a quote inside is written `''`, a backslash is literal.
    String,
    /// `E'…'` / `e'…'`: C-style backslash escapes, so `E'\''` is one string.
    EscapeString,
    /// `B'…'`: bit string.
    BitString,
    /// `X'…'`: bit string in hex.
    HexString,
    /// `N'…'`: national character string.
    NationalString,
    /// `U&'…'`: Unicode escapes; a backslash cannot escape the quote.
    UnicodeString,
    /// `"…"` or `U&"…"`.
    QuotedIdent,
    /// `$tag$ … $tag$`, including both delimiters; see [`Token::dollar_tag`].
    DollarQuoted,
    /// An unquoted identifier or keyword (may contain `$` and non-ASCII characters).
    Word,
    /// A numeric literal.
    Number,
    /// A positional parameter such as `$1`.
    Param,
    Semicolon,
    OpenParen,
    CloseParen,
    /// Any other single character (operators, commas, dots, a lone `$` or `\`, …).
    Punct,
    /// `/*` without its `*/`, to the end of the input.
    UnterminatedBlockComment,
    /// A string literal of any prefix without its closing quote, to the end of the input.
    UnterminatedString,
    /// `"` without its closing `"`, to the end of the input.
    UnterminatedQuotedIdent,
    /// `$tag$` without its closing `$tag$`, to the end of the input.
    UnterminatedDollarQuote,
    /// A psql meta-command: `\` as the first non-blank on a line, up to the end of that line.
    MetaCommand,
}

impl TokenKind {
    /// Whitespace and comments: tokens that carry no meaning for the server.
    pub fn is_trivia(self) -> bool {
        matches!(
            self,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// Input that must not be sent to the server as it is: an unterminated string, comment,
    /// quoted identifier or dollar quote, or a psql meta-command.
    pub fn is_refused(self) -> bool {
        self >= TokenKind::UnterminatedBlockComment
    }

    /// A string, comment, quoted identifier or dollar quote that reached the end of the input.
    pub fn is_unterminated(self) -> bool {
        self.is_refused() && self != TokenKind::MetaCommand
    }
}

/// One token: its kind and its byte range in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    pub fn is_trivia(&self) -> bool {
        self.kind.is_trivia()
    }

    /// Whether this is the unquoted word `keyword` (ASCII, case-insensitive).
    pub fn is_word(&self, src: &str, keyword: &str) -> bool {
        self.kind == TokenKind::Word
            && src.as_bytes()[self.start..self.end].eq_ignore_ascii_case(keyword.as_bytes())
    }

    /// For a dollar quote, terminated or not, the tag between the `$` signs (`""` for `$$`).
    pub fn dollar_tag<'a>(&self, src: &'a str) -> Option<&'a str> {
        match self.kind {
            TokenKind::DollarQuoted | TokenKind::UnterminatedDollarQuote => {
                let text = &self.text(src)[1..];
                text.find('$').map(|i| &text[..i])
            }
            _ => None,
        }
    }
}

const WS: u8 = 1;
const IDENT_START: u8 = 2;
const IDENT_CONT: u8 = 4;
const DIGIT: u8 = 8;

/// Byte classes, following `scan.l`: every byte >= 0x80 is an identifier character, which keeps
/// multi-byte characters whole inside words.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut class = 0;
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            class |= WS;
        }
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            class |= IDENT_START | IDENT_CONT;
        }
        if b.is_ascii_digit() {
            class |= DIGIT | IDENT_CONT;
        }
        if b == b'$' {
            class |= IDENT_CONT;
        }
        table[i] = class;
        i += 1;
    }
    table
};

#[inline(always)]
fn has(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// The first position at or after `p` whose byte is not in `class`.
#[inline(always)]
fn skip_class(bytes: &[u8], mut p: usize, class: u8) -> usize {
    while p < bytes.len() && has(bytes[p], class) {
        p += 1;
    }
    p
}

// Words are most of a script's bytes. They are skipped eight bytes at a time with SWAR ("SIMD
// within a register") arithmetic: each byte lane of a `u64` computes its own class in bit 7,
// with no carry between lanes because every lane is kept below 0x80 before a constant of at
// most 0x80 is added. A word shorter than eight bytes then ends in one step, instead of in a
// loop exit the branch predictor cannot guess (measured: fewer mispredictions, same work).

const LANES_LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const LANES_BIT7: u64 = 0x8080_8080_8080_8080;

const fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// Bit 7 set in each lane whose 7-bit value `x` is in `lo..=hi`.
#[inline(always)]
fn lanes_in(x: u64, lo: u8, hi: u8) -> u64 {
    (x + splat(0x80 - lo)) & !(x + splat(0x7f - hi))
}

/// Bit 7 set in each lane whose 7-bit value `x` equals `c`.
#[inline(always)]
fn lanes_eq(x: u64, c: u8) -> u64 {
    !((x ^ splat(c)) + LANES_LOW7)
}

/// Bit 7 set in each lane that is an identifier character (`IDENT_CONT`).
#[inline(always)]
fn ident_lanes(w: u64) -> u64 {
    let x = w & LANES_LOW7;
    let letter = lanes_in(x | splat(0x20), b'a', b'z');
    let digit = lanes_in(x, b'0', b'9');
    (w | letter | digit | lanes_eq(x, b'_') | lanes_eq(x, b'$')) & LANES_BIT7
}

/// Like `skip_class(bytes, p, IDENT_CONT)`.
#[inline(always)]
fn skip_ident(bytes: &[u8], mut p: usize) -> usize {
    while let Some(chunk) = bytes.get(p..p + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let outside = !ident_lanes(w) & LANES_BIT7;
        if outside != 0 {
            return p + (outside.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    skip_class(bytes, p, IDENT_CONT)
}

/// Iterator over the tokens of `src`, starting at a byte offset.
#[derive(Clone, Debug)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

/// Tokens of `src` from its beginning.
pub fn tokens(src: &str) -> Lexer<'_> {
    Lexer::new(src)
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    /// The byte offset of the next token.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Continue lexing at `pos` (clamped to the input, moved back to a `char` boundary). The
    /// splitter uses this to jump over `COPY … FROM STDIN` data, which is not SQL.
    pub fn reset(&mut self, pos: usize) {
        let mut pos = pos.min(self.src.len());
        while !self.src.is_char_boundary(pos) {
            pos -= 1;
        }
        self.pos = pos;
    }

    /// The next token that is not whitespace or a comment, without producing the trivia tokens
    /// in between (the splitter's hot path). An unterminated block comment is still returned:
    /// it swallows the rest of the input, which the caller must hear about.
    #[inline(always)]
    pub fn next_significant(&mut self) -> Option<Token> {
        let bytes = self.src.as_bytes();
        loop {
            let start = skip_class(bytes, self.pos, WS);
            self.pos = start;
            let b = *bytes.get(start)?;
            let kind = match (b, self.byte(start + 1)) {
                (b'-', Some(b'-')) => {
                    self.pos = self.comment_end(start + 2);
                    continue;
                }
                (b'/', Some(b'*')) => {
                    let (kind, end) = self.block_comment(start);
                    self.pos = end;
                    if kind == TokenKind::BlockComment {
                        continue;
                    }
                    kind
                }
                _ => {
                    let (kind, end) = self.token_at(start, b);
                    self.pos = end;
                    kind
                }
            };
            return Some(Token {
                kind,
                start,
                end: self.pos,
            });
        }
    }

    #[inline(always)]
    fn byte(&self, p: usize) -> Option<u8> {
        self.src.as_bytes().get(p).copied()
    }

    /// The end of the line holding `p`: the position of its `\n`, or the end of the input.
    fn line_end(&self, p: usize) -> usize {
        self.src[p..].find('\n').map_or(self.src.len(), |i| p + i)
    }

    /// The end of a `--` comment whose text continues at `p`: the next `\n` or `\r` (`scan.l`'s
    /// `non_newline` is `[^\n\r]`), or the end of the input.
    fn comment_end(&self, p: usize) -> usize {
        let bytes = self.src.as_bytes();
        memchr::memchr2(b'\n', b'\r', &bytes[p..]).map_or(bytes.len(), |i| p + i)
    }

    fn block_comment(&self, start: usize) -> (TokenKind, usize) {
        let bytes = self.src.as_bytes();
        let mut depth = 1usize;
        let mut p = start + 2;
        // Only `*` and `/` can open or close a comment: memchr skips the text between them.
        while let Some(i) = memchr::memchr2(b'*', b'/', &bytes[p..]) {
            p += i;
            match bytes[p] {
                b'*' if bytes.get(p + 1) == Some(&b'/') => {
                    depth -= 1;
                    p += 2;
                    if depth == 0 {
                        return (TokenKind::BlockComment, p);
                    }
                }
                b'/' if bytes.get(p + 1) == Some(&b'*') => {
                    depth += 1;
                    p += 2;
                }
                _ => p += 1,
            }
        }
        (TokenKind::UnterminatedBlockComment, bytes.len())
    }

    /// Body of a quoted token whose only escape is a doubled quote; `p` is just past the opening
    /// quote. Returns `kind` and the end just past the closing quote, or `unterminated` and the
    /// end of the input.
    fn quoted(
        &self,
        mut p: usize,
        quote: u8,
        kind: TokenKind,
        unterminated: TokenKind,
    ) -> (TokenKind, usize) {
        let bytes = self.src.as_bytes();
        loop {
            // memchr (SIMD), where `str::find` for a char walks a word at a time.
            match memchr::memchr(quote, &bytes[p..]) {
                None => return (unterminated, bytes.len()),
                Some(i) => {
                    let at = p + i;
                    if bytes.get(at + 1) == Some(&quote) {
                        p = at + 2;
                    } else {
                        return (kind, at + 1);
                    }
                }
            }
        }
    }

    fn string(&self, p: usize, kind: TokenKind) -> (TokenKind, usize) {
        self.quoted(p, b'\'', kind, TokenKind::UnterminatedString)
    }

    fn escape_string(&self, mut p: usize) -> (TokenKind, usize) {
        let bytes = self.src.as_bytes();
        while p < bytes.len() {
            match bytes[p] {
                // A backslash takes the next byte with it; if that is the lead byte of a
                // multi-byte character, its continuation bytes can never match `'` or `\`.
                b'\\' => p += 2,
                b'\'' if bytes.get(p + 1) == Some(&b'\'') => p += 2,
                b'\'' => match self.quote_continues(p + 1) {
                    // `E'a'` newline `'\''` is one escape string, escapes and all.
                    Some(next) => p = next,
                    None => return (TokenKind::EscapeString, p + 1),
                },
                _ => p += 1,
            }
        }
        (TokenKind::UnterminatedString, bytes.len())
    }

    /// `scan.l`'s `quotecontinue`: a string closed just before `p` goes on if whitespace holding a
    /// newline (line comments allowed) leads to another quote. Returns the position past that
    /// quote. Only an `E'…'` needs this: its continuation still takes backslash escapes.
    fn quote_continues(&self, mut p: usize) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut newline = false;
        loop {
            match *bytes.get(p)? {
                b'\n' | b'\r' => {
                    newline = true;
                    p += 1;
                }
                b' ' | b'\t' | 0x0b | 0x0c => p += 1,
                b'-' if bytes.get(p + 1) == Some(&b'-') => p = self.comment_end(p + 2),
                b'\'' if newline => return Some(p + 1),
                _ => return None,
            }
        }
    }

    /// `$` at `start`: a positional parameter, a dollar quote, or a lone `$`.
    fn dollar(&self, start: usize) -> (TokenKind, usize) {
        let bytes = self.src.as_bytes();
        let open_end = match self.byte(start + 1) {
            Some(b) if b.is_ascii_digit() => {
                return (TokenKind::Param, skip_class(bytes, start + 2, DIGIT));
            }
            Some(b'$') => start + 2,
            Some(b) if has(b, IDENT_START) => {
                let p = skip_class(bytes, start + 2, IDENT_START | DIGIT);
                if self.byte(p) != Some(b'$') {
                    return (TokenKind::Punct, start + 1);
                }
                p + 1
            }
            _ => return (TokenKind::Punct, start + 1),
        };
        // The opening delimiter is also the closing one, so it is matched in place. Tags are
        // short: a byte loop beats a `memcmp` call per `$` in the body.
        let delim = &bytes[start..open_end];
        let mut p = open_end;
        loop {
            match memchr::memchr(b'$', &bytes[p..]) {
                None => return (TokenKind::UnterminatedDollarQuote, bytes.len()),
                Some(i) => {
                    let at = p + i;
                    let rest = &bytes[at..];
                    if rest.len() >= delim.len() && delim.iter().zip(rest).all(|(a, b)| a == b) {
                        return (TokenKind::DollarQuoted, at + delim.len());
                    }
                    p = at + 1;
                }
            }
        }
    }

    fn number(&self, start: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut p = start;
        let mut seen_dot = false;
        while let Some(&b) = bytes.get(p) {
            if b.is_ascii_alphanumeric() || b == b'_' {
                p += 1;
                if matches!(b, b'e' | b'E')
                    && matches!(bytes.get(p), Some(b'+' | b'-'))
                    && bytes.get(p + 1).is_some_and(u8::is_ascii_digit)
                {
                    p += 1;
                }
            } else if b == b'.' && !seen_dot && bytes.get(p + 1) != Some(&b'.') {
                // A second dot ends the number: `1..5` is not one literal.
                seen_dot = true;
                p += 1;
            } else {
                break;
            }
        }
        p
    }

    /// A word, or a prefixed literal (`E'`, `B'`, `X'`, `N'`, `U&'`, `U&"`) starting with a letter.
    #[inline(always)]
    fn word(&self, start: usize, first: u8) -> (TokenKind, usize) {
        let bytes = self.src.as_bytes();
        match self.byte(start + 1) {
            Some(b'\'') => match first | 0x20 {
                b'e' => return self.escape_string(start + 2),
                b'b' => return self.string(start + 2, TokenKind::BitString),
                b'x' => return self.string(start + 2, TokenKind::HexString),
                b'n' => return self.string(start + 2, TokenKind::NationalString),
                _ => {}
            },
            Some(b'&') if first | 0x20 == b'u' => match self.byte(start + 2) {
                Some(b'\'') => return self.string(start + 3, TokenKind::UnicodeString),
                Some(b'"') => {
                    return self.quoted(
                        start + 3,
                        b'"',
                        TokenKind::QuotedIdent,
                        TokenKind::UnterminatedQuotedIdent,
                    );
                }
                _ => {}
            },
            _ => {}
        }
        (TokenKind::Word, skip_ident(bytes, start + 1))
    }

    /// psql reads a backslash as a meta-command; we only call it one when it opens a line, so
    /// that a stray `\` inside an expression reaches the server and gets a proper syntax error.
    fn starts_line(&self, start: usize) -> bool {
        let before = &self.src.as_bytes()[..start];
        match before.iter().rposition(|&b| b != b' ' && b != b'\t') {
            None => true,
            Some(i) => before[i] == b'\n',
        }
    }

    /// The token starting with byte `b` at `start`: its kind and end.
    #[inline(always)]
    fn token_at(&self, start: usize, b: u8) -> (TokenKind, usize) {
        let bytes = self.src.as_bytes();
        match b {
            _ if has(b, IDENT_START) => self.word(start, b),
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                (TokenKind::Whitespace, skip_class(bytes, start + 1, WS))
            }
            b'(' => (TokenKind::OpenParen, start + 1),
            b')' => (TokenKind::CloseParen, start + 1),
            b';' => (TokenKind::Semicolon, start + 1),
            b'\'' => self.string(start + 1, TokenKind::String),
            b'"' => self.quoted(
                start + 1,
                b'"',
                TokenKind::QuotedIdent,
                TokenKind::UnterminatedQuotedIdent,
            ),
            b'$' => self.dollar(start),
            b'0'..=b'9' => (TokenKind::Number, self.number(start)),
            b'-' if self.byte(start + 1) == Some(b'-') => {
                (TokenKind::LineComment, self.comment_end(start + 2))
            }
            b'/' if self.byte(start + 1) == Some(b'*') => self.block_comment(start),
            b'\\' if self.starts_line(start) => (TokenKind::MetaCommand, self.line_end(start + 1)),
            b'.' if self.byte(start + 1).is_some_and(|c| c.is_ascii_digit()) => {
                (TokenKind::Number, self.number(start))
            }
            _ => (TokenKind::Punct, start + 1),
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    #[inline]
    fn next(&mut self) -> Option<Token> {
        let start = self.pos;
        let b = *self.src.as_bytes().get(start)?;
        let (kind, end) = self.token_at(start, b);
        self.pos = end;
        Some(Token { kind, start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;

    /// Significant tokens as (kind, text).
    fn sig(src: &str) -> Vec<(TokenKind, &str)> {
        tokens(src)
            .filter(|t| t.kind != Whitespace)
            .map(|t| (t.kind, t.text(src)))
            .collect()
    }

    fn one(src: &str) -> TokenKind {
        let all: Vec<Token> = tokens(src).collect();
        assert_eq!(all.len(), 1, "{src:?} lexed as {all:?}");
        assert_eq!(all[0].range(), 0..src.len());
        all[0].kind
    }

    #[test]
    fn tokens_cover_input_contiguously() {
        let src = "SELECT a, 'x' /* c */ -- d\n FROM \"t\" WHERE b = $1;";
        let mut pos = 0;
        for t in tokens(src) {
            assert_eq!(t.start, pos);
            assert!(t.end > t.start);
            pos = t.end;
        }
        assert_eq!(pos, src.len());
    }

    #[test]
    fn basic_kinds() {
        assert_eq!(
            sig("select x1, 4.5e-3 from t(1);"),
            vec![
                (Word, "select"),
                (Word, "x1"),
                (Punct, ","),
                (Number, "4.5e-3"),
                (Word, "from"),
                (Word, "t"),
                (OpenParen, "("),
                (Number, "1"),
                (CloseParen, ")"),
                (Semicolon, ";"),
            ]
        );
        assert_eq!(one(" \t\r\n\x0b\x0c"), Whitespace);
        assert_eq!(one(".5"), Number);
        assert_eq!(sig("a.b"), vec![(Word, "a"), (Punct, "."), (Word, "b")]);
        assert_eq!(
            sig("1..5"),
            vec![(Number, "1"), (Punct, "."), (Number, ".5")]
        );
    }

    #[test]
    fn words_include_dollar_and_non_ascii() {
        assert_eq!(one("foo$bar$"), Word);
        assert_eq!(one("größe"), Word);
        assert_eq!(one("_日本語1"), Word);
        assert_eq!(
            sig("été=1"),
            vec![(Word, "été"), (Punct, "="), (Number, "1")]
        );
    }

    #[test]
    fn line_comments() {
        assert_eq!(one("-- to the end"), LineComment);
        assert_eq!(one("--"), LineComment);
        let src = "-- a ; b\nx";
        let all: Vec<Token> = tokens(src).collect();
        assert_eq!(all[0].kind, LineComment);
        assert_eq!(all[0].text(src), "-- a ; b");
        assert_eq!(all[1].kind, Whitespace);
        assert_eq!(sig("a-b"), vec![(Word, "a"), (Punct, "-"), (Word, "b")]);
        // A CR alone ends the line, as in scan.l: the rest is SQL again.
        assert_eq!(
            sig("-- a\rb;"),
            vec![(LineComment, "-- a"), (Word, "b"), (Semicolon, ";")]
        );
    }

    #[test]
    fn block_comments_nest() {
        assert_eq!(one("/* a /* b */ c */"), BlockComment);
        assert_eq!(one("/**/"), BlockComment);
        assert_eq!(one("/*/ x */"), BlockComment);
        assert_eq!(one("/* a /* b */ c"), UnterminatedBlockComment);
        assert_eq!(one("/*"), UnterminatedBlockComment);
        assert_eq!(
            sig("/* x */ */"),
            vec![(BlockComment, "/* x */"), (Punct, "*"), (Punct, "/")]
        );
    }

    #[test]
    fn plain_strings() {
        assert_eq!(one("'it''s'"), String);
        assert_eq!(one("''"), String);
        assert_eq!(one("'a;b'"), String);
        assert_eq!(
            one(r"'C:\'"),
            String,
            "backslash is literal in a standard string"
        );
        assert_eq!(one("'open"), UnterminatedString);
        assert_eq!(one("'x'''"), String, "a doubled quote at the end is inside");
        assert_eq!(sig("'a' 'b'"), vec![(String, "'a'"), (String, "'b'")]);
    }

    #[test]
    fn escape_strings() {
        assert_eq!(one(r"E'\''"), EscapeString);
        assert_eq!(one(r"e'\\'"), EscapeString);
        assert_eq!(one(r"E'a''b\n'"), EscapeString);
        assert_eq!(one("E'\\é'"), EscapeString);
        assert_eq!(one(r"E'\'"), UnterminatedString);
        assert_eq!(one("E'\\"), UnterminatedString);
        // A quote on a later line continues the string (scan.l's quotecontinue), and the
        // continuation takes escapes too; on the same line it is a new standard string.
        assert_eq!(one("E'a'\n'\\''"), EscapeString);
        assert_eq!(one("E'a' -- c\r\n \x0b'\\''"), EscapeString);
        assert_eq!(one("E'a'\n\n'b'\r'c'"), EscapeString);
        assert_eq!(
            sig("E'a' '\\'"),
            vec![(EscapeString, "E'a'"), (String, "'\\'")]
        );
        assert_eq!(
            sig("E'a'\n/* c */'b'"),
            vec![
                (EscapeString, "E'a'"),
                (BlockComment, "/* c */"),
                (String, "'b'")
            ],
            "a block comment does not continue a string"
        );
        assert_eq!(one("E'a'\n'\\'"), UnterminatedString);
        // An identifier ending in e is not a prefix.
        assert_eq!(sig("ne'x'"), vec![(Word, "ne"), (String, "'x'")]);
    }

    #[test]
    fn prefixed_strings() {
        assert_eq!(one("B'1010'"), BitString);
        assert_eq!(one("x'1F'"), HexString);
        assert_eq!(one("N'abc'"), NationalString);
        assert_eq!(one(r"U&'d\0061t\+000061'"), UnicodeString);
        assert_eq!(
            one(r"u&'a\'"),
            UnicodeString,
            "backslash does not escape the quote"
        );
        assert_eq!(one(r#"U&"d\0061t""#), QuotedIdent);
        assert_eq!(one("b'open"), UnterminatedString);
        assert_eq!(sig("U&x"), vec![(Word, "U"), (Punct, "&"), (Word, "x")]);
        assert_eq!(sig("é'x'"), vec![(Word, "é"), (String, "'x'")]);
    }

    #[test]
    fn quoted_identifiers() {
        assert_eq!(one(r#""a;b""#), QuotedIdent);
        assert_eq!(one(r#""say ""hi""""#), QuotedIdent);
        assert_eq!(one(r#""open"#), UnterminatedQuotedIdent);
        assert_eq!(one(r#"U&"open"#), UnterminatedQuotedIdent);
    }

    #[test]
    fn dollar_quotes() {
        assert_eq!(one("$$a; b$$"), DollarQuoted);
        assert_eq!(one("$fn$ x $$ y $$ z $fn$"), DollarQuoted);
        assert_eq!(one("$a$ $b$ ; $b$ $a$"), DollarQuoted);
        assert_eq!(one("$_x1$ $1 $ $_x1$"), DollarQuoted);
        assert_eq!(one("$é$ body $é$"), DollarQuoted);
        assert_eq!(one("$$ unclosed"), UnterminatedDollarQuote);
        assert_eq!(one("$t$ body $T$"), UnterminatedDollarQuote);
        let src = "$body$x$body$";
        let t = tokens(src).next().unwrap();
        assert_eq!(t.dollar_tag(src), Some("body"));
        let src = "$$x$$";
        assert_eq!(tokens(src).next().unwrap().dollar_tag(src), Some(""));
        let src = "$q$ open";
        assert_eq!(tokens(src).next().unwrap().dollar_tag(src), Some("q"));
        // The closing delimiter is the earliest exact match.
        assert_eq!(
            sig("$a$x$a$$a"),
            vec![(DollarQuoted, "$a$x$a$"), (Punct, "$"), (Word, "a")]
        );
    }

    #[test]
    fn dollar_params_and_lone_dollars() {
        assert_eq!(
            sig("$1 + $23"),
            vec![(Param, "$1"), (Punct, "+"), (Param, "$23")]
        );
        assert_eq!(sig("$1$"), vec![(Param, "$1"), (Punct, "$")]);
        assert_eq!(one("$"), Punct);
        assert_eq!(sig("$abc"), vec![(Punct, "$"), (Word, "abc")]);
        assert_eq!(sig("$ ;"), vec![(Punct, "$"), (Semicolon, ";")]);
    }

    #[test]
    fn meta_commands_only_at_line_start() {
        assert_eq!(one(r"\connect db"), MetaCommand);
        let src = "select 1;\n  \\set x 1\nselect 2";
        let meta: Vec<&str> = tokens(src)
            .filter(|t| t.kind == MetaCommand)
            .map(|t| t.text(src))
            .collect();
        assert_eq!(meta, vec![r"\set x 1"]);
        assert_eq!(sig(r"select 1 \ 2")[2], (Punct, r"\"));
        assert_eq!(sig("'a\n\\b'"), vec![(String, "'a\n\\b'")]);
    }

    #[test]
    fn refused_kinds_sort_last() {
        for kind in [
            UnterminatedBlockComment,
            UnterminatedString,
            UnterminatedQuotedIdent,
            UnterminatedDollarQuote,
            MetaCommand,
        ] {
            assert!(kind.is_refused(), "{kind:?}");
            assert_eq!(kind.is_unterminated(), kind != MetaCommand);
        }
        for kind in [Whitespace, BlockComment, String, DollarQuoted, Word, Punct] {
            assert!(!kind.is_refused(), "{kind:?}");
        }
    }

    #[test]
    fn next_significant_skips_trivia() {
        let src = " -- a\n /* b /* c */ */ x /* open";
        let mut lx = tokens(src);
        let x = lx.next_significant().unwrap();
        assert_eq!((x.kind, x.text(src)), (Word, "x"));
        let open = lx.next_significant().unwrap();
        assert_eq!(
            (open.kind, open.text(src)),
            (UnterminatedBlockComment, "/* open")
        );
        assert_eq!(lx.next_significant(), None);
    }

    #[test]
    fn reset_skips_ahead() {
        let src = "a é b";
        let mut lx = tokens(src);
        lx.reset(3); // inside `é`: moved back to its first byte
        assert_eq!(lx.next().unwrap().text(src), "é");
        lx.reset(100);
        assert_eq!(lx.next(), None);
    }

    #[test]
    fn swar_ident_class_agrees_with_the_byte_table() {
        for b in 0..=255u8 {
            for lane in 0..8 {
                let mut bytes = [b'x'; 8];
                bytes[lane] = b;
                let w = u64::from_le_bytes(bytes);
                let bit = 1u64 << (lane * 8 + 7);
                assert_eq!(
                    ident_lanes(w) & bit != 0,
                    has(b, IDENT_CONT),
                    "ident {b:#x}"
                );
            }
        }
        let src = "abcdefghijklmnopqrstuvwxyz_$0123456789ÄÖ-";
        assert_eq!(skip_ident(src.as_bytes(), 0), src.len() - 1);
    }
}
