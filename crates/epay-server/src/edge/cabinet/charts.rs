//! Charts as server-rendered SVG: no script, no library, nothing from a CDN. This module works
//! out the geometry (where each bar goes, how long it is) as plain numbers; the templates
//! `templates/cabinet/chart-bars.svg` and `chart-columns.svg` draw it, escaping every label.
//! Colours come from classes in cabinet.css; every bar carries its exact value in a `<title>`
//! (shown on hover and read by screen readers).

/// One bar group's input: a label and its "today" and "30 days" values.
pub struct Group<'a> {
    pub label: &'a str,
    pub today: f64,
    pub month: f64,
}

/// The drawing's width in SVG units (it scales to the page).
pub const WIDTH: f64 = 640.0;
/// Where bars start: the group labels are left of this.
pub const LABEL_W: f64 = 170.0;
const VALUE_W: f64 = 90.0;
const BAR_H: f64 = 14.0;
/// Longest group label drawn (the full one is in each bar's title).
const LABEL_CHARS: usize = 24;

/// A chart of the overview.
pub enum Chart {
    Bars(BarChart),
    Columns(ColumnChart),
}

/// Horizontal bars, two per group (`templates/cabinet/chart-bars.svg`).
pub struct BarChart {
    pub id: String,
    pub title: String,
    pub height: f64,
    /// The two series' colour boxes and names, top right.
    pub legend: [LegendEntry; 2],
    pub groups: Vec<BarGroup>,
}

pub struct LegendEntry {
    /// `bar-today` or `bar-month` (cabinet.css).
    pub class: &'static str,
    pub name: String,
    /// Left edge of the colour box; the name follows it.
    pub x: f64,
}

pub struct BarGroup {
    /// The label as drawn, shortened to fit.
    pub short_label: String,
    pub label: String,
    /// Baseline of the drawn label.
    pub label_y: f64,
    pub bars: Vec<Bar>,
}

pub struct Bar {
    pub class: &'static str,
    /// The series' name, for the title.
    pub series: String,
    pub y: f64,
    pub width: f64,
    /// The value as text, after the bar and in its title.
    pub value: String,
    pub value_x: f64,
    pub value_y: f64,
}

impl BarChart {
    pub fn width(&self) -> f64 {
        WIDTH
    }
    pub fn bars_x(&self) -> f64 {
        LABEL_W
    }
    pub fn bar_height(&self) -> f64 {
        BAR_H - 2.0
    }
}

/// Horizontal bars, two per group (today above, 30 days below), on one scale: `max` (e.g. 100
/// for a percentage) or the largest value.
pub fn grouped_bars(
    id: &str,
    title: &str,
    legend: (&str, &str),
    groups: &[Group<'_>],
    max: Option<f64>,
    fmt: &dyn Fn(f64) -> String,
) -> BarChart {
    let top = max.unwrap_or_else(|| groups.iter().map(|g| g.today.max(g.month)).fold(0.0, f64::max)).max(1e-9);
    let span = WIDTH - LABEL_W - VALUE_W;
    let row_h = BAR_H * 2.0 + 14.0;
    let groups = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let y = 30.0 + row_h * i as f64;
            let bars = [(g.today, "bar-today", legend.0), (g.month, "bar-month", legend.1)]
                .into_iter()
                .enumerate()
                .map(|(j, (value, class, series))| {
                    let by = y + j as f64 * BAR_H;
                    // NaN stands for "no value" (an approval rate without attempts): no bar.
                    let width = if value.is_finite() { (value / top * span).clamp(0.0, span) } else { 0.0 };
                    Bar {
                        class,
                        series: series.to_string(),
                        y: by,
                        width,
                        value: fmt(value),
                        value_x: LABEL_W + width + 4.0,
                        value_y: by + BAR_H - 3.0,
                    }
                })
                .collect();
            BarGroup {
                short_label: truncate(g.label, LABEL_CHARS),
                label: g.label.to_string(),
                label_y: y + BAR_H + 3.0,
                bars,
            }
        })
        .collect::<Vec<_>>();
    BarChart {
        id: id.to_string(),
        title: title.to_string(),
        height: (30.0 + row_h * groups.len().max(1) as f64).round(),
        legend: [
            LegendEntry { class: "bar-today", name: legend.0.to_string(), x: WIDTH - 200.0 },
            LegendEntry { class: "bar-month", name: legend.1.to_string(), x: WIDTH - 110.0 },
        ],
        groups,
    }
}

/// Columns, one per day (`templates/cabinet/chart-columns.svg`).
pub struct ColumnChart {
    pub id: String,
    pub title: String,
    pub height: f64,
    /// Where the columns stand.
    pub baseline_y: f64,
    pub columns: Vec<Column>,
    /// Day labels under the columns, every few days and the last.
    pub ticks: Vec<Tick>,
}

pub struct Column {
    pub label: String,
    pub value: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

pub struct Tick {
    pub label: String,
    pub x: f64,
    pub y: f64,
    /// SVG `text-anchor`: `start`, or `end` for the last label so it ends at the right edge.
    pub anchor: &'static str,
}

impl ColumnChart {
    pub fn width(&self) -> f64 {
        WIDTH
    }
}

/// Columns, one per day (oldest first), labelled every few days.
pub fn daily_columns(id: &str, title: &str, days: &[(String, f64)], fmt: &dyn Fn(f64) -> String) -> ColumnChart {
    let height = 150.0;
    let (top_pad, bottom_pad) = (22.0, 18.0);
    let plot_h = height - top_pad - bottom_pad;
    let top = days.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-9);
    let slot = WIDTH / days.len().max(1) as f64;
    let mut columns = Vec::new();
    let mut ticks = Vec::new();
    for (i, (label, value)) in days.iter().enumerate() {
        let h = (value / top * plot_h).clamp(0.0, plot_h);
        let x = slot * i as f64;
        columns.push(Column {
            label: label.clone(),
            value: fmt(*value),
            x,
            y: top_pad + plot_h - h,
            width: (slot - 2.0).max(1.0),
            height: h,
        });
        let last = i + 1 == days.len();
        if i % 5 == 0 || last {
            let (x, anchor) = if last { (WIDTH, "end") } else { (x, "start") };
            ticks.push(Tick { label: label.clone(), x, y: height - 4.0, anchor });
        }
    }
    ColumnChart { id: id.to_string(), title: title.to_string(), height, baseline_y: top_pad + plot_h, columns, ticks }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use askama::Template;

    use super::*;

    /// The chart templates on their own, as the overview includes them.
    #[derive(Template)]
    #[template(path = "cabinet/chart-bars.svg")]
    struct BarsSvg<'a> {
        chart: &'a BarChart,
    }

    #[derive(Template)]
    #[template(path = "cabinet/chart-columns.svg")]
    struct ColumnsSvg<'a> {
        chart: &'a ColumnChart,
    }

    fn plain(v: f64) -> String {
        v.to_string()
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let groups = [Group { label: "<T1>", today: 50.0, month: 100.0 }];
        let chart = grouped_bars("c", "Volume", ("Today", "30 days"), &groups, None, &plain);
        let span = WIDTH - LABEL_W - VALUE_W;
        assert_eq!(chart.groups[0].bars[1].width, span, "30 days is the full width");
        assert_eq!(chart.groups[0].bars[0].width, span / 2.0, "today is half");
        let svg = BarsSvg { chart: &chart }.render().unwrap();
        assert!(svg.contains("&#60;T1&#62;") && !svg.contains("<T1>"), "{svg}");
        assert!(svg.contains(&format!(r#"width="{:.1}""#, span)), "{svg}");
        assert!(svg.contains(r#"<title>&#60;T1&#62; — Today: 50</title>"#), "{svg}");
        assert!(svg.starts_with(r#"<svg id="c" role="img" aria-label="Volume" viewBox="0 0 640 72""#), "{svg}");
    }

    #[test]
    fn long_labels_are_shortened_on_the_drawing_only() {
        let label = "A terminal with a very long name (98120004)";
        let chart = grouped_bars("c", "Count", ("a", "b"), &[Group { label, today: 1.0, month: 2.0 }], None, &plain);
        assert_eq!(chart.groups[0].short_label, "A terminal with a very …");
        let svg = BarsSvg { chart: &chart }.render().unwrap();
        assert!(svg.contains(&format!("<title>{label} — a: 1</title>")), "{svg}");
    }

    #[test]
    fn a_missing_value_draws_no_bar() {
        let groups = [Group { label: "T", today: f64::NAN, month: 50.0 }];
        let chart = grouped_bars("c", "Rate", ("a", "b"), &groups, Some(100.0), &|v| {
            if v.is_finite() {
                format!("{v}%")
            } else {
                "—".into()
            }
        });
        let svg = BarsSvg { chart: &chart }.render().unwrap();
        assert!(svg.contains(r#"width="0.0""#) && svg.contains(">—<") && !svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn days_are_columns_with_every_fifth_label_and_the_last() {
        let days: Vec<(String, f64)> = (1..=7).map(|d| (format!("0{d}.11"), d as f64)).collect();
        let chart = daily_columns("d", "Daily <b>", &days, &plain);
        assert_eq!(chart.columns.len(), 7);
        assert_eq!(chart.columns[6].height, 110.0, "the largest day fills the plot");
        let ticks: Vec<&str> = chart.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(ticks, ["01.11", "06.11", "07.11"]);
        assert_eq!((chart.ticks[2].x, chart.ticks[2].anchor), (WIDTH, "end"));
        let svg = ColumnsSvg { chart: &chart }.render().unwrap();
        assert!(svg.contains(r#"aria-label="Daily &#60;b&#62;""#) && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains(r#"<text class="axis" x="640.0" y="146.0" text-anchor="end">07.11</text>"#), "{svg}");
    }

    #[test]
    fn empty_data_draws_an_empty_chart() {
        let svg = ColumnsSvg { chart: &daily_columns("d", "Daily", &[], &plain) }.render().unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        let svg =
            BarsSvg { chart: &grouped_bars("c", "Volume", ("a", "b"), &[], Some(100.0), &plain) }.render().unwrap();
        assert!(svg.ends_with("</svg>"), "{svg}");
    }
}
