//! The in-transaction steps the payment, transfer and 3-D Secure writes share: deciding a card
//! payment, numbering attempts, inserting the payment and its history, saving cards, keeping a
//! token for another try, queueing the callback and storing the Idempotency-Key's answer.

use epay_domain::transition::{self, Checks, Decided, Decision};
use epay_domain::{DeliveryStatus, PaymentStep, Secret, TxStatus};
use sqlx::Row;

use super::booking::{PayerRow, RoleAccounts};
use super::decisions::{illegal, payment_decision, waiting_state};
use super::pipeline::{renumber, statements, unanswered, Arg, Done, Step};
use super::{Backend, OneTrip, SqlStore};
use crate::model::*;
use crate::{StoreError, StoreResult};

/// The end of a compare-and-set: it changed exactly one row, or another request got there first
/// (`lost`) and the transaction must not go on.
pub(super) fn claimed(rows_changed: u64, lost: StoreError) -> StoreResult<()> {
    if rows_changed == 1 {
        Ok(())
    } else {
        Err(lost)
    }
}

pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// What a unique violation on inserting a payment means. PostgreSQL names the index;
/// SQLite names its columns (and, with one connection, never meets the race at all).
fn attempt_conflict(err: &sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = err else { return StoreError::DuplicateInvoice };
    let attempt_index =
        db.constraint() == Some("payments_invoice_attempt") || db.message().contains("payments.attempt");
    if attempt_index {
        StoreError::ConcurrentAttempt
    } else {
        StoreError::DuplicateInvoice
    }
}

/// SQLite: the read that numbers an attempt (`$1` terminal, `$2` invoice): the terminal's
/// `max_attempts` (no row: no such terminal) and each earlier attempt's number and status
/// ([`SqlStore::next_attempt`]).
pub(super) const NUMBERING: &str = "SELECT t.max_attempts, p.attempt, p.status FROM terminals t
     LEFT JOIN payments p ON p.terminal_id = t.id AND p.invoice_id = $2
     WHERE t.id = $1";

/// A row of [`NUMBERING`]: the terminal's `max_attempts` (NULL: no such terminal), and one
/// earlier attempt at the invoice with its status, if there is one.
pub(super) struct NumberingRow {
    pub max_attempts: Option<i32>,
    pub attempt: Option<(i32, String)>,
}

/// The attempt number after [`NUMBERING`]'s rows (no row: no such terminal), or why the invoice
/// takes no attempt now.
pub(super) fn attempt_after(rows: &[NumberingRow]) -> StoreResult<i32> {
    let Some(max) = rows.first().and_then(|row| row.max_attempts) else { return Err(StoreError::NotFound) };
    let mut last = 0;
    let mut statuses = Vec::new();
    for (attempt, status) in rows.iter().filter_map(|row| row.attempt.as_ref()) {
        last = last.max(*attempt);
        // A status this code does not know holds the invoice: refuse, never double.
        statuses.push(status.parse().unwrap_or(TxStatus::New));
    }
    let attempts = epay_domain::InvoiceAttempts::of(statuses, max);
    match attempts.holding {
        Some(TxStatus::ThreeD) => Err(StoreError::ChallengeOpen),
        Some(_) => Err(StoreError::DuplicateInvoice),
        None if attempts.exhausted() => Err(StoreError::AttemptsExhausted { attempts: attempts.used }),
        None => Ok(last + 1),
    }
}

/// What a new attempt (a payment or a transfer) writes after its row's decision, besides the row.
pub(super) struct AttemptEnd<'a> {
    /// The id of the token the attempt spent.
    pub token_digest: &'a str,
    pub token_spend: TokenSpend,
    /// The 3-D Secure session of an attempt that waits for a challenge.
    pub three_ds: Option<&'a ThreeDsSession>,
    pub callback: CallbackBuilder<'a>,
}

impl<DB: Backend> SqlStore<DB> {
    /// Stores a keyed request's answer in the transaction of the write it guards. Only
    /// the key's lease owner may do so: if the lease ended and another request claimed
    /// the key, the write fails and rolls back, so one key never commits twice.
    pub(super) async fn commit_idempotency(
        tx: &mut super::Unit<DB>,
        record: Option<&IdempotencyRecord>,
        payment: &Payment,
    ) -> StoreResult<()> {
        let Some(record) = record else { return Ok(()) };
        let answer = (record.answer)(payment);
        let stored = Step::new(
            "UPDATE idempotency_keys SET response_status = $1, response_body = $2, lease_owner = NULL,
                 lease_until = NULL
             WHERE scope_key = $3 AND lease_owner = $4 AND response_status IS NULL",
            vec![
                (answer.status as i32).into(),
                (&answer.body).into(),
                (&record.scope_key).into(),
                (&record.owner).into(),
            ],
        );
        tx.defer(
            stored.row(format!("idempotency_keys:{}", record.scope_key)).unless_one(StoreError::IdempotencyKeyLost),
        )
        .await
    }

    /// Decides a card payment (or verification) waiting in `from` (`NEW`, or `3D` after
    /// its challenge) as the caller recorded it, through the state machine: an approval
    /// the card cannot pay becomes a REJECT for insufficient funds (484). Books the
    /// money and saves the card of an approved payment.
    pub(super) async fn decide_payment(
        tx: &mut super::Unit<DB>,
        from: TxStatus,
        payment: &mut Payment,
        effect: &PaymentEffect,
        read: Option<Vec<DB::Row>>,
        now: i64,
    ) -> StoreResult<bool> {
        let decision = payment_decision(from, payment, effect)?;
        let mut checks = Checks::default();
        let (mut payer, mut known) = (String::new(), None);
        if let PaymentEffect::Debit { card_account, merchant_account, .. } = effect {
            // The card's funds (its row locked first, as every transaction takes cards first)
            // and the merchant account's currency, which `book` needs, in one read: `read`, when
            // the unit's opening made it ([`Self::open_attempt`]), taken here so that its errors
            // come after the decision's, as when it is read here.
            let (funds, currencies) = match read {
                Some(rows) => Self::funds_and_currencies_of(payment, card_account, &rows)?,
                None => {
                    let others = [merchant_account.as_str(), merchant_account.as_str()];
                    Self::funds_and_currencies(tx, payment, card_account, others, PayerRow::Unlocked).await?
                }
            };
            checks.payer = funds;
            known = Some(currencies);
            payer = card_account.clone();
        }
        let decided = Self::apply_decision(from, payment, decision, &checks)?;
        if let PaymentEffect::Debit { merchant_account, .. } = effect {
            if !decided.postings.is_empty() {
                // `book` opens the merchant account on the terminal's first payment in this currency.
                let accounts = RoleAccounts { payer: &payer, payee: merchant_account, fee: None };
                Self::book(tx, payment, &accounts, &decided.postings, known, now).await?;
            }
        }
        Ok(decided.declined.is_some())
    }

    /// Decides an attempt waiting in `from` by the state machine, on what `checks` read, and
    /// records the outcome on `payment`: its status and charged amount, and a decline's reason
    /// (an approval the card cannot pay becomes a REJECT for insufficient funds, 484).
    pub(super) fn apply_decision(
        from: TxStatus,
        payment: &mut Payment,
        decision: Decision,
        checks: &Checks,
    ) -> StoreResult<Decided> {
        let state = waiting_state(payment, from);
        let decided = transition::decide(&state, decision, checks).map_err(illegal(from, payment.status))?;
        payment.status = decided.status;
        payment.charged_minor = decided.charged_minor;
        if decided.declined.is_some() {
            let insufficient = epay_domain::ReasonCode::INSUFFICIENT_FUNDS;
            payment.reason_code = insufficient.code;
            payment.reason = insufficient.message.to_string();
            payment.approval_code = String::new();
        }
        Ok(decided)
    }

    /// Appends one step to a payment's status history, inside the transaction that
    /// makes the change, so the history never disagrees with the payment row.
    pub(super) async fn record_event(
        tx: &mut super::Unit<DB>,
        payment_id: &str,
        step: PaymentStep,
        status: TxStatus,
        amount_minor: i64,
        reason_code: i32,
        now: i64,
    ) -> StoreResult<()> {
        tx.defer(Self::event_step(payment_id, step, status, amount_minor, reason_code, now)).await
    }

    fn event_step(
        payment_id: &str,
        step: PaymentStep,
        status: TxStatus,
        amount_minor: i64,
        reason_code: i32,
        now: i64,
    ) -> Step {
        Step::new(
            "INSERT INTO payment_events (payment_id, operation, status, amount_minor, reason_code, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                payment_id.into(),
                step.as_str().into(),
                status.as_str().into(),
                amount_minor.into(),
                reason_code.into(),
                now.into(),
            ],
        )
    }

    /// Spends an attempt's token (as `TokensPort::spend_token` does alone; a spent token refuses the attempt
    /// first) and numbers the attempt at the payment's invoice (docs/compatibility.md §48), in
    /// one round trip: on PostgreSQL one statement, the insert into `spent_tokens` a CTE of the
    /// numbering read; on SQLite the insert and the read as two statements of one query.
    ///
    /// Numbering is refused while another attempt holds the invoice (`DuplicateInvoice`, or
    /// `ChallengeOpen` while it waits for 3-D Secure) and once the terminal's attempts are used
    /// (`AttemptsExhausted`). The read only chooses the answer: two attempts that read at the
    /// same moment are kept apart by the unique indexes the payment's insert meets,
    /// `payments_invoice_attempt` (one number per attempt, so never more attempts than the
    /// limit) and `payments_invoice_holding` (one attempt that is not declined).
    pub(super) async fn spend_and_number(
        tx: &mut super::Unit<DB>,
        token_id: &str,
        expires_at: i64,
        now: i64,
        p: &Payment,
    ) -> StoreResult<i32> {
        let args = Self::spend_and_number_args(token_id, expires_at, now, p);
        let sql = Self::opening_sql(None);
        let done = statements::<DB>(&mut **tx, Step::bind(&args, sqlx::query::<DB>(&sql))).await.map_err(|(_, e)| e)?;
        Self::attempt_opened(done, false).map(|(attempt, _)| attempt)
    }

    /// Opens an attempt's unit ([`SqlStore::begin_opening`]) with [`Self::spend_and_number`] and,
    /// for a card payment (`card`: the card's and the merchant's accounts), the read of the
    /// card's funds that deciding it needs ([`Self::funds_and_currencies`], the card's row
    /// locked): on SQLite all in the round trip that sets the unit's savepoint (or opens its
    /// batch), on PostgreSQL in one statement.
    pub(super) async fn open_attempt(
        opening: super::Opening<DB>,
        token_id: &str,
        expires_at: i64,
        now: i64,
        p: &Payment,
        card: Option<(&str, &str)>,
    ) -> StoreResult<(super::Unit<DB>, i32, Option<Vec<DB::Row>>)> {
        let mut args = Self::spend_and_number_args(token_id, expires_at, now, p);
        // PostgreSQL: the card's row is read and locked only once the token is spent (the
        // condition makes the order explicit: the sub-statements of one statement have none).
        // A replayed token is refused without waiting for the card's lock.
        let only_if = match DB::ONE_TRIP {
            OneTrip::WritableCte => " AND EXISTS (SELECT 1 FROM spent)",
            OneTrip::Statements => "",
        };
        // A card's sums are in its own row (it is never sharded), so its read is one statement.
        let funds = card.and_then(|(card, merchant)| {
            let sql = Self::funds_and_currencies_sql(card, PayerRow::Unlocked, only_if)?;
            Some((sql, card, merchant))
        });
        let sql = Self::opening_sql(funds.as_ref().map(|(sql, ..)| sql.as_str()));
        if let Some((_, card, merchant)) = &funds {
            args.extend([(*card).into(), (*merchant).into(), (*merchant).into()]);
        }
        let (tx, done) = opening.open(&sql, &args).await?;
        let (attempt, funds_rows) = Self::attempt_opened(done, funds.is_some())?;
        Ok((tx, attempt, funds_rows))
    }

    /// The spend and the numbering read (`$1` terminal, `$2` invoice, `$3` token, `$4` now, `$5`
    /// the token's expiry), then `funds` if given ([`Self::funds_and_currencies_sql`], its
    /// `$1`–`$3` taken as `$6`–`$8`).
    ///
    /// SQLite: `;`-separated statements of one query. PostgreSQL: one statement, the insert into
    /// `spent_tokens` a CTE (one row at least, `one`, so the spend is seen even without the
    /// terminal), and the funds read a CTE whose rows follow the numbering's (`id` NULL on the
    /// numbering's rows, set on the funds read's). The funds read is conditioned on the spend
    /// (see [`Self::open_attempt`]), so the card's row is locked after the token's id is
    /// inserted, as when they were two statements.
    fn opening_sql(funds: Option<&str>) -> String {
        const SPEND: &str = "INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ($3, $4, $5)
                 ON CONFLICT (token_id) DO NOTHING";
        let mut funds_renumbered = String::new();
        if let Some(funds) = funds {
            renumber(funds, 5, &mut funds_renumbered);
        }
        match DB::ONE_TRIP {
            OneTrip::Statements => {
                let mut sql = format!("{SPEND};\n{NUMBERING}");
                if funds.is_some() {
                    sql.push_str(";\n");
                    sql.push_str(&funds_renumbered);
                }
                sql
            }
            OneTrip::WritableCte => {
                let numbering = "SELECT (SELECT count(*) FROM spent) AS spent, t.max_attempts, p.attempt, p.status";
                let from = "FROM (SELECT 1 AS one) one
                     LEFT JOIN terminals t ON t.id = $1
                     LEFT JOIN payments p ON p.terminal_id = t.id AND p.invoice_id = $2";
                match funds {
                    None => format!("WITH spent AS ({SPEND} RETURNING 1) {numbering} {from}"),
                    Some(_) => format!(
                        "WITH spent AS ({SPEND} RETURNING 1), funds AS ({funds_renumbered})
                         {numbering}, CAST(NULL AS TEXT) AS id, CAST(NULL AS TEXT) AS currency,
                             CAST(NULL AS BIGINT) AS available
                         {from}
                         UNION ALL
                         SELECT NULL, NULL, NULL, NULL, id, currency, available FROM funds"
                    ),
                }
            }
        }
    }

    fn spend_and_number_args(token_id: &str, expires_at: i64, now: i64, p: &Payment) -> Vec<Arg> {
        vec![(&p.terminal_id).into(), (&p.invoice_id).into(), token_id.into(), now.into(), expires_at.into()]
    }

    /// The attempt's number from what [`Self::opening_sql`] answered (a token already spent
    /// refuses the attempt first), and the funds read's rows when it made one.
    fn attempt_opened(done: Vec<Done<DB>>, with_funds: bool) -> StoreResult<(i32, Option<Vec<DB::Row>>)> {
        let (spent, numbering, funds) = match DB::ONE_TRIP {
            OneTrip::Statements => {
                let (sent, answered) = (2 + usize::from(with_funds), done.len());
                let mut done = done.into_iter();
                match (done.next(), done.next(), done.next(), done.next()) {
                    (Some(spend), Some(numbering), funds, None) if funds.is_some() == with_funds => {
                        (spend.rows_affected == 1, numbering.rows, funds.map(|funds| funds.rows))
                    }
                    _ => return Err(unanswered(sent, answered).into()),
                }
            }
            OneTrip::WritableCte => {
                let Some(answer) = done.into_iter().next() else { return Err(unanswered(1, 0).into()) };
                let (mut numbering, mut funds) = (Vec::new(), Vec::new());
                for row in answer.rows {
                    let of_funds = with_funds && row.try_get::<Option<String>, _>("id")?.is_some();
                    if of_funds {
                        funds.push(row);
                    } else {
                        numbering.push(row);
                    }
                }
                let spent = match numbering.first() {
                    Some(row) => row.try_get::<i64, _>("spent")? == 1,
                    None => false,
                };
                (spent, numbering, with_funds.then_some(funds))
            }
        };
        if !spent {
            return Err(StoreError::TokenSpent);
        }
        Ok((Self::next_attempt(&numbering)?, funds))
    }

    /// The attempt number from the numbering read's rows: the terminal's `max_attempts` (NULL
    /// or no row: no such terminal) and each earlier attempt's number and status.
    pub(super) fn next_attempt(rows: &[DB::Row]) -> StoreResult<i32> {
        attempt_after(&Self::numbering_rows(rows)?)
    }

    /// [`NUMBERING`]'s rows as sqlx answered them.
    pub(super) fn numbering_rows(rows: &[DB::Row]) -> Result<Vec<NumberingRow>, sqlx::Error> {
        rows.iter()
            .map(|row| {
                let attempt = match row.try_get::<Option<i32>, _>("attempt")? {
                    Some(attempt) => Some((attempt, row.try_get("status")?)),
                    None => None,
                };
                Ok(NumberingRow { max_attempts: row.try_get("max_attempts")?, attempt })
            })
            .collect()
    }

    /// The end every new attempt shares, in its transaction: the row; the token given back when
    /// a declined page attempt may try again; the 3-D Secure session; the callback; the
    /// Idempotency-Key's answer.
    pub(super) async fn end_attempt(
        tx: &mut super::Unit<DB>,
        payment: &Payment,
        end: AttemptEnd<'_>,
        idempotency: Option<&IdempotencyRecord>,
        now: i64,
    ) -> StoreResult<()> {
        Self::insert_payment(tx, payment).await?;
        if end.token_spend == TokenSpend::UnlessDeclined && payment.status.is_declined() {
            Self::keep_token(tx, end.token_digest).await?;
        }
        if let Some(session) = end.three_ds {
            // The session's row references the payment's: the queued insert goes first.
            tx.flush().await?;
            Self::insert_three_ds(tx, session).await?;
        }
        if let Some(cb) = (end.callback)(payment) {
            Self::insert_callback(tx, &cb, now).await?;
        }
        Self::commit_idempotency(tx, idempotency, payment).await
    }

    /// A declined attempt on the hosted page leaves its token usable: the shopper may try
    /// the same invoice again on the same page, within the terminal's attempts.
    async fn keep_token(tx: &mut super::Unit<DB>, token_id: &str) -> StoreResult<()> {
        let keep = Step::new("DELETE FROM spent_tokens WHERE token_id = $1", vec![token_id.into()]);
        tx.defer(keep.row(format!("spent_tokens:{token_id}"))).await
    }

    /// A 3-D Secure attempt from the hosted page that ends declined leaves the token that
    /// started it usable, like any declined attempt there.
    pub(super) async fn keep_session_token(tx: &mut super::Unit<DB>, session_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM spent_tokens
             WHERE token_id = (SELECT token_digest FROM three_ds_sessions
                               WHERE id = $1 AND keep_token_on_decline)",
        )
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Inserts a payment row. Another attempt that holds the invoice, or took the same
    /// attempt number, makes it `DuplicateInvoice` or `ConcurrentAttempt`.
    /// Its status is the state machine's decision from NEW, which `decide_payment` or
    /// `settle_transfer` made in this transaction.
    async fn insert_payment(tx: &mut super::Unit<DB>, p: &Payment) -> StoreResult<()> {
        let row = Step::new(
            "INSERT INTO payments (id, merchant_id, terminal_id, invoice_id, invoice_id_alt, kind, status,
                 amount_minor, charged_minor, refunded_minor, fee_minor, currency, description, account_id,
                 email, phone, payer_name, language, post_link, failure_post_link, back_link,
                 failure_back_link, secret_hash, data, card_id, card_mask, card_brand, card_account, issuer,
                 reference, int_reference, approval_code, reason_code, reason, secure, created_at, updated_at,
                 sender_transfer_type, receiver_transfer_type, receiver_card_id, receiver_card_mask,
                 receiver_card_brand, receiver_account, card_currency, fx_rate_micros, card_amount_minor,
                 attempt)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                 $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37,
                 $38, $39, $40, $41, $42, $43, $44, $45, $46, $47)",
            vec![
                (&p.id).into(),
                (&p.merchant_id).into(),
                (&p.terminal_id).into(),
                (&p.invoice_id).into(),
                (&p.invoice_id_alt).into(),
                p.kind.as_str().into(),
                p.status.as_str().into(),
                p.amount_minor.into(),
                p.charged_minor.into(),
                p.refunded_minor.into(),
                p.fee_minor.into(),
                (&p.currency).into(),
                (&p.description).into(),
                (&p.account_id).into(),
                (&p.email).into(),
                (&p.phone).into(),
                (&p.payer_name).into(),
                (&p.language).into(),
                (&p.post_link).into(),
                (&p.failure_post_link).into(),
                (&p.back_link).into(),
                (&p.failure_back_link).into(),
                p.secret_hash.as_ref().map(Secret::expose).into(),
                (&p.data).into(),
                (&p.card_id).into(),
                (&p.card_mask).into(),
                (&p.card_brand).into(),
                (&p.card_account).into(),
                (&p.issuer).into(),
                (&p.reference).into(),
                (&p.int_reference).into(),
                (&p.approval_code).into(),
                p.reason_code.into(),
                (&p.reason).into(),
                p.secure.into(),
                p.created_at.into(),
                p.updated_at.into(),
                (&p.sender_transfer_type).into(),
                (&p.receiver_transfer_type).into(),
                (&p.receiver_card_id).into(),
                (&p.receiver_card_mask).into(),
                (&p.receiver_card_brand).into(),
                (&p.receiver_account).into(),
                (&p.card_currency).into(),
                p.fx_rate().micros().into(),
                p.card_amount_minor.into(),
                p.attempt.into(),
            ],
        );
        tx.defer(row.on_unique("payments", attempt_conflict)).await?;
        let created =
            Self::event_step(&p.id, PaymentStep::Created, p.status, p.amount_minor, p.reason_code, p.created_at);
        tx.defer(created).await
    }

    /// Saves a card for a customer (or reactivates the one already saved); returns its id,
    /// except where a receive-only save (`!card.payable`) met a card that may pay or was
    /// deactivated: that id is not the saver's to learn, and the card is left as it was.
    pub(super) async fn save_card(tx: &mut super::Unit<DB>, card: &SavedCard) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO saved_cards (id, merchant_id, account_id, pan_fingerprint, pan_ciphertext,
                 card_mask, card_brand, expiry_mmyy, payer_name, transaction_id, terminal_pos_id,
                 reference, int_reference, card_token, active, created_at, payable)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, TRUE, $15, $16)
             ON CONFLICT (merchant_id, account_id, pan_fingerprint) DO UPDATE
                 -- A proof that makes the card payable (again) gives it a new id: whoever
                 -- saved it as a receiver knows the old one. A receive-only save never
                 -- makes a card payable, never revives a deactivated one, and changes
                 -- nothing of a card that may pay.
                 SET id = CASE WHEN excluded.payable AND NOT (saved_cards.payable AND saved_cards.active)
                               THEN excluded.id ELSE saved_cards.id END,
                     active = CASE WHEN excluded.payable THEN TRUE ELSE saved_cards.active END,
                     payable = CASE WHEN excluded.payable THEN TRUE ELSE saved_cards.payable END,
                     expiry_mmyy = CASE WHEN excluded.payable AND excluded.expiry_mmyy <> ''
                                        THEN excluded.expiry_mmyy ELSE saved_cards.expiry_mmyy END,
                     pan_ciphertext = CASE WHEN excluded.payable THEN excluded.pan_ciphertext
                                           ELSE saved_cards.pan_ciphertext END
             RETURNING id, payable, active",
        )
        .bind(&card.id)
        .bind(&card.merchant_id)
        .bind(&card.account_id)
        .bind(&card.pan_fingerprint)
        .bind(&card.pan_ciphertext)
        .bind(&card.card_mask)
        .bind(&card.card_brand)
        .bind(&card.expiry_mmyy)
        .bind(&card.payer_name)
        .bind(&card.transaction_id)
        .bind(&card.terminal_pos_id)
        .bind(&card.reference)
        .bind(&card.int_reference)
        .bind(&card.card_token)
        .bind(card.created_at)
        .bind(card.payable)
        .fetch_one(&mut **tx)
        .await?;
        let (id, payable, active): (String, bool, bool) =
            (row.try_get("id")?, row.try_get("payable")?, row.try_get("active")?);
        Ok((card.payable || (!payable && active)).then_some(id))
    }

    pub(super) async fn insert_callback(tx: &mut super::Unit<DB>, cb: &NewCallback, now: i64) -> StoreResult<()> {
        let row = Step::new(
            "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                 next_attempt_at, locked_until, claim_id, created_at, delivered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $8, 0, $7, 0, '', $7, NULL)",
            vec![
                (&cb.id).into(),
                (&cb.merchant_id).into(),
                (&cb.payment_id).into(),
                cb.kind.as_str().into(),
                (&cb.url).into(),
                cb.payload.expose().into(),
                now.into(),
                DeliveryStatus::Pending.as_str().into(),
            ],
        );
        tx.defer(row).await
    }
}
