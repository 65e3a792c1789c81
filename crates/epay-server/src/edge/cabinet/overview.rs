//! The overview: today's and the last 30 days' volume (per currency: amounts in different
//! currencies are never added), count and approval rate per terminal, as a table and as SVG charts.

use axum::http::StatusCode;
use axum::response::Response;

use super::charts::{self, Chart, Group};
use super::error::CabinetError;
use super::filter;
use super::i18n::words;
use super::views::{self, Section, TerminalStats};
use super::{html, Signed};
use crate::platform::clock::KZ_OFFSET;

const DAYS: i64 = 30;

fn approval(approved: i64, attempts: i64) -> Option<f64> {
    (attempts > 0).then(|| approved as f64 * 100.0 / attempts as f64)
}

pub async fn show(signed: Signed) -> Response {
    let result = async {
        let now = signed.app.clock.now_ms();
        let (today_start, today) = filter::today(now);
        let since = today_start - (DAYS - 1) * 86_400_000;
        let offset_ms = i64::from(KZ_OFFSET.whole_seconds()) * 1000;
        let stats = signed.app.store.daily_stats(signed.merchant_id(), since, offset_ms).await?;
        let terminals = signed.app.store.terminals_of(signed.merchant_id()).await?;
        let lang = signed.lang;
        let w = words(lang);
        // Tenge first, then the others alphabetically.
        let mut currencies: Vec<&str> = stats.iter().map(|s| s.currency.as_str()).collect();
        currencies.sort_by_key(|c| (*c != "KZT", *c));
        currencies.dedup();

        let mut rows = Vec::new();
        let mut daily_charts = Vec::new();
        for t in &terminals {
            let mine: Vec<_> = stats.iter().filter(|s| s.terminal_id == t.id).collect();
            let sum = |f: &dyn Fn(&&epay_store::DailyStat) -> i64, only_today: bool| -> i64 {
                mine.iter().filter(|s| !only_today || s.day == today).map(f).sum()
            };
            let volume = |only_today: bool| -> Vec<(String, i64)> {
                currencies
                    .iter()
                    .map(|c| {
                        let v: i64 = mine
                            .iter()
                            .filter(|s| s.currency == *c && (!only_today || s.day == today))
                            .map(|s| s.volume_minor)
                            .sum();
                        (c.to_string(), v)
                    })
                    .filter(|(_, v)| *v > 0)
                    .collect()
            };
            let (tc, ta) = (sum(&|s| s.attempts, true), sum(&|s| s.approved, true));
            let (mc, ma) = (sum(&|s| s.attempts, false), sum(&|s| s.approved, false));
            let month_volume = volume(false);
            for (currency, _) in &month_volume {
                let days: Vec<(String, f64)> = (today - DAYS + 1..=today)
                    .map(|day| {
                        let v: i64 = mine
                            .iter()
                            .filter(|s| s.day == day && s.currency == *currency)
                            .map(|s| s.volume_minor)
                            .sum();
                        (filter::day_label(day), v as f64 / 100.0)
                    })
                    .collect();
                let title = format!("{}, {currency} — {} ({})", w.daily_volume, t.name, t.pos_id);
                let id = format!("daily-{}-{currency}", t.pos_id);
                daily_charts.push(Chart::Columns(charts::daily_columns(&id, &title, &days, &|v| {
                    views::amount(lang, (v * 100.0).round() as i64)
                })));
            }
            rows.push(TerminalStats {
                name: t.name.clone(),
                pos_id: t.pos_id.clone(),
                today_count: tc,
                today_volume: volume(true),
                today_rate: approval(ta, tc),
                month_count: mc,
                month_volume,
                month_rate: approval(ma, mc),
            });
        }
        let labels: Vec<String> = rows.iter().map(|r| format!("{} ({})", r.name, r.pos_id)).collect();
        let groups = |f: &dyn Fn(&TerminalStats) -> (f64, f64)| -> Vec<Group<'_>> {
            rows.iter()
                .zip(&labels)
                .map(|(r, label)| {
                    let (today, month) = f(r);
                    Group { label, today, month }
                })
                .collect()
        };
        let legend = (w.today, w.last_30_days);
        let mut all_charts = Vec::new();
        for currency in &currencies {
            let of = |v: &[(String, i64)]| {
                v.iter().find(|(c, _)| c == currency).map(|(_, m)| *m as f64 / 100.0).unwrap_or(0.0)
            };
            all_charts.push(Chart::Bars(charts::grouped_bars(
                &format!("chart-volume-{currency}"),
                &format!("{}, {currency}", w.volume),
                legend,
                &groups(&|r| (of(&r.today_volume), of(&r.month_volume))),
                None,
                &|v| views::amount(lang, (v * 100.0).round() as i64),
            )));
        }
        all_charts.push(Chart::Bars(charts::grouped_bars(
            "chart-count",
            w.count,
            legend,
            &groups(&|r| (r.today_count as f64, r.month_count as f64)),
            None,
            &|v| format!("{v:.0}"),
        )));
        all_charts.push(Chart::Bars(charts::grouped_bars(
            "chart-approval",
            w.approval_rate,
            legend,
            &groups(&|r| (r.today_rate.unwrap_or(f64::NAN), r.month_rate.unwrap_or(f64::NAN))),
            Some(100.0),
            &|v| views::rate(lang, v.is_finite().then_some(v)),
        )));
        all_charts.extend(daily_charts);
        Ok::<_, CabinetError>(html(
            StatusCode::OK,
            views::overview(&signed.chrome(Section::Overview), &rows, all_charts),
        ))
    }
    .await;
    signed.reply(result)
}
