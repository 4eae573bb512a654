//! The console's dashboard (renewals and revenue per day and month, orders by state,
//! certificates expiring soon) and the CSV exports accounting takes (paid orders, invoices).

use crate::store::sql;
use crate::State;

const DAY: i64 = 86_400;
/// China Standard Time's offset: days and months are counted in Beijing.
const CST: i64 = 8 * 3600;

fn day_text(day: i64) -> String {
    let (y, m, d) = crate::china_date(day * DAY);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Per-day values over the `days` days ending today, zeros filled in.
fn per_day(rows: &[(i64, i64)], today: i64, days: i64) -> Vec<api::DatedValue> {
    (today - days + 1..=today)
        .map(|d| api::DatedValue {
            date: day_text(d),
            value: rows.iter().filter(|(k, _)| *k == d).map(|(_, v)| v).sum(),
        })
        .collect()
}

/// Per-month values over the last 12 months, from per-day rows.
fn per_month(rows: &[(i64, i64)], today: i64) -> Vec<api::DatedValue> {
    let month = |d: i64| day_text(d)[..7].to_string();
    let (y, m, _) = crate::china_date(today * DAY);
    let mut months = vec![];
    let (mut y, mut m) = (y, m as i64);
    for _ in 0..12 {
        months.push(format!("{y:04}-{m:02}"));
        m -= 1;
        if m == 0 {
            m = 12;
            y -= 1;
        }
    }
    months.reverse();
    months
        .into_iter()
        .map(|date| api::DatedValue {
            value: rows
                .iter()
                .filter(|(d, _)| month(*d) == date)
                .map(|(_, v)| v)
                .sum(),
            date,
        })
        .collect()
}

pub async fn dashboard(s: &State, now: i64) -> Result<api::Dashboard, sql::Error> {
    let today = (now + CST).div_euclid(DAY);
    let renewals = s.db.renewals_per_day(CST, DAY, now - 31 * DAY).await?;
    // Money kept: paid and not (being) refunded.
    let revenue = s.db.revenue_per_day(CST, DAY, now - 400 * DAY).await?;
    let orders_by_state = s.db.orders_by_state().await?;
    let mut expiring = [0; 3];
    for (i, days) in [30, 60, 90].into_iter().enumerate() {
        expiring[i] = s.db.expiring_between(now, now + days * DAY).await?;
    }
    Ok(api::Dashboard {
        renewals_per_day: per_day(&renewals, today, 30),
        revenue_per_day: per_day(&revenue, today, 30),
        revenue_per_month: per_month(&revenue, today),
        orders_by_state,
        expiring,
    })
}

/// One CSV field: quoted when it must be, and never read as a formula by a spreadsheet.
fn field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn csv(header: &[&str], rows: Vec<Vec<String>>) -> String {
    // A BOM, so spreadsheet programs read the Chinese as UTF-8.
    let mut out = String::from("\u{feff}");
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in rows {
        let line: Vec<String> = r.iter().map(|v| field(v)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn date_time(t: i64) -> String {
    crate::rfc3339(t)
}

/// Paid orders (money kept or refunded), for accounting: one row per payment that took money.
pub async fn paid_orders_csv(s: &State) -> Result<String, sql::Error> {
    let mut out = vec![];
    for p in s.db.paid_payments().await? {
        out.push(vec![
            p.order,
            p.subject,
            p.payment,
            p.method,
            p.trade_no.unwrap_or_default(),
            api::yuan(p.amount_fen),
            date_time(p.paid_at),
            p.status,
            p.invoice.unwrap_or_default(),
        ]);
    }
    Ok(csv(
        &[
            "order",
            "subject",
            "payment",
            "method",
            "trade_no",
            "amount_yuan",
            "paid_at",
            "payment_status",
            "invoice",
        ],
        out,
    ))
}

/// Invoices issued, for accounting.
pub async fn invoices_csv(s: &State) -> Result<String, sql::Error> {
    let mut out = vec![];
    for i in s.db.invoice_rows().await? {
        out.push(vec![
            i.number,
            i.order,
            date_time(i.issued_at),
            i.buyer_title,
            i.buyer_taxpayer_id,
            i.item,
            api::yuan(i.amount_fen),
            api::yuan(i.tax_fen),
            api::yuan(i.total_fen),
        ]);
    }
    Ok(csv(
        &[
            "invoice",
            "order",
            "issued_at",
            "buyer",
            "taxpayer_id",
            "item",
            "amount_yuan",
            "tax_yuan",
            "total_yuan",
        ],
        out,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(super::field("plain"), "plain");
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            super::field("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(super::field("-1"), "'-1");
    }

    #[test]
    fn months_run_back_a_year() {
        // 2026-12-02 in Beijing: day number of 1796169600 + 8 h.
        let today = (1_796_169_600 + super::CST) / super::DAY;
        let m = super::per_month(&[(today, 500), (today - 40, 300)], today);
        assert_eq!(m.len(), 12);
        assert_eq!(m[11].date, "2026-12");
        assert_eq!(m[11].value, 500);
        assert_eq!(m[10].date, "2026-11");
        assert_eq!(m[9].value + m[10].value, 300);
        assert_eq!(m[0].date, "2026-01");
    }
}
