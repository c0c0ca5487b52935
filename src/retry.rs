//! The retry policy shared by every HTTP client of the crate: how long to wait
//! before the next attempt.
//!
//! Owns: full-jitter exponential backoff (AWS Architecture Blog, "Exponential
//! Backoff And Jitter", 2015; the AWS SDKs' standard retry mode), and reading
//! `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3, the
//! IMF-fixdate of §5.6.7). Pure but for [`backoff`], which draws its jitter.
//! Refuses: deciding *whether* to retry — each caller knows which answers of
//! its protocol are safe to send again.

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

/// A `Retry-After` value as a wait from `now`: delta-seconds, or an HTTP-date
/// (a date in the past is no wait). `None` for anything else.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
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
    }
}
