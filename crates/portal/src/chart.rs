//! Charts as server-rendered SVG: no script, nothing fetched.

use chrono::NaiveDate;

/// One bar, in SVG user units.
pub struct Bar {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// The day, for the tooltip.
    pub day: String,
    /// The value.
    pub value: i64,
}

/// A daily bar chart.
pub struct DailyBars {
    /// Bars, oldest first.
    pub bars: Vec<Bar>,
    /// Largest value (the top gridline).
    pub max: i64,
    /// Sum of all values.
    pub total: i64,
    /// First and last day labels.
    pub first: String,
    /// Last day label.
    pub last: String,
    /// Chart width.
    pub width: f64,
    /// Chart height.
    pub height: f64,
}

/// Plot area: the height of the tallest bar.
const PLOT: f64 = 120.0;
/// Room below the bars for the axis labels.
const AXIS: f64 = 20.0;

impl DailyBars {
    /// Lays out one bar per day.
    pub fn new(points: &[(NaiveDate, i64)]) -> Self {
        let width = 600.0;
        let max = points.iter().map(|p| p.1).max().unwrap_or(0);
        let slot = width / points.len().max(1) as f64;
        let bars = points
            .iter()
            .enumerate()
            .map(|(i, (day, value))| {
                let h = if max == 0 {
                    0.0
                } else {
                    PLOT * (*value as f64) / (max as f64)
                };
                Bar {
                    x: i as f64 * slot + slot * 0.15,
                    y: PLOT - h,
                    w: slot * 0.7,
                    // A zero day still shows a hairline, so the axis reads as days.
                    h: h.max(1.0),
                    day: day.format("%b %-d").to_string(),
                    value: *value,
                }
            })
            .collect();
        let label = |p: Option<&(NaiveDate, i64)>| {
            p.map(|p| p.0.format("%b %-d").to_string())
                .unwrap_or_default()
        };
        Self {
            bars,
            max,
            total: points.iter().map(|p| p.1).sum(),
            first: label(points.first()),
            last: label(points.last()),
            width,
            height: PLOT + AXIS,
        }
    }

    /// Baseline of the bars.
    pub fn baseline(&self) -> f64 {
        PLOT
    }

    /// Where the axis labels sit.
    pub fn label_y(&self) -> f64 {
        PLOT + AXIS - 4.0
    }
}
