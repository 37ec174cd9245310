//! Strict parsing of SigV4 dates (`YYYYMMDD` and `YYYYMMDD'T'HHMMSS'Z'`) without a date library.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether `s` is a real calendar date written as `YYYYMMDD`.
pub(crate) fn is_valid_yyyymmdd(s: &str) -> bool {
    parse_ymd(s).is_some()
}

/// Parse `YYYYMMDD'T'HHMMSS'Z'` (the `X-Amz-Date` format) into a time; `None` if it is anything else.
pub(crate) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let (y, m, d) = parse_ymd(s.get(..8)?)?;
    let hh = digits(s.get(9..11)?)?;
    let mm = digits(s.get(11..13)?)?;
    let ss = digits(s.get(13..15)?)?;
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + i64::from(hh * 3600 + mm * 60 + ss);
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::from_secs(secs)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
    }
}

fn parse_ymd(s: &str) -> Option<(i64, u32, u32)> {
    if s.len() != 8 {
        return None;
    }
    let y = digits(s.get(..4)?)?;
    let m = digits(s.get(4..6)?)?;
    let d = digits(s.get(6..8)?)?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month)
        .contains(&d)
        .then_some((i64::from(y), m, d))
}

/// ASCII digits only (no sign, no whitespace) as a number; `None` otherwise.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `time` as `YYYY-MM-DD'T'HH:MM:SS.mmm'Z'` (milliseconds truncated), and its date as `YYYYMMDD`: the
/// timestamp and scope date of a Keyspaces SigV4 response. `None` before 1970.
pub(crate) fn iso8601_millis(time: SystemTime) -> Option<(String, String)> {
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).ok()?;
    let of_day = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let ms = since.subsec_millis();
    Some((
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z"),
        format!("{y:04}{m:02}{d:02}"),
    ))
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_keyspaces_timestamps_and_round_trips_dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_591_742_511_042);
        assert_eq!(
            iso8601_millis(t).unwrap(),
            ("2020-06-09T22:41:51.042Z".to_owned(), "20200609".to_owned())
        );
        for days in [-1, 0, 59, 11_016, 18_422, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert!(iso8601_millis(UNIX_EPOCH - Duration::from_secs(1)).is_none());
    }

    #[test]
    fn parses_the_test_suite_date() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_440_938_160));
    }

    #[test]
    fn parses_epoch_leap_days_and_pre_epoch() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse_amz_date("20000229T000000Z"),
            Some(UNIX_EPOCH + Duration::from_secs(951_782_400))
        );
        assert_eq!(
            parse_amz_date("19691231T235959Z"),
            Some(UNIX_EPOCH - Duration::from_secs(1))
        );
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150830t123600Z",
            "2015083OT123600Z",
            "20150230T000000Z",
            "20190229T000000Z",
            "21000229T000000Z",
            "20151301T000000Z",
            "20150800T000000Z",
            "20150830T240000Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "+0150830T123600Z",
            "20150830T123600ZZ",
            "２０15",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
        assert!(is_valid_yyyymmdd("20240229"));
        assert!(!is_valid_yyyymmdd("2024022"));
        assert!(!is_valid_yyyymmdd("2024-2-1"));
    }
}
