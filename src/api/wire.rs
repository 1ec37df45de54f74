//! TaskRouter's wire conventions shared by the client and the emulator.

/// A time as TaskRouter writes it in JSON, `2014-05-14T18:50:02Z` (UTC, whole seconds),
/// from epoch milliseconds; empty for a time `time` cannot represent.
pub fn format_date(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        // Written from the calendar fields rather than through a format description:
        // every resource a reply encodes carries two or three dates, and the generic
        // formatter was a measurable share of rendering one.
        Ok(moment) if (0..=9999).contains(&moment.year()) => {
            let mut out = String::with_capacity(20);
            let mut digits = |value: u8| {
                out.push(char::from(b'0' + value / 10));
                out.push(char::from(b'0' + value % 10));
            };
            let year = moment.year() as u16; // 0..=9999, checked above
            digits((year / 100) as u8);
            digits((year % 100) as u8);
            for (separator, value) in [
                ('-', u8::from(moment.month())),
                ('-', moment.day()),
                ('T', moment.hour()),
                (':', moment.minute()),
                (':', moment.second()),
            ] {
                out.push(separator);
                out.push(char::from(b'0' + value / 10));
                out.push(char::from(b'0' + value % 10));
            }
            out.push('Z');
            out
        }
        Ok(moment) => {
            let format =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            moment.format(&format).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_whole_utc_seconds() {
        assert_eq!(format_date(1_400_093_402_999), "2014-05-14T18:50:02Z");
        assert_eq!(format_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_date(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_date(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_date(253_402_300_799_000), "9999-12-31T23:59:59Z");
    }
}
