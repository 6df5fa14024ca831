//! UTC calendar months for the origin quota, from Unix milliseconds (no clock read here).

/// `YYYY-MM` of the UTC calendar month containing `now_ms`.
pub fn month_key(now_ms: f64) -> String {
    let days = (now_ms / 86_400_000.0).floor() as i64;
    let (year, month) = civil_from_days(days);
    format!("{year:04}-{month:02}")
}

// Howard Hinnant's days -> civil date algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

#[cfg(test)]
mod tests {
    use super::month_key;

    #[test]
    fn months_change_exactly_at_utc_midnight() {
        assert_eq!(month_key(0.0), "1970-01");
        // 2024-02-29T23:59:59.999Z and 2024-03-01T00:00:00Z
        assert_eq!(month_key(1_709_251_199_999.0), "2024-02");
        assert_eq!(month_key(1_709_251_200_000.0), "2024-03");
        // 2025-12-31T23:59:59.999Z and 2026-01-01T00:00:00Z
        assert_eq!(month_key(1_767_225_599_999.0), "2025-12");
        assert_eq!(month_key(1_767_225_600_000.0), "2026-01");
    }
}
