//! Timestamps in the forms AWS uses.
//!
//! Owns: the `X-Amz-Date` form (`YYYYMMDD'T'HHMMSS'Z'`, UTC, ISO 8601 basic), the
//! credential-scope date (`YYYYMMDD`), and parsing RFC 3339 timestamps as found in
//! `context.json`, `credential_process` output and STS answers. Pure: the clock is
//! always passed in as a [`SystemTime`]; nothing here reads it.
//! Refuses: dates before 1970 and leap seconds (`:60`), which no AWS answer carries.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A signing time, whole seconds since the Unix epoch (UTC).
///
/// `Display` gives the `X-Amz-Date` form, e.g. `20150830T123600Z`
/// (AWS IAM User Guide, "Elements of an AWS API request signature").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    secs: u64,
}

impl AmzDate {
    /// The signing time for `time`, truncated to whole seconds. Times before 1970
    /// become the epoch.
    pub fn from_system_time(time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        AmzDate { secs }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> u64 {
        self.secs
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.secs)
    }

    /// The credential-scope date, `YYYYMMDD` (8 ASCII digits).
    pub fn date(self) -> String {
        let b = self.amz_bytes();
        std::str::from_utf8(&b[..8]).expect("ASCII").to_owned()
    }

    /// The day number since the epoch: the part of the time the signing key depends on.
    pub fn day(self) -> u64 {
        self.secs / 86_400
    }

    /// RFC 3339 form, `YYYY-MM-DDTHH:MM:SSZ`, for logs and error messages.
    pub fn rfc3339(self) -> String {
        let (y, m, d) = civil_from_days((self.secs / 86_400) as i64);
        let s = self.secs % 86_400;
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }

    /// Parses the `X-Amz-Date` form `YYYYMMDDTHHMMSSZ`.
    ///
    /// # Errors
    /// [`TimeError`] when the text is not exactly that shape or names no valid time.
    pub fn parse_amz(text: &str) -> Result<Self, TimeError> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return Err(TimeError::new(text, "YYYYMMDDTHHMMSSZ"));
        }
        let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or(());
        let parts = (|| {
            Ok::<_, ()>((
                num(0..4)?,
                num(4..6)?,
                num(6..8)?,
                num(9..11)?,
                num(11..13)?,
                num(13..15)?,
            ))
        })()
        .map_err(|_| TimeError::new(text, "YYYYMMDDTHHMMSSZ"))?;
        from_parts(parts, 0).ok_or_else(|| TimeError::new(text, "a valid date and time"))
    }
}

impl AmzDate {
    /// The `X-Amz-Date` form as ASCII bytes, without the formatting machinery.
    /// Years past 9999 (beyond any signing time) keep their last four digits.
    pub fn amz_bytes(self) -> [u8; 16] {
        let (y, m, d) = civil_from_days((self.secs / 86_400) as i64);
        let s = self.secs % 86_400;
        let mut out = *b"00000000T000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y as u64);
        put(4, 2, u64::from(m));
        put(6, 2, u64::from(d));
        put(9, 2, s / 3600);
        put(11, 2, s / 60 % 60);
        put(13, 2, s % 60);
        out
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.amz_bytes();
        f.write_str(std::str::from_utf8(&b).expect("ASCII"))
    }
}

/// A timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    found: String,
    expected: &'static str,
}

impl TimeError {
    fn new(found: &str, expected: &'static str) -> Self {
        let found: String = found.chars().take(40).collect();
        TimeError { found, expected }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid timestamp: expected {}, found {:?}",
            self.expected, self.found
        )
    }
}

impl std::error::Error for TimeError {}

/// Parses an RFC 3339 timestamp (`2015-08-30T12:36:00Z`,
/// `2022-05-02T18:36:00+00:00`, `2019-11-14T04:05:45.123Z`; `t`/`z` and a space
/// for `T` are accepted as RFC 3339 §5.6 allows). Fractional seconds are dropped.
///
/// # Errors
/// [`TimeError`] when the text is not RFC 3339 or names an impossible time.
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, TimeError> {
    let err = || TimeError::new(text, "an RFC 3339 time such as 2025-01-31T12:00:00Z");
    let b = text.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return Err(err());
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or_else(err);
    let parts = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(err());
        }
        rest = &rest[1 + n..];
    }
    let offset: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2]).ok_or_else(err)? as i64;
            let m = digits(&[*m1, *m2]).ok_or_else(err)? as i64;
            if h > 23 || m > 59 {
                return Err(err());
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(err()),
    };
    from_parts(parts, offset)
        .map(|d| d.to_system_time())
        .ok_or_else(err)
}

/// The latest time the crate's time forms can spell, 9999-12-31T23:59:59Z
/// (four-digit years), in seconds since the epoch: [`parse_rfc3339`] accepts
/// nothing later, and an expiry read in another form (epoch milliseconds,
/// seconds from now) must not be later either.
pub const LATEST_UNIX_SECONDS: u64 = 253_402_300_799;

/// Formats `time` as RFC 3339 UTC (`2025-01-31T12:00:00Z`), for logs.
pub fn format_rfc3339(time: SystemTime) -> String {
    AmzDate::from_system_time(time).rfc3339()
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, c| n * 10 + u64::from(c - b'0')))
}

fn from_parts(
    (y, mo, d, h, mi, s): (u64, u64, u64, u64, u64, u64),
    offset_secs: i64,
) -> Option<AmzDate> {
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + s) as i64 - offset_secs;
    // Four-digit years only: up to 9999-12-31T23:59:59Z (an offset could roll
    // that over into year 10000, which no AWS form can spell).
    (0..=LATEST_UNIX_SECONDS as i64)
        .contains(&secs)
        .then_some(AmzDate { secs: secs as u64 })
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms ("chrono-Compatible Low-Level Date
// Algorithms"), valid for the whole proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_timestamp_formats_as_amz_date() {
        // context.json "timestamp" of every AWS signing-suite case.
        let t = parse_rfc3339("2015-08-30T12:36:00Z").unwrap();
        let d = AmzDate::from_system_time(t);
        assert_eq!(d.to_string(), "20150830T123600Z");
        assert_eq!(d.date(), "20150830");
        // 1440938160 checked with `date -u -d 2015-08-30T12:36:00Z +%s`.
        assert_eq!(d.unix_seconds(), 1_440_938_160);
    }

    #[test]
    fn offsets_and_fractions_are_applied() {
        let a = parse_rfc3339("2022-05-02T18:36:00+02:00").unwrap();
        let b = parse_rfc3339("2022-05-02T16:36:00.999Z").unwrap();
        assert_eq!(a, b);
        let c = parse_rfc3339("2022-05-02T16:36:00-00:30").unwrap();
        assert_eq!(AmzDate::from_system_time(c).to_string(), "20220502T170600Z");
    }

    #[test]
    fn leap_years_and_month_ends_round_trip() {
        for text in [
            "2000-02-29T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2099-12-31T12:00:00Z",
        ] {
            let t = AmzDate::from_system_time(parse_rfc3339(text).unwrap());
            assert_eq!(t.rfc3339(), text);
            assert_eq!(AmzDate::parse_amz(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn impossible_dates_are_errors() {
        for text in [
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T00:00:60Z",
            "2023-01-01",
            "2023-01-01T00:00:00",
            "2023-01-01T00:00:00+0000",
            // Rolls over into year 10000 (found reading for the fuzz target).
            "9999-12-31T23:59:59-01:00",
            "not a date at all....",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text} was accepted");
        }
        assert!(AmzDate::parse_amz("20150830T123600").is_err());
        assert!(AmzDate::parse_amz("2015083OT123600Z").is_err());
    }
}
