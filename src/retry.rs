//! The retry policy shared by every HTTP client of the crate: how long to wait
//! before the next attempt.
//!
//! Owns: full-jitter exponential backoff (AWS Architecture Blog, "Exponential
//! Backoff And Jitter", 2015; the AWS SDKs' standard retry mode), and reading
//! `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3, the
//! IMF-fixdate of §5.6.7). For the calls to AWS endpoints (STS, IAM Identity
//! Center, instance metadata, container credentials) also the `Policy` of
//! one endpoint — how many attempts, from what first wait — and which answers
//! are worth another attempt, as the AWS SDKs' standard retry mode classifies
//! them: the transient statuses 500, 502, 503 and 504, HTTP 429, and the
//! throttling and transient error codes (`retryable_answer`). Pure but for
//! [`backoff`] and `Policy::delay`, which draw their jitter.
//! Refuses: deciding whether a failed *connection* is safe to retry — that
//! depends on the method and on what the caller sent (see `aws::service`).

use std::time::{Duration, SystemTime};

use crate::time::parse_rfc3339;

/// The longest `Retry-After` honoured; a longer one is reported, not waited
/// for (60 s).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Base of the exponential backoff (500 ms).
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);

/// Cap of the exponential backoff (8 s).
pub const BACKOFF_CAP: Duration = Duration::from_secs(8);

/// The wait before retry `attempt` (0 for the first retry): between half and
/// all of `BACKOFF_BASE × 2^attempt`, capped at [`BACKOFF_CAP`].
pub fn backoff(attempt: u32) -> Duration {
    backoff_with(attempt, BACKOFF_BASE, BACKOFF_CAP, crate::random::unit())
}

/// [`backoff`] with its base, cap and jitter (a number in [0, 1)) given.
pub fn backoff_with(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    ceiling.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// How one AWS endpoint is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Attempts in all, the first included (at least 1).
    pub(crate) attempts: u32,
    /// The ceiling of the first wait; each later ceiling doubles (capped at
    /// [`BACKOFF_CAP`]), and a wait is between half and all of its ceiling.
    pub(crate) base: Duration,
    /// Try again after a timeout (off where each attempt already costs
    /// seconds).
    pub(crate) after_timeout: bool,
    /// Treat every 5xx as transient, not only 500, 502, 503 and 504 (the
    /// Rust SDK's instance metadata and container clients do).
    pub(crate) any_server_error: bool,
}

impl Policy {
    /// The wait before retry `retry` (0 for the first retry).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        backoff_with(retry, self.base, BACKOFF_CAP, crate::random::unit())
    }
}

/// The error codes of throttling, as the AWS SDKs' standard retry mode lists
/// them (smithy-rs `aws-runtime` `retries::classifiers`; botocore
/// `retries/standard.py`).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes of transient failures: the SDKs' `RequestTimeout`,
/// `RequestTimeoutException`, and the ones STS and other query services send
/// for an outage (`InternalFailure`, `ServiceUnavailable`, and STS's
/// `IDPCommunicationError` when it could not reach an identity provider).
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalFailure",
    "ServiceUnavailable",
    "IDPCommunicationError",
];

/// True when an error answer is worth another attempt under `policy`: status
/// 500, 502, 503 or 504 (any 5xx with [`Policy::any_server_error`]), 429, or
/// an error code of throttling or of a transient failure (whatever the
/// status: STS sends `Throttling` with 400).
pub(crate) fn retryable_answer(policy: &Policy, status: u16, code: Option<&str>) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
        || (policy.any_server_error && (500..600).contains(&status))
        || code.is_some_and(|c| THROTTLING_CODES.contains(&c) || TRANSIENT_CODES.contains(&c))
}

/// A `Retry-After` value as a wait from `now`: delta-seconds (`1*DIGIT`, no
/// sign; more seconds than a `u64` holds is the longest wait), or an
/// HTTP-date (a date in the past is no wait). `None` for anything else,
/// which RFC 9110 §10.2.3 leaves the recipient to ignore, as if absent.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); the obsolete
/// RFC 850 and asctime forms are refused.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == parts[2])? + 1;
    let rfc3339 = format!("{}-{month:02}-{:0>2}T{}Z", parts[3], parts[1], parts[4]);
    parse_rfc3339(&rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let ceiling = BACKOFF_BASE
                .saturating_mul(1 << attempt.min(16))
                .min(BACKOFF_CAP);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        }
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        assert_eq!(backoff_with(0, base, cap, 0.0), Duration::from_millis(50));
        assert_eq!(backoff_with(2, base, cap, 1.0), Duration::from_millis(400));
        assert_eq!(backoff_with(9, base, cap, 1.0), cap);
    }

    #[test]
    fn answers_worth_another_attempt() {
        let standard = Policy {
            attempts: 3,
            base: Duration::from_millis(100),
            after_timeout: true,
            any_server_error: false,
        };
        let metadata = Policy {
            any_server_error: true,
            ..standard
        };
        for (status, code, want_standard, want_metadata) in [
            (500, None, true, true),
            (503, None, true, true),
            (501, None, false, true),
            (599, None, false, true),
            (429, None, true, true),
            (400, Some("Throttling"), true, true),
            (400, Some("TooManyRequestsException"), true, true),
            (500, Some("InternalFailure"), true, true),
            (400, Some("IDPCommunicationError"), true, true),
            (400, Some("AccessDenied"), false, false),
            (403, None, false, false),
            (404, None, false, false),
            (401, None, false, false),
        ] {
            assert_eq!(
                retryable_answer(&standard, status, code),
                want_standard,
                "{status} {code:?}"
            );
            assert_eq!(
                retryable_answer(&metadata, status, code),
                want_metadata,
                "{status} {code:?}"
            );
        }
        for retry in 0..3 {
            let d = standard.delay(retry);
            let ceiling = Duration::from_millis(100 << retry);
            assert!(d >= ceiling / 2 && d <= ceiling, "{retry}: {d:?}");
        }
    }

    #[test]
    fn http_dates_parse() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(format_rfc3339(t), "1994-11-06T08:49:37Z");
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        assert!(parse_http_date("Sun Nov  6 08:49:37 1994").is_none());
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
        assert_eq!(retry_after("+1", now), None);
        assert_eq!(retry_after("", now), None);
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}
