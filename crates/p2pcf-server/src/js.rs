//! The few JavaScript semantics the worker's validation and answers depend on, applied to
//! `serde_json::Value`: truthiness, `String(v)`, `Number.prototype.toString`, `JSON.stringify`,
//! UTF-16 lengths, the worker's IP regexes and `atob` (WHATWG forgiving-base64).

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// JS truthiness of an optional (possibly `undefined`) JSON value.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

/// Length of a string in UTF-16 code units, as JS `s.length`.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// JS `String(v)`; `None` is `undefined`.
pub fn to_js_string(v: Option<&Value>) -> String {
    let mut out = String::new();
    match v {
        None => out.push_str("undefined"),
        Some(v) => write_js_string(&mut out, v, 0),
    }
    out
}

fn write_js_string(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_js_number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => out.push_str(s),
        Value::Object(_) => out.push_str("[object Object]"),
        Value::Array(items) => {
            // Array.prototype.join: null/undefined items become ""; serde_json's own depth limit
            // bounds the recursion, the explicit guard is belt and braces.
            if depth > 256 {
                return;
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !item.is_null() {
                    write_js_string(out, item, depth + 1);
                }
            }
        }
    }
}

/// `Number.prototype.toString()` (radix 10) for a double.
pub fn write_js_number(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x == 0.0 {
        out.push('0');
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as ECMAScript requires.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let e = n - 1;
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

/// `JSON.stringify(v)` as V8 writes it (numbers in JS form, object keys in map order).
pub fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_js_number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal with JSON.stringify's escapes (`\b\f\n\r\t`, other controls as `\u00xx`).
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, covered by tests
    Regex::new(r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$").unwrap()
});

// Copied from worker.js, deliberately NOT anchored (so `x1::y` matches): same wire behaviour.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, covered by tests
    Regex::new(r"(([0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:)|fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}|::(ffff(:0{1,4}){0,1}:){0,1}((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])|([0-9a-fA-F]{1,4}:){1,4}:((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9]))").unwrap()
});

/// `ip.match(IPV4_REGEX) || ip.match(IPV6_REGEX)` from the worker.
pub fn worker_accepts_ip(ip: &str) -> bool {
    IPV4.is_match(ip) || IPV6.is_match(ip)
}

/// Whether `atob(s)` succeeds (WHATWG forgiving-base64 decode; `s` is already `String(v)`).
pub fn atob_ok(s: &str) -> bool {
    let mut cleaned: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\u{c}' | '\r' | ' ' => {}
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' | '=' => cleaned.push(c as u8),
            _ => return false,
        }
    }
    if cleaned.len() % 4 == 0 {
        if cleaned.ends_with(b"==") {
            cleaned.truncate(cleaned.len() - 2);
        } else if cleaned.ends_with(b"=") {
            cleaned.truncate(cleaned.len() - 1);
        }
    }
    cleaned.len() % 4 != 1 && !cleaned.contains(&b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_js_number(&mut s, x);
        s
    }

    #[test]
    fn numbers_print_like_javascript() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456789.125, "123456789.125"),
            (1700000000000.0, "1700000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2.5e300, "2.5e+300"),
        ];
        for (x, want) in cases {
            assert_eq!(num(x), want, "{x}");
        }
    }

    #[test]
    fn string_conversion_matches_js() {
        assert_eq!(to_js_string(None), "undefined");
        assert_eq!(to_js_string(Some(&json!(null))), "null");
        assert_eq!(to_js_string(Some(&json!(false))), "false");
        assert_eq!(to_js_string(Some(&json!(12.0))), "12");
        assert_eq!(to_js_string(Some(&json!({"a": 1}))), "[object Object]");
        assert_eq!(
            to_js_string(Some(&json!(["a", null, 1, [2, [3]], {}, true]))),
            "a,,1,2,3,[object Object],true"
        );
    }

    #[test]
    fn json_stringify_matches_js() {
        let mut s = String::new();
        write_json(
            &mut s,
            &json!(["x\u{1}\n\"", 1.0, 1e21, null, {"k": [true]}]),
        );
        assert_eq!(s, r#"["x\u0001\n\"",1,1e+21,null,{"k":[true]}]"#);
    }

    #[test]
    fn truthiness_matches_js() {
        assert!(!truthy(None));
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!(""))));
        assert!(!truthy(Some(&json!(null))));
        assert!(truthy(Some(&json!([]))));
        assert!(truthy(Some(&json!({}))));
        assert!(truthy(Some(&json!(-2))));
    }

    #[test]
    fn ip_regexes_follow_the_worker() {
        assert!(worker_accepts_ip("1.2.3.4"));
        assert!(worker_accepts_ip("999.999.999.999"));
        assert!(!worker_accepts_ip("1.2.3.4 "));
        assert!(!worker_accepts_ip("1.2.3"));
        assert!(worker_accepts_ip("2001:db8::1"));
        assert!(worker_accepts_ip("fe80::1%eth0"));
        // The IPv6 regex is not anchored: garbage around a match passes.
        assert!(worker_accepts_ip("zz 2001:db8::1 zz"));
        assert!(worker_accepts_ip("x::"));
        assert!(!worker_accepts_ip(""));
        assert!(!worker_accepts_ip("hello"));
    }

    #[test]
    fn atob_is_forgiving_base64() {
        assert!(atob_ok("AAAA"));
        assert!(atob_ok("AA=="));
        assert!(atob_ok("AA"));
        assert!(atob_ok("AAA"));
        assert!(atob_ok(" A A\tA\nA "));
        assert!(atob_ok(""));
        assert!(!atob_ok("A"));
        assert!(!atob_ok("AAAAA"));
        assert!(!atob_ok("AA=A"));
        assert!(!atob_ok("AAA=="));
        assert!(!atob_ok("A-_A"));
        assert!(!atob_ok("AB\u{e9}A"));
        assert!(!atob_ok("a,b,"));
        // Non-zero trailing bits are accepted by forgiving-base64.
        assert!(atob_ok("AB=="));
    }
}
