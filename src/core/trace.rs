//! The run's trace as values (issue 16): spans with their ids, parent, times, attributes and status, as the run's phases leave them; [`super::otlp`] encodes them. No clock and no randomness here: the recorder passes both in.

/// 16 random bytes, shared by every span of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// 8 random bytes, one span's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

/// An attribute value; OTLP's `AnyValue` without arrays and maps, which no span here needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// OTLP's `Status`: unset unless a phase said how it went.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error(String),
}

/// OTLP's `SpanKind`: the run itself is internal, a phase that talks to PostgreSQL a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Client,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub id: SpanId,
    /// `None` for the run's root span.
    pub parent: Option<SpanId>,
    pub name: String,
    pub kind: Kind,
    pub start_unix_nano: u64,
    /// `None` while the span is open.
    pub end_unix_nano: Option<u64>,
    pub attributes: Vec<(&'static str, Value)>,
    pub status: Status,
}

impl Span {
    /// Sets `key`, replacing an earlier value of it.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// The spans of one run: those still open, innermost last, and those that ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub id: TraceId,
    pub open: Vec<Span>,
    pub ended: Vec<Span>,
}

impl Trace {
    /// A trace whose root span `root` opens at `start_unix_nano`.
    pub fn new(id: TraceId, root: SpanId, name: &str, start_unix_nano: u64) -> Trace {
        Trace {
            id,
            open: vec![Span {
                id: root,
                parent: None,
                name: name.to_string(),
                kind: Kind::Internal,
                start_unix_nano,
                end_unix_nano: None,
                attributes: Vec::new(),
                status: Status::Unset,
            }],
            ended: Vec::new(),
        }
    }

    /// Opens a span under the innermost open one: the run is one flow, so what is open when
    /// a phase begins is what it is part of.
    pub fn open(&mut self, id: SpanId, name: &str, kind: Kind, start_unix_nano: u64) {
        let parent = self.open.last().map(|s| s.id);
        self.open.push(Span {
            id,
            parent,
            name: name.to_string(),
            kind,
            start_unix_nano,
            end_unix_nano: None,
            attributes: Vec::new(),
            status: Status::Unset,
        });
    }

    /// The open span `id`, to add to.
    pub fn span_mut(&mut self, id: SpanId) -> Option<&mut Span> {
        self.open.iter_mut().find(|s| s.id == id)
    }

    /// Ends the open span `id` (wherever it sits: a phase dropped early ends out of order).
    pub fn close(&mut self, id: SpanId, end_unix_nano: u64) {
        if let Some(i) = self.open.iter().position(|s| s.id == id) {
            let mut span = self.open.remove(i);
            span.end_unix_nano = Some(end_unix_nano.max(span.start_unix_nano));
            self.ended.push(span);
        }
    }

    /// The root span, open or ended.
    pub fn root_mut(&mut self) -> Option<&mut Span> {
        self.open
            .iter_mut()
            .chain(self.ended.iter_mut())
            .find(|s| s.parent.is_none())
    }

    /// Ends every span still open, innermost first: the run is over.
    pub fn close_all(&mut self, end_unix_nano: u64) {
        while let Some(span) = self.open.last() {
            let id = span.id;
            self.close(id, end_unix_nano);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> SpanId {
        SpanId([n; 8])
    }

    #[test]
    fn spans_nest_under_what_is_open_and_close_out_of_order() {
        let mut t = Trace::new(TraceId([9; 16]), id(1), "schemagate migrate", 100);
        t.open(id(2), "lock", Kind::Client, 110);
        t.close(id(2), 120);
        t.open(id(3), "migration V1", Kind::Client, 130);
        t.open(id(4), "backfill batches", Kind::Client, 140);
        // The migration's guard goes first, the batch group's after it.
        t.close(id(3), 150);
        t.open(id(5), "connect", Kind::Client, 160);
        t.close(id(4), 155);
        t.span_mut(id(5)).unwrap().set("attempts", 1u64);
        t.span_mut(id(5)).unwrap().set("attempts", 2u64);
        t.close_all(170);
        let parent = |n: u8| {
            t.ended
                .iter()
                .find(|s| s.id == id(n))
                .map(|s| s.parent)
                .unwrap()
        };
        assert_eq!(parent(1), None);
        assert_eq!(parent(2), Some(id(1)));
        assert_eq!(parent(3), Some(id(1)));
        assert_eq!(parent(4), Some(id(3)));
        assert_eq!(parent(5), Some(id(4)), "opened while the group was open");
        let five = t.ended.iter().find(|s| s.id == id(5)).unwrap();
        assert_eq!(five.attributes, vec![("attempts", Value::Int(2))]);
        assert!(t.open.is_empty());
        assert_eq!(t.ended.len(), 5);
        assert_eq!(t.root_mut().unwrap().end_unix_nano, Some(170));
    }

    #[test]
    fn an_end_never_precedes_the_start() {
        let mut t = Trace::new(TraceId([1; 16]), id(1), "r", 500);
        t.close(id(1), 400);
        assert_eq!(t.ended[0].end_unix_nano, Some(500));
    }
}
