//! TaskRouter's wire conventions shared by the client and the emulator.

/// A time as TaskRouter writes it in JSON, `2014-05-14T18:50:02Z` (UTC, whole seconds),
/// from epoch milliseconds; empty for a time `time` cannot represent.
pub fn format_date(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
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
    }
}
