//! Trace context from a request's `params._meta`, sent also as the HTTP
//! headers of that request.
//!
//! Owns: reading `params._meta.traceparent` and `params._meta.tracestate` of
//! one client message and checking them against W3C Trace Context
//! (<https://www.w3.org/TR/trace-context/>, §3.2 `traceparent`, §3.3
//! `tracestate`), so gateways, AWS X-Ray and AgentCore observability that read
//! the HTTP headers join the client's trace. The headers go with that request
//! only (signed with the rest) and never with another.
//! Refuses: a `traceparent` or `tracestate` that breaks the grammar
//! (`valid_traceparent`, `valid_tracestate`), and a `tracestate` without a
//! valid `traceparent`. What is refused is not sent; the message itself is
//! relayed unchanged. Pure.

use serde_json::Value;

/// `traceparent` and, when valid, `tracestate` from `message`'s
/// `params._meta`, as `(header name, value)` pairs; empty when there is no
/// valid `traceparent`.
pub(crate) fn trace_headers(message: Option<&Value>) -> Vec<(String, String)> {
    let Some(meta) = message.and_then(|m| m.pointer("/params/_meta")) else {
        return Vec::new();
    };
    let Some(parent) = meta
        .get("traceparent")
        .and_then(Value::as_str)
        .filter(|p| valid_traceparent(p))
    else {
        return Vec::new();
    };
    let mut headers = vec![("traceparent".to_owned(), parent.to_owned())];
    if let Some(state) = meta
        .get("tracestate")
        .and_then(Value::as_str)
        .filter(|s| valid_tracestate(s))
    {
        headers.push(("tracestate".to_owned(), state.to_owned()));
    }
    headers
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// W3C Trace Context §3.2.2: `version "-" trace-id "-" parent-id "-"
/// trace-flags`, lower-case hex; version `ff` and all-zero ids invalid; a
/// version above `00` may carry more after a `-`.
fn valid_traceparent(p: &str) -> bool {
    if p.len() < 55 || !p.is_ascii() {
        return false;
    }
    let (version, rest) = p.split_at(2);
    if !lower_hex(version, 2) || version == "ff" {
        return false;
    }
    if version == "00" && p.len() != 55 {
        return false;
    }
    if p.len() > 55 && p.as_bytes()[55] != b'-' {
        return false;
    }
    let fields: Vec<&str> = rest[..53].split('-').collect();
    matches!(fields.as_slice(), ["", trace, parent, flags]
        if lower_hex(trace, 32) && lower_hex(parent, 16) && lower_hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}

/// W3C Trace Context §3.3: at most 512 characters and 32 list members, each
/// `key=value` (optional spaces and tabs around members; empty members
/// allowed). A key is a lower-case letter (or a digit for a multi-tenant
/// key) then up to 255 of `a-z 0-9 _ - * /`, with at most one `@` tenant
/// separator; a value is 1 to 256 printable ASCII characters but `,` and
/// `=`, not ending in a space.
fn valid_tracestate(s: &str) -> bool {
    if s.len() > 512 || !s.is_ascii() {
        return false;
    }
    let mut members = 0;
    for member in s.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        members += 1;
        let Some((key, value)) = member.split_once('=') else {
            return false;
        };
        if !valid_key(key) || !valid_value(value) {
            return false;
        }
    }
    members <= 32
}

fn valid_key(key: &str) -> bool {
    let body = |k: &str, first_digit_ok: bool| {
        let mut bytes = k.bytes();
        match bytes.next() {
            Some(b'a'..=b'z') => {}
            Some(b'0'..=b'9') if first_digit_ok => {}
            _ => return false,
        }
        bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/'))
    };
    match key.split_once('@') {
        None => key.len() <= 256 && body(key, false),
        Some((tenant, system)) => {
            tenant.len() <= 241 && system.len() <= 14 && body(tenant, true) && body(system, false)
        }
    }
}

fn valid_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(meta: Value) -> Vec<(String, String)> {
        trace_headers(Some(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"x","_meta":meta}})))
    }

    #[test]
    fn a_valid_traceparent_and_tracestate_become_headers() {
        assert_eq!(
            headers(
                json!({"traceparent": PARENT, "tracestate": "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE, tenant@vendor=x"})
            ),
            [
                ("traceparent".to_owned(), PARENT.to_owned()),
                (
                    "tracestate".to_owned(),
                    "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE, tenant@vendor=x".to_owned()
                )
            ]
        );
        // A later version may carry more after a dash.
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-follows";
        assert_eq!(headers(json!({"traceparent": future})).len(), 1);
    }

    #[test]
    fn invalid_values_are_not_sent() {
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // 00 with more
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx-evil: 1",
            "",
        ] {
            assert!(headers(json!({"traceparent": bad})).is_empty(), "{bad:?}");
        }
        assert!(headers(json!({"traceparent": 7})).is_empty());
        assert!(
            headers(json!({"tracestate": "a=b"})).is_empty(),
            "no traceparent"
        );
        for bad_state in [
            "Rojo=1",
            "rojo=a,b",
            "rojo=a=b",
            "rojo=",
            "a@b@c=1",
            "rojo=\u{e9}",
            "rojo=1\nx",
        ] {
            assert_eq!(
                headers(json!({"traceparent": PARENT, "tracestate": bad_state})).len(),
                1,
                "{bad_state:?}: traceparent alone"
            );
        }
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            headers(json!({"traceparent": PARENT, "tracestate": many.join(",")})).len(),
            1
        );
        assert!(trace_headers(Some(&json!({"jsonrpc":"2.0","method":"ping"}))).is_empty());
        assert!(trace_headers(None).is_empty());
    }
}
