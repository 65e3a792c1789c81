//! Charts as server-rendered SVG: no script, no library, nothing from a CDN. Colours come from
//! classes in cabinet.css; every bar carries its exact value in a `<title>` (shown on hover and
//! read by screen readers).

use super::views::escape;

/// One bar group: a label and its "today" and "30 days" values.
pub struct Group<'a> {
    pub label: &'a str,
    pub today: f64,
    pub month: f64,
}

const WIDTH: f64 = 640.0;
const LABEL_W: f64 = 170.0;
const VALUE_W: f64 = 90.0;
const BAR_H: f64 = 14.0;

/// Horizontal bars, two per group (today above, 30 days below), on one scale: `max` (e.g. 100
/// for a percentage) or the largest value.
pub fn grouped_bars(
    id: &str,
    title: &str,
    legend: (&str, &str),
    groups: &[Group<'_>],
    max: Option<f64>,
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let top = max.unwrap_or_else(|| groups.iter().map(|g| g.today.max(g.month)).fold(0.0, f64::max)).max(1e-9);
    let span = WIDTH - LABEL_W - VALUE_W;
    let row_h = BAR_H * 2.0 + 14.0;
    let height = 30.0 + row_h * groups.len().max(1) as f64;
    let mut body = String::new();
    for (i, g) in groups.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        body.push_str(&format!(
            r#"<text class="label" x="0" y="{ty:.1}">{label}</text>"#,
            ty = y + BAR_H + 3.0,
            label = escape(&truncate(g.label, 24)),
        ));
        for (j, (value, class, name)) in
            [(g.today, "bar-today", legend.0), (g.month, "bar-month", legend.1)].into_iter().enumerate()
        {
            let by = y + j as f64 * BAR_H;
            // NaN stands for "no value" (an approval rate without attempts): no bar.
            let w = if value.is_finite() { (value / top * span).clamp(0.0, span) } else { 0.0 };
            body.push_str(&format!(
                r#"<rect class="{class}" x="{LABEL_W}" y="{by:.1}" width="{w:.1}" height="{h:.1}"><title>{label} — {name}: {v}</title></rect><text class="value" x="{tx:.1}" y="{vy:.1}">{v}</text>"#,
                h = BAR_H - 2.0,
                label = escape(g.label),
                name = escape(name),
                v = escape(&fmt(value)),
                tx = LABEL_W + w + 4.0,
                vy = by + BAR_H - 3.0,
            ));
        }
    }
    format!(
        r#"<figure class="chart"><svg id="{id}" role="img" aria-label="{title}" viewBox="0 0 {WIDTH} {height:.0}" preserveAspectRatio="xMinYMin meet"><text class="chart-title" x="0" y="14">{title}</text><rect class="bar-today" x="{lx1}" y="4" width="10" height="10"/><text class="legend" x="{lt1}" y="13">{l0}</text><rect class="bar-month" x="{lx2}" y="4" width="10" height="10"/><text class="legend" x="{lt2}" y="13">{l1}</text>{body}</svg></figure>"#,
        title = escape(title),
        lx1 = WIDTH - 200.0,
        lt1 = WIDTH - 186.0,
        lx2 = WIDTH - 110.0,
        lt2 = WIDTH - 96.0,
        l0 = escape(legend.0),
        l1 = escape(legend.1),
    )
}

/// Columns, one per day (oldest first), labelled every few days.
pub fn daily_columns(id: &str, title: &str, days: &[(String, f64)], fmt: &dyn Fn(f64) -> String) -> String {
    let height = 150.0;
    let (top_pad, bottom_pad) = (22.0, 18.0);
    let plot_h = height - top_pad - bottom_pad;
    let top = days.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-9);
    let n = days.len().max(1) as f64;
    let slot = WIDTH / n;
    let mut body = String::new();
    for (i, (label, value)) in days.iter().enumerate() {
        let h = (value / top * plot_h).clamp(0.0, plot_h);
        let x = slot * i as f64;
        body.push_str(&format!(
            r#"<rect class="bar-month" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>{label}: {v}</title></rect>"#,
            y = top_pad + plot_h - h,
            w = (slot - 2.0).max(1.0),
            label = escape(label),
            v = escape(&fmt(*value)),
        ));
        let last = i + 1 == days.len();
        if i % 5 == 0 || last {
            // The last label ends at the right edge instead of running off it.
            let (x, anchor) = if last { (WIDTH, "end") } else { (x, "start") };
            body.push_str(&format!(
                r#"<text class="axis" x="{x:.1}" y="{y:.1}" text-anchor="{anchor}">{label}</text>"#,
                y = height - 4.0,
                label = escape(label)
            ));
        }
    }
    format!(
        r#"<figure class="chart"><svg id="{id}" role="img" aria-label="{title}" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet"><text class="chart-title" x="0" y="14">{title}</text><line class="baseline" x1="0" x2="{WIDTH}" y1="{base}" y2="{base}"/>{body}</svg></figure>"#,
        title = escape(title),
        base = top_pad + plot_h,
    )
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let groups = [Group { label: "<T1>", today: 50.0, month: 100.0 }];
        let svg = grouped_bars("c", "Volume", ("Today", "30 days"), &groups, None, &|v| format!("{v}"));
        assert!(svg.contains("&lt;T1&gt;") && !svg.contains("<T1>"));
        let span = WIDTH - LABEL_W - VALUE_W;
        assert!(svg.contains(&format!(r#"width="{:.1}""#, span)), "30 days is the full width");
        assert!(svg.contains(&format!(r#"width="{:.1}""#, span / 2.0)), "today is half");
    }

    #[test]
    fn a_missing_value_draws_no_bar() {
        let groups = [Group { label: "T", today: f64::NAN, month: 50.0 }];
        let svg = grouped_bars("c", "Rate", ("a", "b"), &groups, Some(100.0), &|v| {
            if v.is_finite() {
                format!("{v}%")
            } else {
                "—".into()
            }
        });
        assert!(svg.contains(r#"width="0.0""#) && svg.contains(">—<") && !svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn empty_data_draws_an_empty_chart() {
        let svg = daily_columns("d", "Daily", &[], &|v| format!("{v}"));
        assert!(svg.starts_with("<figure") && svg.contains("</svg>"));
        let svg = grouped_bars("c", "Volume", ("a", "b"), &[], Some(100.0), &|v| format!("{v}"));
        assert!(svg.contains("</svg>"));
    }
}
