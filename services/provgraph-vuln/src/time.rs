//! RFC 3339 times (`2023-10-10T15:29:23Z`, `2023-01-08T18:02:03.647787998-06:00`)
//! as instants, so that records' `modified` and VEX statements' `timestamp`
//! compare whatever offset they were written in.

use serde::{Deserialize, Serialize};

/// An instant: seconds since the Unix epoch (negative before 1970) and
/// nanoseconds. Ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// The longest text [`Timestamp::parse`] reads (a limit, not RFC 3339's:
    /// fractions past nanoseconds are read and dropped up to it).
    pub const MAX_LEN: usize = 64;

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t` and `z` and a
    /// space for `T` are accepted, as RFC 3339 allows.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        if b.len() < 20 || b.len() > Timestamp::MAX_LEN {
            return None;
        }
        let digits = |from: usize, len: usize| -> Option<i64> {
            let part = b.get(from..from + len)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let year = digits(0, 4)?;
        let month = digits(5, 2)?;
        let day = digits(8, 2)?;
        let hour = digits(11, 2)?;
        let minute = digits(14, 2)?;
        let second = digits(17, 2)?;
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&month)
            || day < 1
            || day > month_days[(month - 1) as usize]
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut at = 19;
        let mut nanos: u32 = 0;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 9 {
                    nanos = nanos * 10 + u32::from(b[at] - b'0');
                }
                at += 1;
            }
            let written = at - start;
            if written == 0 {
                return None;
            }
            for _ in written..9 {
                nanos *= 10;
            }
        }
        let offset = match b.get(at..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let two = |x: &u8, y: &u8| -> Option<i64> {
                    (x.is_ascii_digit() && y.is_ascii_digit())
                        .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
                };
                let (hours, minutes) = (two(h1, h2)?, two(m1, m2)?);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = hours * 3600 + minutes * 60;
                if *sign == b'-' { -offset } else { offset }
            }
            _ => return None,
        };
        // Days since the epoch (Howard Hinnant's days_from_civil).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
        Some(Timestamp { seconds, nanos })
    }

    /// Milliseconds since the epoch.
    pub fn millis(&self) -> i64 {
        self.seconds * 1000 + i64::from(self.nanos / 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn instants_whatever_the_offset() {
        let utc = Timestamp::parse("2023-01-09T00:02:03.647787998Z").unwrap();
        let cst = Timestamp::parse("2023-01-08T18:02:03.647787998-06:00").unwrap();
        assert_eq!(utc, cst);
        assert_eq!((utc.seconds, utc.nanos), (1_673_222_523, 647_787_998));
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().seconds, 0);
        assert_eq!(
            Timestamp::parse("0001-01-01T00:00:00Z").unwrap().seconds,
            -62_135_596_800
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T23:59:59.5+01:00"),
            Timestamp::parse("2024-02-29T22:59:59.500Z")
        );
        assert!(
            Timestamp::parse("2023-10-10T15:29:23Z") < Timestamp::parse("2023-10-10T15:29:24Z")
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2023-10-10",
            "2023-10-10T15:29:23",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-10-10T24:00:00Z",
            "2023-10-10T15:29:23.Z",
            "2023-10-10T15:29:23+0100",
            "2023/10/10T15:29:23Z",
            "2023-10-10T15:29:23Zjunk",
            "２０２３-10-10T15:29:23Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
    }
}
