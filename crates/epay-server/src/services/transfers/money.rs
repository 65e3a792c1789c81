//! The money of a transfer: its fee, the movement the store makes when it is approved, and the
//! limits checked inside that transaction.

use epay_domain::{Amount, FxRate, ReasonCode, TransferKind};
use epay_store::{Payment, SavedCard, Terminal, TransferMoney, TransferSettlement};

use crate::platform::clock::KZ_OFFSET;

/// The fee of a transfer on `terminal`: percent plus fixed, at least the minimum (half up).
pub fn fee(terminal: &Terminal, amount: Amount, from_tenge: FxRate) -> i64 {
    // The percent applies to the amount in its own currency; the fixed part and the minimum are
    // tenge amounts, converted into the transfer's currency at the network's rate
    // (`from_tenge`: KZT → the transfer's currency).
    let percent = (amount.minor() * terminal.fee_percent_bp + 5_000) / 10_000;
    (percent + from_tenge.convert(terminal.fee_fixed_minor)).max(from_tenge.convert(terminal.fee_min_minor))
}

fn day_start_ms(now_ms: i64) -> i64 {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(now_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    let midnight = dt.replace_time(time::Time::MIDNIGHT);
    (midnight.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The money of an approved transfer, with the limits the store checks when it moves it.
/// The terminal's daily limit is a tenge amount: for a transfer
/// in another currency it is converted at the network's rate and counts only that currency.
#[allow(clippy::too_many_arguments)]
pub(super) fn transfer_money(
    terminal: &Terminal,
    payment: &Payment,
    from_account: String,
    to_account: String,
    fee_minor: i64,
    receiver_daily_limit_minor: Option<i64>,
    from_tenge: FxRate,
    now: i64,
) -> TransferMoney {
    TransferMoney {
        from_account,
        to_account,
        fee_account: epay_store::fee_account(&terminal.id, &payment.currency),
        fee_minor,
        receiver_daily_limit_minor,
        terminal_daily_limit_minor: (terminal.transfer_daily_limit_minor > 0)
            .then(|| from_tenge.convert(terminal.transfer_daily_limit_minor)),
        day_start_ms: day_start_ms(now),
    }
}

pub(super) fn settlement(
    kind: TransferKind,
    payment: Payment,
    money: Option<TransferMoney>,
    save_sender: Option<SavedCard>,
    save_receiver: Option<SavedCard>,
) -> TransferSettlement {
    let limit = |r: ReasonCode| (r.code, r.message.to_string());
    TransferSettlement {
        payment,
        money,
        save_sender,
        save_receiver,
        insufficient_funds: if kind == TransferKind::Oct {
            (ReasonCode::INSUFFICIENT_FUNDS.code, "Merchant balance is insufficient for this payout".into())
        } else {
            limit(ReasonCode::INSUFFICIENT_FUNDS)
        },
        receiver_limit: limit(ReasonCode::RECEIVER_DAILY_LIMIT),
        terminal_limit: limit(ReasonCode::TERMINAL_DAILY_LIMIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rule() {
        let t = Terminal { fee_percent_bp: 100, fee_min_minor: 9_500, ..Terminal::default() };
        let one = FxRate::ONE;
        assert_eq!(fee(&t, Amount::from_minor(10_000).unwrap(), one), 9_500, "seed 001: fee 95 on 100");
        assert_eq!(fee(&t, Amount::from_minor(10_000_000).unwrap(), one), 100_000);
        // In USD (1 USD = 500 KZT) the 95-tenge minimum is 0.19 USD: 1% of 10 USD is less.
        let usd = FxRate::from_micros(2_000);
        assert_eq!(fee(&t, Amount::from_minor(1_000).unwrap(), usd), 19);
        assert_eq!(fee(&t, Amount::from_minor(100_000).unwrap(), usd), 1_000);
        let t = Terminal { fee_percent_bp: 150, fee_fixed_minor: 2_000, ..Terminal::default() };
        assert_eq!(fee(&t, Amount::from_minor(33_333).unwrap(), one), 500 + 2_000);
        assert_eq!(fee(&Terminal::default(), Amount::from_minor(12_345).unwrap(), one), 0);
    }
}
