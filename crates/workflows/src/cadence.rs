//! When a schedule fires next.

use chrono::{DateTime, TimeDelta, Utc};
use domain::workflows::Cadence;
use std::str::FromStr;

/// Checks a cadence: intervals of at least a second, cron expressions that
/// parse (six or seven fields, seconds first).
pub fn check(cadence: &Cadence) -> Result<(), String> {
    match cadence {
        Cadence::Every(d) if d.as_secs() < 1 => {
            Err("a schedule's interval must be at least one second".into())
        }
        Cadence::Every(_) => Ok(()),
        Cadence::Cron(expr) => cron::Schedule::from_str(expr)
            .map(|_| ())
            .map_err(|e| format!("invalid cron expression {expr:?}: {e}")),
    }
}

/// The first firing strictly after `now`. An interval keeps the phase of
/// `anchor` (the firing that was due), so a schedule that missed several
/// periods while no worker ran fires once, then keeps its rhythm.
pub fn next_after(
    cadence: &Cadence,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    match cadence {
        Cadence::Every(d) => {
            let step = TimeDelta::from_std(*d).map_err(|e| e.to_string())?;
            if anchor > now {
                return Ok(anchor);
            }
            let behind = (now - anchor).num_milliseconds();
            let periods = behind / step.num_milliseconds().max(1) + 1;
            Ok(anchor + step * periods as i32)
        }
        Cadence::Cron(expr) => cron::Schedule::from_str(expr)
            .map_err(|e| e.to_string())?
            .after(&now)
            .next()
            .ok_or_else(|| format!("cron expression {expr:?} never fires again")),
    }
}

/// The cadence stored in a schedule row.
pub fn from_row(every_secs: Option<i64>, cron: Option<&str>) -> Cadence {
    match (every_secs, cron) {
        (_, Some(c)) => Cadence::Cron(c.to_string()),
        (Some(s), None) => Cadence::Every(std::time::Duration::from_secs(s.max(1) as u64)),
        (None, None) => Cadence::Every(std::time::Duration::from_secs(86_400)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_interval_that_missed_periods_fires_next_on_its_own_rhythm() {
        let every = Cadence::Every(Duration::from_secs(60));
        let next = next_after(
            &every,
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:03:30Z"),
        );
        assert_eq!(next.unwrap(), at("2026-01-01T00:04:00Z"));
    }

    #[test]
    fn an_interval_due_exactly_now_moves_a_whole_period() {
        let every = Cadence::Every(Duration::from_secs(60));
        let t = at("2026-01-01T00:00:00Z");
        assert_eq!(
            next_after(&every, t, t).unwrap(),
            at("2026-01-01T00:01:00Z")
        );
    }

    #[test]
    fn a_daily_cron_fires_at_its_hour() {
        let daily = Cadence::Cron("0 30 3 * * *".into());
        let next = next_after(
            &daily,
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T04:00:00Z"),
        );
        assert_eq!(next.unwrap(), at("2026-01-02T03:30:00Z"));
    }

    #[test]
    fn bad_cadences_are_refused_with_a_reason() {
        assert!(check(&Cadence::Every(Duration::from_millis(10))).is_err());
        let err = check(&Cadence::Cron("every day".into())).unwrap_err();
        assert!(err.contains("invalid cron expression"), "{err}");
    }
}
