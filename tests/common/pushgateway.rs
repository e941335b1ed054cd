//! What the metrics tests push to: a real Prometheus Pushgateway (Debian's `prometheus-pushgateway`, installed by `make deps`) on a free local port, a scrape of it read back into samples, `promtool check metrics`, and a recording HTTP listener that plays a gateway which answers, refuses or never answers.
//!
//! A missing Pushgateway or promtool fails the test with the fix, with `CI=true` or without:
//! it never skips.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{free_port_for_later, in_ci, spawn_tied};

pub const PUSHGATEWAY_BIN: &str = "/usr/bin/prometheus-pushgateway";
pub const PROMTOOL_BIN: &str = "/usr/bin/promtool";

fn require(bin: &str, package: &str) {
    if !Path::new(bin).is_file() {
        let why = if in_ci() {
            "CI=true: a missing tool is a failure, never a skip"
        } else {
            "the metrics tests fail rather than skip without it"
        };
        panic!("{bin} is not installed ({why}): `make deps` installs Debian's {package} package");
    }
}

/// A Pushgateway with its memory only (`--persistence.file=` empty: Debian's default file
/// would bring back the groups of an earlier run); killed on drop.
pub struct Pushgateway {
    child: Child,
    pub port: u16,
}

impl Pushgateway {
    pub fn start() -> Pushgateway {
        require(PUSHGATEWAY_BIN, "prometheus-pushgateway");
        let port = free_port_for_later();
        let mut cmd = Command::new(PUSHGATEWAY_BIN);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_tied(cmd, libc::SIGKILL).expect("start prometheus-pushgateway");
        let gw = Pushgateway { child, port };
        let until = Instant::now() + Duration::from_secs(15);
        while get(&format!("{}/-/ready", gw.url())).is_err() {
            assert!(
                Instant::now() < until,
                "the Pushgateway did not get ready on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        gw
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /metrics`, as Prometheus scrapes it.
    pub fn scrape(&self) -> Scrape {
        Scrape::parse(&get(&format!("{}/metrics", self.url())).expect("scrape the Pushgateway"))
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> Result<String, String> {
    let mut answer = ureq::get(url).call().map_err(|e| e.to_string())?;
    answer
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())
}

/// One sample of a scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A scrape, sample by sample, with the text it was read from.
#[derive(Clone, Debug)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| parse_sample(l).unwrap_or_else(|| panic!("not a sample line: {l}")))
            .collect();
        Scrape {
            samples,
            text: text.to_string(),
        }
    }

    /// The samples named `name` that carry every label of `labels`.
    pub fn all(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample `all` finds; `None` when there is none.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.all(name, labels);
        assert!(
            found.len() <= 1,
            "{} samples of {name} with {labels:?}: {found:?}",
            found.len()
        );
        found.first().map(|s| s.value)
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.split_once('{') {
        None => (head, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y\"z"` → {a: x, b: y"z}.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if key.is_empty() {
            return Some(out);
        }
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').to_string(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

/// `promtool check metrics` on `text`: whether it passed, and what it said.
pub fn promtool_check(text: &str) -> (bool, String) {
    require(PROMTOOL_BIN, "prometheus");
    let mut child = Command::new(PROMTOOL_BIN)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// One request a [`HttpRecorder`] received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub at: Instant,
}

/// How a [`HttpRecorder`] treats a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Reads the request, records it, answers with this status.
    Status(u16),
    /// Accepts and never reads or answers: a gateway that hangs.
    Never,
}

/// A local listener that stands in for a Pushgateway; stops on drop.
pub struct HttpRecorder {
    pub port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl HttpRecorder {
    pub fn start(answer: Answer) -> HttpRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (reqs, halt) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !halt.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        match answer {
                            Answer::Never => held.push(stream),
                            Answer::Status(code) => {
                                let reqs = reqs.clone();
                                std::thread::spawn(move || serve(stream, code, &reqs));
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        HttpRecorder {
            port,
            requests,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpRecorder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, code: u16, requests: &Mutex<Vec<Recorded>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    requests.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    let reason = if code < 300 { "OK" } else { "Refused" };
    let text = if code < 300 {
        ""
    } else {
        "refused by the test"
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}
