//! The overview page (`templates/cabinet/overview.html`): per terminal, today's and the last 30
//! days' count, volume per currency and approval rate, then the charts (`charts.rs`).

use askama::Template;

use super::{amount, rate, Chrome, Frame};
use crate::edge::cabinet::charts::Chart;
use crate::edge::cabinet::i18n::{words, Lang, Words};

/// One terminal's numbers on the overview.
pub struct TerminalStats {
    pub name: String,
    pub pos_id: String,
    pub today_count: i64,
    /// Approved volume per currency (currency, minor units); currencies are never added up.
    pub today_volume: Vec<(String, i64)>,
    pub today_rate: Option<f64>,
    pub month_count: i64,
    pub month_volume: Vec<(String, i64)>,
    pub month_rate: Option<f64>,
}

#[derive(Template)]
#[template(path = "cabinet/overview.html")]
pub struct OverviewPage {
    frame: Frame,
    w: &'static Words,
    rows: Vec<OverviewRow>,
    charts: Vec<Chart>,
}

struct OverviewRow {
    name: String,
    pos_id: String,
    /// Today, then the last 30 days.
    periods: [Period; 2],
}

/// A terminal's numbers over one period, as shown.
struct Period {
    count: i64,
    /// `1000.00 KZT`, one per currency, each on its own line; none when nothing was approved.
    volumes: Vec<String>,
    rate: String,
}

fn period(lang: Lang, count: i64, volume: &[(String, i64)], approval: Option<f64>) -> Period {
    Period {
        count,
        volumes: volume.iter().map(|(currency, minor)| format!("{} {currency}", amount(lang, *minor))).collect(),
        rate: rate(lang, approval),
    }
}

pub fn overview(c: &Chrome<'_>, stats: &[TerminalStats], charts: Vec<Chart>) -> OverviewPage {
    let w = words(c.lang);
    let rows = stats
        .iter()
        .map(|s| OverviewRow {
            name: s.name.clone(),
            pos_id: s.pos_id.clone(),
            periods: [
                period(c.lang, s.today_count, &s.today_volume, s.today_rate),
                period(c.lang, s.month_count, &s.month_volume, s.month_rate),
            ],
        })
        .collect();
    OverviewPage { frame: Frame::signed(c, w.overview), w, rows, charts }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_escaped, chrome, XSS};
    use super::*;
    use crate::edge::cabinet::charts::{self, Group};
    use crate::edge::cabinet::i18n::Lang;

    #[test]
    fn volumes_stay_per_currency_and_names_are_text() {
        let stats = [TerminalStats {
            name: XSS.into(),
            pos_id: "98120004".into(),
            today_count: 2,
            today_volume: vec![("KZT".into(), 10_000), ("USD".into(), 1_334)],
            today_rate: Some(50.0),
            month_count: 0,
            month_volume: vec![],
            month_rate: None,
        }];
        let chart = charts::grouped_bars(
            "chart-count",
            "Count",
            ("a", "b"),
            &[Group { label: XSS, today: 1.0, month: 2.0 }],
            None,
            &|v| v.to_string(),
        );
        let html = overview(&chrome(Lang::En), &stats, vec![Chart::Bars(chart)]).render().unwrap();
        assert!(html.contains(r#"<td class="num">100 KZT<br>13.34 USD</td>"#), "{html}");
        assert!(html.contains(r#"<td class="num">0</td><td class="num">0</td><td class="num">—</td>"#), "{html}");
        assert!(html.contains(r#"<td class="num">50.0%</td>"#));
        assert!(html.contains(r#"<figure class="chart"><svg id="chart-count""#), "{html}");
        assert_escaped(&html);
    }
}
