//! Milliseconds since the Unix epoch as RFC 3339 UTC text, and back.

use provgraph_vuln::time::Timestamp;

/// Formats `millis` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Reads an RFC 3339 date-time (`2026-12-07T17:00:00Z`, fractional seconds
/// and a `+HH:MM` offset allowed) as milliseconds since the epoch, with the
/// one RFC 3339 reader (`provgraph_vuln::Timestamp`, which also orders OSV
/// records' `modified` and VEX statements' `timestamp`).
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    Timestamp::parse(text).map(|at| at.millis()).ok_or_else(|| {
        format!(
            "{:?} is not an RFC 3339 time such as 2026-12-07T17:00:00Z",
            provgraph_model::keys::shorten(text, 40)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_rfc3339, rfc3339};

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for millis in [0, 951_782_400_123, 1_798_761_599_999] {
            assert_eq!(parse_rfc3339(&rfc3339(millis)), Ok(millis));
        }
        assert_eq!(
            parse_rfc3339("2026-12-07T18:00:00+01:00"),
            parse_rfc3339("2026-12-07T17:00:00Z")
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z"), Ok(500));
        for bad in [
            "",
            "2026-12-07",
            "2026-02-30T00:00:00Z",
            "2026-12-07T17:00:00",
            "yesterday",
            "2026-12-07T17:00:00+1:00",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
    }
}
