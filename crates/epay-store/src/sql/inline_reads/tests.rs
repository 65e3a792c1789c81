//! SQLite's inline reads: the same answers as sqlx's read connections, every committed write
//! seen by the next read, parameters bound by their numbers, no write possible.

use std::sync::Arc;

use epay_domain::{PaymentKind, Secret, TxStatus};

use super::super::test_store::no_callback;
use super::super::SqlStore;
use super::{query_on, Inline, InlineReads};
use crate::model::*;
use crate::ports::*;
use crate::StoreError;

async fn store() -> SqlStore<sqlx::Sqlite> {
    super::super::test_store::sqlite_file_store("inline-reads").await
}

fn inline(store: &SqlStore<sqlx::Sqlite>) -> &Arc<InlineReads> {
    store.inline.as_ref().expect("a SQLite file reads inline")
}

/// What an inline read answered, when it was not kept busy.
fn read<T: std::fmt::Debug>(answer: rusqlite::Result<Inline<T>>) -> rusqlite::Result<T> {
    match answer? {
        Inline::Read(answer) => Ok(answer),
        Inline::Busy => panic!("the inline read was kept busy"),
    }
}

/// A saved card with a distinct value in every column, written by the write connection.
async fn insert_card(store: &SqlStore<sqlx::Sqlite>, id: &str, active: bool) {
    sqlx::query(
        "INSERT INTO saved_cards (id, merchant_id, account_id, pan_fingerprint, pan_ciphertext, card_mask,
             card_brand, expiry_mmyy, payer_name, transaction_id, terminal_pos_id, reference, int_reference,
             card_token, active, payable, created_at)
         VALUES ($1, 'm1', 'acc-1', 'fp-' || $1, 'sealed', '440043******0001', 'VISA', '0931', 'A PAYER', 'tx-1',
             '00000001', 'ref', 'int-ref', 'tok', $2, FALSE, 1234)",
    )
    .bind(id)
    .bind(active)
    .execute(&store.pool)
    .await
    .unwrap();
}

/// The first row `sql` answers with `args`, read by an inline connection itself (the ports fall
/// back to sqlx on a busy file, so they alone would not show which answered) with `decode`, and
/// read through sqlx's read connections with the model's `FromRow`.
async fn read_both_ways<T>(
    store: &SqlStore<sqlx::Sqlite>,
    sql: &str,
    args: [&str; 2],
    decode: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> (Option<T>, Option<T>)
where
    T: std::fmt::Debug + Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    let inline_args = [args[0].into(), args[1].into()];
    let direct = read(inline(store).query(sql, &inline_args, decode)).unwrap().into_iter().next();
    let through_sqlx = sqlx::query_as(sql).bind(args[0]).bind(args[1]).fetch_optional(&store.reads).await.unwrap();
    (direct, through_sqlx)
}

#[tokio::test]
async fn inline_reads_answer_as_sqlx_reads_do() {
    let store = store().await;
    insert_card(&store, "card-1", true).await;
    insert_card(&store, "card-2", false).await;
    for id in ["card-1", "card-2", "no-such-card"] {
        let sql = "SELECT * FROM saved_cards WHERE merchant_id = $1 AND id = $2";
        let (direct, through_sqlx) = read_both_ways(&store, sql, ["m1", id], super::saved_card).await;
        let inline = store.saved_card("m1", id).await.unwrap();
        assert_eq!(format!("{direct:?}"), format!("{inline:?}"), "{id}");
        assert_eq!(format!("{inline:?}"), format!("{through_sqlx:?}"), "{id}");
    }
    let card = store.saved_card("m1", "card-1").await.unwrap().unwrap();
    assert_eq!(
        (card.card_mask.as_str(), card.active, card.payable, card.created_at),
        ("440043******0001", true, false, 1234)
    );
    assert!(!store.saved_card("m1", "card-2").await.unwrap().unwrap().active);
    // Another merchant's card is not found by its id alone.
    assert!(store.saved_card("m2", "card-1").await.unwrap().is_none());
}

#[tokio::test]
async fn a_committed_write_is_read_back_by_the_next_inline_read() {
    let store = store().await;
    for n in 0..50 {
        let token = format!("token-{n}");
        assert_eq!(store.token_spent_at(&token).await.unwrap(), None);
        sqlx::query("INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ($1, $2, $3)")
            .bind(&token)
            .bind(100 + n)
            .bind(1_000_000)
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(store.token_spent_at(&token).await.unwrap(), Some(100 + n), "{token}");
    }
}

#[tokio::test]
async fn parameters_are_bound_by_their_numbers_not_their_order() {
    let store = store().await;
    let args = ["first".into(), "second".into(), 3i64.into()];
    let answer = read(inline(&store).read(|conn| {
        query_on(conn, "SELECT $3 AS c, $2 AS b, $1 AS a, $2 AS b_again", &args, |r| {
            Ok((
                r.get::<_, i64>("c")?,
                r.get::<_, String>("b")?,
                r.get::<_, String>("a")?,
                r.get::<_, String>("b_again")?,
            ))
        })
    }))
    .unwrap();
    assert_eq!(answer, vec![(3, "second".to_string(), "first".to_string(), "second".to_string())]);
    // An argument the statement does not name is left out, not shifted onto another.
    let answer = read(inline(&store).query("SELECT $2 AS b", &args, |r| r.get::<_, String>("b"))).unwrap();
    assert_eq!(answer, vec!["second".to_string()]);
    // A parameter with no argument is an error, never a NULL.
    let unbound = inline(&store).query("SELECT $4 AS d", &args, |r| r.get::<_, Option<i64>>("d"));
    let refused = matches!(unbound, Err(rusqlite::Error::InvalidParameterName(ref name)) if name == "$4");
    assert!(refused, "a parameter with no argument was bound");
    let unnamed = inline(&store).query("SELECT ? AS d", &args, |r| r.get::<_, Option<i64>>("d"));
    assert!(unnamed.is_err());
}

#[tokio::test]
async fn inline_connections_cannot_write() {
    let store = store().await;
    let wrote = read(inline(&store).query(
        "INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ($1, 1, 2) RETURNING token_id",
        &["written-inline".into()],
        |r| r.get::<_, String>(0),
    ));
    assert!(wrote.is_err(), "{wrote:?}");
    assert_eq!(store.token_spent_at("written-inline").await.unwrap(), None);
    // A failed read is a store error, never a lost connection (an SQLite file cannot hang up).
    let failed = inline(&store).query("SELECT nothing FROM nowhere", &[], |r| r.get::<_, i64>(0));
    let failed = StoreError::from(failed.expect_err("no such table"));
    assert!(!failed.is_connection_lost(), "{failed}");
}

#[tokio::test]
async fn threads_reading_at_once_each_get_a_connection_and_few_are_kept() {
    let store = Arc::new(store().await);
    insert_card(&store, "card-1", true).await;
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    // Each thread holds a connection across a nested read: the nested one must
                    // get another connection, never the one in use.
                    let nested = read(inline(&store).read(|outer| {
                        let inner = read(inline(&store).query("SELECT 1 AS one", &[], |r| r.get::<_, i64>("one")))?;
                        query_on(outer, "SELECT COUNT(*) AS n FROM saved_cards", &[], |r| r.get::<_, i64>("n"))
                            .map(|n| (n, inner))
                    }))
                    .unwrap();
                    assert_eq!(nested, (vec![1], vec![1]));
                }
            })
        })
        .collect();
    for reader in readers {
        reader.join().unwrap();
    }
    let kept = inline(&store).idle.lock().unwrap().len();
    assert!((2..=inline(&store).kept_idle).contains(&kept), "{kept} idle connections kept");
}

/// A declined payment with a distinct value in every column the write path stores.
fn declined(invoice: &str) -> PaymentWrite {
    let text = |name: &str| format!("{name}-{invoice}");
    let payment = Payment {
        id: text("id"),
        merchant_id: "m1".into(),
        terminal_id: "t1".into(),
        invoice_id: invoice.into(),
        invoice_id_alt: text("alt"),
        kind: PaymentKind::Payment,
        status: TxStatus::Reject,
        amount_minor: 12_345,
        charged_minor: 11,
        refunded_minor: 12,
        fee_minor: 13,
        currency: "KZT".into(),
        description: text("description"),
        account_id: text("account"),
        email: text("email"),
        phone: text("phone"),
        payer_name: text("payer"),
        language: "kaz".into(),
        post_link: text("post"),
        failure_post_link: text("failure-post"),
        back_link: text("back"),
        failure_back_link: text("failure-back"),
        secret_hash: Some(Secret::from(text("secret-hash"))),
        data: text("data"),
        card_id: Some(text("card-id")),
        card_mask: "440043******0001".into(),
        card_brand: "VISA".into(),
        card_account: Some(text("card-account")),
        issuer: text("issuer"),
        reference: text("reference"),
        int_reference: text("int-reference"),
        approval_code: text("approval"),
        reason_code: 2_000 + invoice.len() as i32,
        reason: text("reason"),
        secure: true,
        created_at: 111,
        updated_at: 222,
        sender_transfer_type: text("sender-type"),
        receiver_transfer_type: text("receiver-type"),
        receiver_card_id: Some(text("receiver-card-id")),
        receiver_card_mask: text("receiver-mask"),
        receiver_card_brand: text("receiver-brand"),
        receiver_account: Some(text("receiver-account")),
        card_currency: "USD".into(),
        fx_rate_micros: 2_000_000,
        card_amount_minor: 6_172,
        ..Default::default()
    };
    PaymentWrite {
        token_digest: text("token"),
        token_expires_at: 1_000_000,
        token_spend: TokenSpend::Always,
        payment,
        effect: PaymentEffect::None,
        save_card: None,
        three_ds: None,
        idempotency: None,
        subscription: None,
    }
}

#[tokio::test]
async fn a_payment_reads_inline_as_sqlx_reads_it() {
    let store = store().await;
    for invoice in ["000001", "000002"] {
        store.record_payment(declined(invoice), &no_callback).await.unwrap();
    }
    // A second attempt at the first invoice: the last attempt is the one read.
    let mut again = declined("000001");
    again.payment.id = "id-000001-again".into();
    again.token_digest = "token-again".into();
    store.record_payment(again, &no_callback).await.unwrap();
    for invoice in ["000001", "000002", "000003"] {
        let sql = "SELECT * FROM payments WHERE terminal_id = $1 AND invoice_id = $2 ORDER BY attempt DESC LIMIT 1";
        let (direct, through_sqlx) = read_both_ways(&store, sql, ["t1", invoice], super::payment).await;
        let inline = store.payment_by_invoice("t1", invoice).await.unwrap();
        assert_eq!(format!("{direct:?}"), format!("{inline:?}"), "{invoice}");
        assert_eq!(format!("{inline:?}"), format!("{through_sqlx:?}"), "{invoice}");
        let secret =
            |p: &Option<Payment>| p.as_ref().and_then(|p| p.secret_hash.as_ref()).map(|s| s.expose().to_string());
        assert_eq!(secret(&inline), secret(&through_sqlx), "{invoice}");
    }
    // Every column was stored as given (distinct values, so a column read into another field
    // could not pass the comparison above), but what a decline charges: nothing.
    let first = store.payment_by_invoice("t1", "000002").await.unwrap().unwrap();
    let given = declined("000002").payment;
    assert_eq!(format!("{first:?}"), format!("{:?}", Payment { attempt: 1, charged_minor: 0, ..given }));
    let last = store.payment_by_invoice("t1", "000001").await.unwrap().unwrap();
    assert_eq!((last.id.as_str(), last.attempt, last.status), ("id-000001-again", 2, TxStatus::Reject));
    assert_eq!(last.secret_hash.unwrap().expose(), "secret-hash-000001");
    // Another terminal's invoice is not read.
    assert!(store.payment_by_invoice("t2", "000001").await.unwrap().is_none());
}

/// Columns are found by their exact names, in any order, and a name the row lacks is an error.
#[tokio::test]
async fn columns_are_read_by_name_in_any_order() {
    let store = store().await;
    let read_back = inline(&store).query("SELECT 1 AS a, 'two' AS b, 3 AS c", &[], |r| {
        let c = super::ByName::of(r);
        Ok((c.get::<i64>("c")?, c.get::<String>("b")?, c.get::<i64>("a")?, c.get::<i64>("c")?))
    });
    assert_eq!(read(read_back).unwrap(), vec![(3, "two".to_string(), 1, 3)]);
    let missing = inline(&store).query("SELECT 1 AS a", &[], |r| super::ByName::of(r).get::<i64>("A"));
    assert!(missing.is_err(), "names are exact");
}

#[tokio::test]
async fn a_word_no_enum_knows_is_an_error_not_a_guess() {
    let store = store().await;
    // The schema refuses an unknown word in a stored row, so the decoder is asked directly.
    let unknown = inline(&store)
        .query("SELECT 'NOT-A-STATUS' AS status", &[], |r| super::ByName::of(r).word::<TxStatus>("status"));
    assert!(unknown.is_err());
    let known = read(
        inline(&store).query("SELECT 'CHARGE' AS status", &[], |r| super::ByName::of(r).word::<TxStatus>("status")),
    );
    assert_eq!(known.unwrap(), vec![TxStatus::Charge]);
}

#[tokio::test]
async fn a_unit_not_yet_committed_is_not_seen_and_does_not_hold_the_read_up() {
    let store = store().await;
    let mut unit = store.begin_unit().await.unwrap();
    sqlx::query("INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ('in-a-unit', 7, 1000000)")
        .execute(&mut *unit)
        .await
        .unwrap();
    // Read inline (not busy, not through the fallback) while the unit is open.
    let inline_read =
        inline(&store)
            .query("SELECT spent_at FROM spent_tokens WHERE token_id = 'in-a-unit'", &[], |r| r.get::<_, i64>(0));
    assert!(matches!(inline_read, Ok(Inline::Read(ref rows)) if rows.is_empty()), "{inline_read:?}");
    assert_eq!(store.token_spent_at("in-a-unit").await.unwrap(), None);
    unit.commit().await.unwrap();
    assert_eq!(store.token_spent_at("in-a-unit").await.unwrap(), Some(7));
}

/// A WAL database file of its own with a `spent_tokens` table, and inline reads on it that
/// have opened no connection yet. (While a connection has a WAL database open it keeps a shared
/// lock on the file, so a connection can hold the file alone only before the others open.)
fn a_file_of_its_own() -> (std::path::PathBuf, InlineReads) {
    let path = super::super::test_store::sqlite_test_path("inline-held");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE spent_tokens (token_id TEXT PRIMARY KEY, spent_at BIGINT, expires_at BIGINT);",
        )
        .unwrap();
    let reads = InlineReads { path: path.clone(), kept_idle: 8, idle: Default::default() };
    (path, reads)
}

/// A connection that holds the file at `path` alone, as another process could (exclusive
/// locking mode, in a write transaction), from when this returns until the sender is dropped.
fn hold_alone(path: &std::path::Path) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let path = path.to_path_buf();
    let holder = std::thread::spawn(move || {
        let other = rusqlite::Connection::open(&path).unwrap();
        // Read once in the normal mode (so it shares the WAL index with the others), then write
        // in exclusive mode, which takes the file's exclusive lock and keeps it until closed.
        other.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).unwrap();
        other
            .execute_batch(
                "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;
                 INSERT INTO spent_tokens VALUES ('held', 1, 1000000);",
            )
            .unwrap();
        held.0.send(()).unwrap();
        let _ = release.1.recv();
        other.execute_batch("COMMIT;").unwrap();
    });
    held.1.recv().unwrap();
    (release.0, holder)
}

#[tokio::test]
async fn a_file_another_process_holds_answers_busy_at_once() {
    let (path, reads) = a_file_of_its_own();
    let read = || reads.query("SELECT spent_at FROM spent_tokens", &[], |r| r.get::<_, i64>(0)).unwrap();
    let (release, holder) = hold_alone(&path);
    let started = std::time::Instant::now();
    assert!(matches!(read(), Inline::Busy));
    // Well under rusqlite's default busy timeout (5 s): a read that waited in the busy handler
    // would take that long.
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    drop(release);
    holder.join().unwrap();
    // Free again: read as before, the holder's write included.
    assert!(matches!(read(), Inline::Read(rows) if rows == vec![1]));
}

#[tokio::test]
async fn a_busy_inline_read_is_read_through_sqlx_instead() {
    let mut store = store().await;
    sqlx::query("INSERT INTO spent_tokens (token_id, spent_at, expires_at) VALUES ('spent', 9, 1000000)")
        .execute(&store.pool)
        .await
        .unwrap();
    // The store's inline reads pointed at a file another process holds: every inline read is
    // busy, so an answer can only have come through the store's sqlx read connections.
    let (path, busy) = a_file_of_its_own();
    store.inline = Some(Arc::new(busy));
    let (release, holder) = hold_alone(&path);
    assert_eq!(store.token_spent_at("spent").await.unwrap(), Some(9));
    assert_eq!(store.token_spent_at("unspent").await.unwrap(), None);
    drop(release);
    holder.join().unwrap();
}
