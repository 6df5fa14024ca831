//! The conformance runner: a case is data (a list of HTTP exchanges with expectations), and
//! `run_case` executes it against one base URL. Every exchange is checked against its expectation
//! (the worker's behaviour, or our documented improvement of it), and the normalized observations
//! of both targets are compared step by step.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::improvements::Improvement;

/// Which implementation a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The upstream worker.js under miniflare.
    Worker,
    /// Our `p2pcf_server`.
    Ours,
}

/// A named case; `build(room, now_ms)` makes its steps (fresh room per case).
pub struct Case {
    pub name: &'static str,
    pub build: fn(&str, u64) -> Vec<Step>,
}

pub enum Step {
    Send(Box<Exchange>),
    Sleep(Duration),
}

pub enum Body {
    Empty,
    /// JSON; strings `"$dk:NAME"` are replaced by the delete key bound to NAME earlier.
    Json(Value),
    Raw(Vec<u8>),
}

pub struct Exchange {
    /// Shown in failure reports.
    pub note: String,
    pub method: Method,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// What the worker answers (and what we answer unless `ours` says otherwise).
    pub expect: Expect,
    /// Our answer where it deliberately differs, with the documented reason.
    pub ours: Option<(Improvement, Expect)>,
}

pub struct Expect {
    pub status: u16,
    pub body: BodyExpect,
    /// Header name → exact value (after `normalize_header`), or `None` = must be absent.
    pub headers: Vec<(&'static str, Option<String>)>,
}

pub enum BodyExpect {
    Empty,
    Text(String),
    Contains(String),
    /// JSON equality; `"$dk:NAME"` binds a delete key on first sight and must match afterwards
    /// (and differ from every other bound key); `"$any"` matches any value.
    Json(Value),
}

/// Headers recorded from every answer and compared between the two targets.
pub const COMPARED_HEADERS: [&str; 7] = [
    "content-type",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "vary",
    "allow",
];

/// What one exchange produced, normalized so both targets can be compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub status: u16,
    /// The body text with a `dk` value replaced by `"dk#n"` (n = order of first sight).
    pub body: String,
    pub headers: BTreeMap<&'static str, Option<String>>,
}

pub struct CaseRun {
    /// One entry per step (`None` for sleeps and for steps that failed to send).
    pub observed: Vec<Option<Observed>>,
    pub failures: Vec<String>,
}

// ---- builders used by the case tables ----

/// A POST with `content-type: application/json` and this JSON body.
pub fn post(body: Value) -> Exchange {
    Exchange {
        note: String::new(),
        method: Method::POST,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body::Json(body),
        expect: answer(json!({})),
        ours: None,
    }
}

/// A request with no body and no headers.
pub fn bare_request(method: Method) -> Exchange {
    Exchange {
        note: String::new(),
        method,
        headers: vec![],
        body: Body::Empty,
        expect: answer(json!({})),
        ours: None,
    }
}

impl Exchange {
    pub fn note(mut self, note: &str) -> Self {
        self.note = note.into();
        self
    }
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }
    /// Sets (replacing any same-named) request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
    pub fn no_content_type(mut self) -> Self {
        self.headers.retain(|(n, _)| n != "content-type");
        self
    }
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.body = Body::Raw(bytes.to_vec());
        self
    }
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
    /// Our server answers `expect` here instead, for the documented `reason`.
    pub fn ours(mut self, reason: Improvement, expect: Expect) -> Self {
        self.ours = Some((reason, expect));
        self
    }
    pub fn step(self) -> Step {
        Step::Send(Box::new(self))
    }
}

pub fn sleep_ms(ms: u64) -> Step {
    Step::Sleep(Duration::from_millis(ms))
}

fn cors() -> Vec<(&'static str, Option<String>)> {
    vec![
        ("access-control-allow-origin", Some("*".into())),
        (
            "access-control-allow-methods",
            Some("GET,HEAD,POST,DELETE,OPTIONS".into()),
        ),
        ("access-control-max-age", Some("86400".into())),
        ("vary", Some("Origin".into())),
    ]
}

/// 200 with this JSON body and the CORS + `Vary: Origin` headers.
pub fn answer(body: Value) -> Expect {
    Expect {
        status: 200,
        body: BodyExpect::Json(body),
        headers: cors(),
    }
}

/// A rejection from the request handlers: text body, CORS + `Vary` headers.
pub fn rejected(status: u16, text: &str) -> Expect {
    Expect {
        status,
        body: BodyExpect::Text(text.into()),
        headers: cors(),
    }
}

/// A rejection made before the handlers (content type, origin policy): text, no CORS headers.
pub fn bare(status: u16, text: &str) -> Expect {
    Expect {
        status,
        body: BodyExpect::Text(text.into()),
        headers: vec![("access-control-allow-origin", None), ("vary", None)],
    }
}

/// The worker throws: miniflare answers 500 with the exception and a stack trace.
pub fn worker_throws(exception: &str) -> Expect {
    Expect {
        status: 500,
        body: BodyExpect::Contains(exception.into()),
        headers: vec![],
    }
}

// ---- execution ----

/// Runs every step of `steps` against `base_url`, checking each answer.
pub async fn run_case(
    client: &reqwest::Client,
    base_url: &str,
    target: Target,
    steps: &[Step],
) -> CaseRun {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut dk_labels: Vec<String> = Vec::new();
    let mut run = CaseRun {
        observed: Vec::new(),
        failures: Vec::new(),
    };
    for (index, step) in steps.iter().enumerate() {
        let exchange = match step {
            Step::Sleep(duration) => {
                tokio::time::sleep(*duration).await;
                run.observed.push(None);
                continue;
            }
            Step::Send(exchange) => exchange,
        };
        let expect = match (&exchange.ours, target) {
            (Some((_, ours)), Target::Ours) => ours,
            _ => &exchange.expect,
        };
        match send(client, base_url, exchange, &vars).await {
            Err(e) => {
                let note = &exchange.note;
                run.failures
                    .push(format!("step {index} ({note}): request failed: {e:#}"));
                run.observed.push(None);
            }
            Ok((status, headers, body)) => {
                if let Err(e) = check(expect, status, &headers, &body, &mut vars) {
                    let note = &exchange.note;
                    run.failures.push(format!(
                        "step {index} ({note}): {e}\n      got {status} {body:?} {headers:?}"
                    ));
                }
                run.observed
                    .push(Some(normalize(status, headers, &body, &mut dk_labels)));
            }
        }
    }
    run
}

type Headers = BTreeMap<&'static str, Option<String>>;

async fn send(
    client: &reqwest::Client,
    base_url: &str,
    exchange: &Exchange,
    vars: &HashMap<String, String>,
) -> anyhow::Result<(u16, Headers, String)> {
    let mut req = client.request(exchange.method.clone(), base_url);
    for (name, value) in &exchange.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    req = match &exchange.body {
        Body::Empty => req,
        Body::Json(v) => req.body(substitute(v, vars)?.to_string()),
        Body::Raw(bytes) => req.body(bytes.clone()),
    };
    let res = req.send().await?;
    let status = res.status().as_u16();
    let headers = COMPARED_HEADERS
        .iter()
        .map(|name| {
            let value = res
                .headers()
                .get(*name)
                .map(|v| normalize_header(name, &String::from_utf8_lossy(v.as_bytes())));
            (*name, value)
        })
        .collect();
    let bytes = res.bytes().await?;
    Ok((
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// Content types differ only in spelling between implementations (`text/plain;charset=UTF-8`
/// vs `text/plain; charset=utf-8`), so compare them lower-cased without spaces.
pub fn normalize_header(name: &str, value: &str) -> String {
    if name == "content-type" {
        value.to_ascii_lowercase().replace(' ', "")
    } else {
        value.trim().to_owned()
    }
}

fn substitute(v: &Value, vars: &HashMap<String, String>) -> anyhow::Result<Value> {
    Ok(match v {
        Value::String(s) => match s.strip_prefix("$dk:") {
            Some(name) => Value::String(
                vars.get(name)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("delete key {name} not bound yet"))?,
            ),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| substitute(i, vars))
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, i)| Ok((k.clone(), substitute(i, vars)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        _ => v.clone(),
    })
}

fn check(
    expect: &Expect,
    status: u16,
    headers: &Headers,
    body: &str,
    vars: &mut HashMap<String, String>,
) -> Result<(), String> {
    if status != expect.status {
        return Err(format!("status {status}, expected {}", expect.status));
    }
    for (name, want) in &expect.headers {
        let got = headers.get(name).cloned().flatten();
        let want = want.as_deref().map(|w| normalize_header(name, w));
        if got != want {
            return Err(format!("header {name}: {got:?}, expected {want:?}"));
        }
    }
    match &expect.body {
        BodyExpect::Empty if body.is_empty() => Ok(()),
        BodyExpect::Empty => Err("expected an empty body".into()),
        BodyExpect::Text(t) if body == t => Ok(()),
        BodyExpect::Text(t) => Err(format!("body {body:?}, expected {t:?}")),
        BodyExpect::Contains(t) if body.contains(t.as_str()) => Ok(()),
        BodyExpect::Contains(t) => Err(format!("body {body:?} lacks {t:?}")),
        BodyExpect::Json(want) => {
            let got: Value =
                serde_json::from_str(body).map_err(|e| format!("body is not JSON ({e})"))?;
            match_json(want, &got, vars, "$")
        }
    }
}

fn match_json(
    want: &Value,
    got: &Value,
    vars: &mut HashMap<String, String>,
    path: &str,
) -> Result<(), String> {
    let mismatch = || format!("at {path}: got {got}, expected {want}");
    match (want, got) {
        (Value::String(w), _) if w == "$any" => Ok(()),
        (Value::String(w), _) if w.starts_with("$dk:") => {
            let name = &w[4..];
            let key = got
                .as_str()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("at {path}: expected a delete key, got {got}"))?;
            match vars.get(name) {
                Some(bound) if bound != key => Err(format!(
                    "at {path}: delete key {name} changed from {bound} to {key}"
                )),
                Some(_) => Ok(()),
                None => {
                    if let Some((other, _)) = vars.iter().find(|(_, v)| v.as_str() == key) {
                        return Err(format!(
                            "at {path}: delete key {name} equals the key of {other}"
                        ));
                    }
                    vars.insert(name.to_owned(), key.to_owned());
                    Ok(())
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(mismatch());
            }
            for (i, (wi, gi)) in w.iter().zip(g).enumerate() {
                match_json(wi, gi, vars, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Object(w), Value::Object(g)) => {
            if w.keys().ne(g.keys()) {
                return Err(mismatch());
            }
            for (k, wi) in w {
                match_json(wi, &g[k], vars, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ if want == got => Ok(()),
        _ => Err(mismatch()),
    }
}

/// Keeps the body byte for byte (key order and number spelling are compared too), except that
/// a `dk` value is replaced by its label.
fn normalize(status: u16, headers: Headers, body: &str, dk_labels: &mut Vec<String>) -> Observed {
    let mut body = body.to_owned();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&body) {
        if let Some(Value::String(dk)) = map.get("dk") {
            let n = match dk_labels.iter().position(|l| l == dk) {
                Some(n) => n,
                None => {
                    dk_labels.push(dk.clone());
                    dk_labels.len() - 1
                }
            };
            body = body.replace(&format!("\"{dk}\""), &format!("\"dk#{n}\""));
        }
    }
    Observed {
        status,
        body,
        headers,
    }
}
