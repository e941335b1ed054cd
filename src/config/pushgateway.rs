//! `SCHEMAGATE_PUSHGATEWAY_*` (issue 16): where a run's metrics are pushed, as which job, with which credentials — validated, with no credential in any message.
//!
//! Credentials come from the URL's userinfo (`https://user:pass@gw:9091`, percent-encoded
//! as in any URL), or from `SCHEMAGATE_PUSHGATEWAY_USERNAME` with `_PASSWORD` (basic auth),
//! or from `SCHEMAGATE_PUSHGATEWAY_TOKEN` (a bearer token); each also as `_FILE`, as every
//! setting. One source only: two would leave it to guesswork which one the gateway sees.

use super::conn::Secret;
use super::conninfo;
use super::raw::RawSettings;

/// The job label when `SCHEMAGATE_PUSHGATEWAY_JOB` is unset.
pub const DEFAULT_JOB: &str = "schemagate";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushgateway {
    /// `http(s)://host[:port][/path]`: no userinfo, no trailing `/`, so it can be logged.
    pub url: String,
    pub auth: PushAuth,
    /// `SCHEMAGATE_PUSHGATEWAY_JOB`: the `job` of the grouping key.
    pub job: String,
}

/// How the push authenticates. `Debug` shows no password and no token ([`Secret`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushAuth {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

const URL: &str = "SCHEMAGATE_PUSHGATEWAY_URL";

/// The push settings, or `None` when no URL is given. Every problem goes to `problems`
/// (without the URL's text: it may hold a password); settings that do nothing without a
/// URL go to `warnings`.
pub(crate) fn resolve(
    s: &RawSettings,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Option<Pushgateway> {
    let Some(raw_url) = s.pushgateway_url.as_deref() else {
        let stray: Vec<&str> = [
            ("SCHEMAGATE_PUSHGATEWAY_JOB", &s.pushgateway_job),
            ("SCHEMAGATE_PUSHGATEWAY_USERNAME", &s.pushgateway_username),
            ("SCHEMAGATE_PUSHGATEWAY_PASSWORD", &s.pushgateway_password),
            ("SCHEMAGATE_PUSHGATEWAY_TOKEN", &s.pushgateway_token),
        ]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(n, _)| *n)
        .collect();
        if !stray.is_empty() {
            warnings.push(format!(
                "{} set without {URL}: no metrics are pushed",
                stray.join(", ")
            ));
        }
        return None;
    };
    let parsed = match parse_url(raw_url, "http://pushgateway.monitoring:9091") {
        Ok(p) => p,
        Err(why) => {
            problems.push(format!("{URL} {why}"));
            return None;
        }
    };
    let from_env = match (&s.pushgateway_username, &s.pushgateway_password) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone())),
        (None, None) => None,
        (Some(_), None) => {
            problems.push("SCHEMAGATE_PUSHGATEWAY_USERNAME is set without SCHEMAGATE_PUSHGATEWAY_PASSWORD (or its _FILE): basic auth needs both".into());
            return None;
        }
        (None, Some(_)) => {
            problems.push("SCHEMAGATE_PUSHGATEWAY_PASSWORD is set without SCHEMAGATE_PUSHGATEWAY_USERNAME: basic auth needs both".into());
            return None;
        }
    };
    let sources = [
        parsed.userinfo.is_some(),
        from_env.is_some(),
        s.pushgateway_token.is_some(),
    ];
    if sources.iter().filter(|&&b| b).count() > 1 {
        problems.push(format!(
            "the Pushgateway credentials are given more than once ({}); give one: user and password in {URL}, SCHEMAGATE_PUSHGATEWAY_USERNAME with _PASSWORD, or SCHEMAGATE_PUSHGATEWAY_TOKEN",
            [
                (sources[0], "user information in the URL"),
                (sources[1], "SCHEMAGATE_PUSHGATEWAY_USERNAME/_PASSWORD"),
                (sources[2], "SCHEMAGATE_PUSHGATEWAY_TOKEN"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, what)| *what)
            .collect::<Vec<_>>()
            .join(", ")
        ));
        return None;
    }
    let auth = match (parsed.userinfo, from_env, &s.pushgateway_token) {
        (Some((username, password)), _, _) | (_, Some((username, password)), _) => {
            PushAuth::Basic {
                username,
                password: Secret::new(password),
            }
        }
        (_, _, Some(token)) => {
            // A header value cannot hold a line break; a Secret file usually ends in one,
            // which the _FILE reading already dropped.
            if token.contains(['\r', '\n']) || token.trim().is_empty() {
                problems.push("SCHEMAGATE_PUSHGATEWAY_TOKEN holds a line break or only spaces; a bearer token is one line".into());
                return None;
            }
            PushAuth::Bearer(Secret::new(token.trim()))
        }
        _ => PushAuth::None,
    };
    let job = s
        .pushgateway_job
        .as_deref()
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .unwrap_or(DEFAULT_JOB)
        .to_string();
    Some(Pushgateway {
        url: parsed.url,
        auth,
        job,
    })
}

pub(super) struct Parsed {
    /// Without userinfo and without a trailing `/`.
    pub url: String,
    /// Percent-decoded user and password.
    pub userinfo: Option<(String, String)>,
}

/// `http(s)://[user[:password]@]host[:port][/path]`; `example` is a good URL for the
/// messages. The reasons never quote the text.
pub(super) fn parse_url(text: &str, example: &str) -> Result<Parsed, String> {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://").ok_or(
        "is not an http:// or https:// URL (its value is not shown: it may hold a password)",
    )?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(
            "is not an http:// or https:// URL (its value is not shown: it may hold a password)"
                .into(),
        );
    }
    // The userinfo ends at the last `@` before the path: a password's own `@` must be
    // percent-encoded, but one that is not still belongs to it.
    let path_start = rest.rfind('@').map_or(0, |at| at + 1);
    let end_of_authority = rest[path_start..]
        .find(['/', '?', '#'])
        .map_or(rest.len(), |i| path_start + i);
    let (authority, tail) = rest.split_at(end_of_authority);
    if tail.contains(['?', '#']) {
        return Err(format!(
            "holds a query or fragment; give the base URL, e.g. {example}"
        ));
    }
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((info, host)) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            let undecodable = |_| {
                "holds a user or password that does not percent-decode (a '%' that does not start a %XX escape, or not UTF-8); write a literal % as %25".to_string()
            };
            let user = conninfo::decode(user, "").map_err(undecodable)?;
            let password = conninfo::decode(password, "").map_err(undecodable)?;
            (Some((user, password)), host)
        }
        None => (None, authority),
    };
    check_host(host, example)?;
    let path = tail.trim_end_matches('/');
    Ok(Parsed {
        url: format!("{scheme}://{host}{path}"),
        userinfo,
    })
}

fn check_host(host: &str, example: &str) -> Result<(), String> {
    // Neither host nor port is quoted: a URL that lost its `@` has its password there.
    let bad = || Err(format!("has no valid host[:port]; e.g. {example}"));
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return bad();
    }
    let port = match host.strip_prefix('[') {
        Some(inner) => match inner.split_once(']') {
            Some((_, "")) => None,
            Some((_, rest)) => match rest.strip_prefix(':') {
                Some(p) => Some(p),
                None => return bad(),
            },
            None => return bad(),
        },
        None => match host.split_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(':') => Some(p),
            Some(_) => return bad(),
            None => None,
        },
    };
    match port {
        Some(p) if !matches!(p.parse::<u16>(), Ok(n) if n > 0) => {
            Err("has a port that is not a number from 1 to 65535".to_string())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawSettings {
        let mut s = RawSettings::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "url" => s.pushgateway_url = v,
                "job" => s.pushgateway_job = v,
                "username" => s.pushgateway_username = v,
                "password" => s.pushgateway_password = v,
                "token" => s.pushgateway_token = v,
                other => panic!("{other}"),
            }
        }
        s
    }

    fn ok(pairs: &[(&str, &str)]) -> Pushgateway {
        let (mut p, mut w) = (Vec::new(), Vec::new());
        let got = resolve(&raw(pairs), &mut p, &mut w);
        assert!(p.is_empty(), "{p:?}");
        got.expect("push settings")
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        let (mut p, mut w) = (Vec::new(), Vec::new());
        assert_eq!(resolve(&raw(pairs), &mut p, &mut w), None);
        assert_eq!(p.len(), 1, "{p:?}");
        p.remove(0)
    }

    #[test]
    fn a_plain_url() {
        let g = ok(&[("url", "http://pushgateway.monitoring:9091/")]);
        assert_eq!(g.url, "http://pushgateway.monitoring:9091");
        assert_eq!(g.auth, PushAuth::None);
        assert_eq!(g.job, "schemagate");
        let g = ok(&[
            ("url", "HTTPS://gw.example/prefix/pushgateway//"),
            ("job", "shop"),
        ]);
        assert_eq!(g.url, "https://gw.example/prefix/pushgateway");
        assert_eq!(g.job, "shop");
        assert_eq!(ok(&[("url", "http://[::1]:9091")]).url, "http://[::1]:9091");
    }

    #[test]
    fn userinfo_becomes_basic_auth_and_leaves_the_url() {
        let g = ok(&[("url", "https://ci%40shop:p%40ss:w/rd@gw.example:9091")]);
        assert_eq!(g.url, "https://gw.example:9091");
        match g.auth {
            PushAuth::Basic { username, password } => {
                assert_eq!(username, "ci@shop");
                assert_eq!(password.expose(), "p@ss:w/rd");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unencoded_at_in_the_password_still_belongs_to_it() {
        let g = ok(&[("url", "http://u:p@ss@gw:9091")]);
        assert_eq!(g.url, "http://gw:9091");
        assert!(
            matches!(g.auth, PushAuth::Basic { ref password, .. } if password.expose() == "p@ss")
        );
    }

    #[test]
    fn username_and_password_or_a_token() {
        let g = ok(&[
            ("url", "http://gw:9091"),
            ("username", "ci"),
            ("password", "s3cret"),
        ]);
        assert!(
            matches!(g.auth, PushAuth::Basic { ref username, ref password } if username == "ci" && password.expose() == "s3cret")
        );
        let g = ok(&[("url", "http://gw:9091"), ("token", " t0ken ")]);
        assert!(matches!(g.auth, PushAuth::Bearer(ref t) if t.expose() == "t0ken"));
        assert!(!format!("{g:?}").contains("t0ken"));
    }

    #[test]
    fn refusals_never_show_a_credential() {
        let secret = "hunter2";
        for (pairs, says) in [
            (
                vec![("url", "ftp://u:hunter2@gw")],
                "not an http:// or https:// URL",
            ),
            (
                vec![("url", "gw:hunter2")],
                "not an http:// or https:// URL",
            ),
            (
                vec![("url", "http://u:hunter2@gw:9091?x=1")],
                "query or fragment",
            ),
            (
                vec![("url", "http://u:hunter2@gw:99999")],
                "not a number from 1 to 65535",
            ),
            (
                vec![("url", "http://u:hunter2")],
                "not a number from 1 to 65535",
            ),
            (vec![("url", "http://u:hunter2@")], "no valid host"),
            (
                vec![("url", "http://u:hunter2%zz@gw")],
                "does not start a %XX escape",
            ),
            (
                vec![("url", "http://u:hunter2@gw"), ("token", "t")],
                "given more than once (user information in the URL, SCHEMAGATE_PUSHGATEWAY_TOKEN)",
            ),
            (
                vec![
                    ("url", "http://gw"),
                    ("username", "u"),
                    ("password", secret),
                    ("token", "t"),
                ],
                "more than once",
            ),
            (
                vec![("url", "http://gw"), ("password", secret)],
                "without SCHEMAGATE_PUSHGATEWAY_USERNAME",
            ),
            (
                vec![("url", "http://gw"), ("username", "u")],
                "without SCHEMAGATE_PUSHGATEWAY_PASSWORD",
            ),
            (
                vec![("url", "http://gw"), ("token", "hunter2\nx")],
                "line break",
            ),
        ] {
            let e = err(&pairs);
            assert!(e.contains(says), "{pairs:?}: {e}");
            assert!(!e.contains(secret), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn credentials_without_a_url_are_a_warning() {
        let (mut p, mut w) = (Vec::new(), Vec::new());
        assert_eq!(resolve(&raw(&[("token", "t")]), &mut p, &mut w), None);
        assert!(p.is_empty());
        assert_eq!(
            w,
            [
                "SCHEMAGATE_PUSHGATEWAY_TOKEN set without SCHEMAGATE_PUSHGATEWAY_URL: no metrics are pushed"
            ]
        );
        let (mut p, mut w) = (Vec::new(), Vec::new());
        assert_eq!(resolve(&raw(&[]), &mut p, &mut w), None);
        assert!(p.is_empty() && w.is_empty());
    }
}
