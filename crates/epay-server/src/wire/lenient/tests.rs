use serde::Deserialize;

use super::*;

/// A request with each kind of field the gateway's requests have.
#[derive(Debug, Deserialize)]
struct Order {
    #[serde(rename(deserialize = "id|invoiceId"), default, deserialize_with = "or_none")]
    id: Option<String>,
    #[serde(rename(deserialize = "accountID"), default)]
    account_id: String,
    #[serde(rename(deserialize = "terminalId|terminal|terminal_id"), default)]
    terminal_id: Option<String>,
    amount: Checked<Amount>,
    currency: Option<Checked<Currency>>,
    #[serde(default)]
    save: Option<bool>,
    #[serde(default)]
    seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Transfer {
    order: Nested<Order>,
    card: Option<Nested<Card>>,
}

#[derive(Debug, Deserialize)]
struct Card {
    sender: Option<Nested<Side>>,
}

#[derive(Debug, Deserialize)]
struct Side {
    expire: Option<Expire>,
    #[serde(rename(deserialize = "cardCred"), default)]
    card_cred: String,
}

#[derive(Debug, Deserialize)]
struct Expire {
    #[serde(default)]
    month: String,
}

fn order(json: &str) -> Result<Order, FieldError> {
    from_json(json.as_bytes())
}

fn message<T: std::fmt::Debug>(result: Result<T, FieldError>) -> String {
    result.unwrap_err().0
}

fn amount(order: &Order) -> Result<i64, String> {
    order.amount.clone().into_result().map(Amount::minor).map_err(|e| e.0)
}

#[test]
fn names_match_in_any_case_and_an_exact_match_wins() {
    let o = order(r#"{"INVOICEID":"1","accountid":"a","AMOUNT":1}"#).unwrap();
    assert_eq!((o.id.as_deref(), o.account_id.as_str(), amount(&o)), (Some("1"), "a", Ok(100)));
    // Several case spellings: the exact one, else the first in name order (as the hand-written reader before it did).
    let o = order(r#"{"accountId":"lower","accountID":"exact","amount":1}"#).unwrap();
    assert_eq!(o.account_id, "exact");
    let o = order(r#"{"AccountId":"second","ACCOUNTID":"first","amount":1}"#).unwrap();
    assert_eq!(o.account_id, "first");
}

#[test]
fn the_first_spelling_present_wins_and_names_the_field() {
    let o = order(r#"{"terminal_id":"c","terminal":"b","amount":1}"#).unwrap();
    assert_eq!(o.terminal_id.as_deref(), Some("b"));
    let o = order(r#"{"terminal_id":"c","TerminalId":"a","terminal":"b","amount":1}"#).unwrap();
    // No spelling is exact but `terminal` and `terminal_id`: the first declared of those.
    assert_eq!(o.terminal_id.as_deref(), Some("b"));
    let o = order(r#"{"invoiceId":"2","id":"1","amount":1}"#).unwrap();
    assert_eq!(o.id.as_deref(), Some("1"));
    assert_eq!(message(order(r#"{"terminal":[1],"amount":1}"#)), "field terminalId must be a string");
}

#[test]
fn nulls_are_absent() {
    let o = order(r#"{"id":null,"invoiceId":"2","terminalId":null,"amount":1,"currency":null}"#).unwrap();
    assert_eq!((o.id.as_deref(), o.terminal_id, o.currency), (Some("2"), None, None));
    let o = order(r#"{"amount":null}"#).unwrap();
    assert_eq!(amount(&o), Err("field amount is required".into()));
}

#[test]
fn numbers_keep_their_exact_digits() {
    let o = order(r#"{"id":8161284658529816,"accountID":1.50,"amount":12.22}"#).unwrap();
    assert_eq!((o.id.as_deref(), o.account_id.as_str(), amount(&o)), (Some("8161284658529816"), "1.50", Ok(1222)));
    // Through an f64 this would be 100.00.
    let o = order(r#"{"amount":99.999999999999999999}"#).unwrap();
    assert_eq!(amount(&o), Err("field amount: amount must have at most 2 decimal places".into()));
    assert_eq!(amount(&order(r#"{"amount":"12.5"}"#).unwrap()), Ok(1250));
    assert_eq!(amount(&order(r#"{"amount":1e2}"#).unwrap()), Ok(10_000));
    // Past u64, still the digits sent; past an f64's range, not JSON that `serde_json` reads.
    let huge = format!(r#"{{"id":{0},"amount":{0}}}"#, "9".repeat(40));
    let o = order(&huge).unwrap();
    assert_eq!(o.id.as_deref(), Some("9".repeat(40).as_str()));
    assert!(message(order(&format!(r#"{{"id":1{}}}"#, "0".repeat(400)))).contains("number out of range"));
    assert!(amount(&o).unwrap_err().contains("exceeds the limit"));
}

#[test]
fn a_checked_field_keeps_its_fault_and_the_rest_is_read() {
    let o = order(r#"{"id":"1","amount":[1],"currency":"XYZ"}"#).unwrap();
    assert_eq!(amount(&o), Err("field amount must be a number".into()));
    assert_eq!(o.id.as_deref(), Some("1"));
    let currency = given(o.currency).unwrap_err().0;
    assert!(currency.starts_with("field currency: "), "{currency}");
    assert_eq!(amount(&order(r#"{"amount":"abc"}"#).unwrap()), Err("field amount: amount must be a number".into()));
    assert_eq!(amount(&order(r#"{"amount":-1}"#).unwrap()), Err("field amount: amount must not be negative".into()));
    assert_eq!(amount(&order("{}").unwrap()), Err("field amount is required".into()));
    let o = order(r#"{"amount":1,"currency":"usd"}"#).unwrap();
    assert_eq!(given(o.currency), Ok(Some(Currency::Usd)));
}

#[test]
fn a_wrong_type_refuses_the_request_with_the_first_declared_fault() {
    assert_eq!(message(order(r#"{"accountID":{"a":1},"amount":1}"#)), "field accountID must be a string");
    // `id` reads a wrong type as absent, so the account's fault is the first.
    assert_eq!(
        message(order(r#"{"seconds":true,"terminal":{},"id":[],"accountID":false}"#)),
        "field accountID must be a string"
    );
    assert_eq!(message(order(r#"{"save":"yes","amount":1}"#)), "field save must be a Boolean");
    assert_eq!(message(order(r#"{"seconds":"soon","amount":1}"#)), "field seconds must be a number");
    assert_eq!(order(r#"{"seconds":" 86400","amount":1}"#).unwrap().seconds, Some(86_400));
}

#[test]
fn booleans_take_their_text() {
    for (text, expected) in [
        ("true", Some(true)),
        ("\"TRUE\"", Some(true)),
        ("\"false\"", Some(false)),
        ("\"\"", Some(false)),
        ("false", Some(false)),
    ] {
        let o = order(&format!(r#"{{"save":{text},"amount":1}}"#)).unwrap();
        assert_eq!(o.save, expected, "{text}");
    }
    assert_eq!(message(order(r#"{"save":1,"amount":1}"#)), "field save must be a Boolean");
}

#[test]
fn nested_objects_tell_their_own_fault_from_their_content() {
    let read = |json: &str| from_json::<Transfer>(json.as_bytes()).unwrap();
    let t = read(r#"{"card":{}}"#);
    assert_eq!(message(t.order.object()), "field order is required");
    assert_eq!(message(read(r#"{"order":"x"}"#).order.object()), "field order must be a JSON object");
    let content = read(r#"{"ORDER":{"accountID":[]}}"#).order.object().unwrap();
    assert_eq!(message(content), "field accountID must be a string");
    let t = read(r#"{"order":{"amount":"1.5"},"card":{"sender":{"expire":{"month":7},"cardCred":4405}}}"#);
    assert_eq!(amount(&t.order.object().unwrap().unwrap()), Ok(150));
    let card = t.card.unwrap().object().unwrap().unwrap();
    let side = card.sender.unwrap().object().unwrap().unwrap();
    assert_eq!((side.expire.unwrap().month.as_str(), side.card_cred.as_str()), ("7", "4405"));
    let t = read(r#"{"order":{},"card":{"sender":{"expire":"0127"}}}"#);
    let side = t.card.unwrap().object().unwrap().unwrap().sender.unwrap().object().unwrap();
    assert_eq!(message(side), "field expire must be a JSON object");
    let t = read(r#"{"order":{},"card":{"sender":{"expire":{"month":[]}}}}"#);
    let side = t.card.unwrap().object().unwrap().unwrap().sender.unwrap().object().unwrap();
    assert_eq!(message(side), "field month must be a string");
    let t = read(r#"{"order":{},"card":{"sender":[]}}"#);
    let sender = t.card.unwrap().object().unwrap().unwrap().sender.unwrap();
    assert_eq!(message(sender.object()), "field sender must be a JSON object");
}

#[test]
fn the_body_must_be_a_json_object() {
    assert_eq!(message(order("")), "request body is empty; expected a JSON object");
    assert_eq!(message(order(" \n")), "request body is empty; expected a JSON object");
    assert_eq!(message(order("[1]")), "request body must be a JSON object");
    assert_eq!(message(order("12")), "request body must be a JSON object");
    assert!(message(order("{")).starts_with("request body is not valid JSON: "));
    assert!(message(order(r#"{"a":1} x"#)).starts_with("request body is not valid JSON: "));
    assert!(message(order("{\"a\":\"\u{0}\"}")).starts_with("request body is not valid JSON: "));
}

#[test]
fn deep_or_large_input_is_refused_or_read_without_panicking() {
    let deep = format!("{}{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    assert!(message(order(&deep)).contains("recursion limit"));
    let deep_array = format!(r#"{{"id":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(message(order(&deep_array)).contains("recursion limit"));
    // As deep as allowed: read (and refused as the wrong type) without overflowing the stack.
    let allowed = format!(r#"{{"card":{{"sender":{}1{}}}}}"#, "[".repeat(120), "]".repeat(120));
    let t = from_json::<Transfer>(allowed.as_bytes()).unwrap();
    assert!(matches!(t.card.unwrap().object().unwrap().unwrap().sender, Some(Nested::Refused(_))));
    let wide: String = (0..20_000).map(|i| format!(r#""k{i}":[{i},"v",null,{{}}],"#)).collect();
    let o = order(&format!(r#"{{{wide}"amount":1}}"#)).unwrap();
    assert_eq!(amount(&o), Ok(100));
}

#[test]
fn forms_are_text_and_keep_the_last_of_a_repeated_name() {
    let pairs = [("invoiceid", "1"), ("amount", "12.50"), ("save", ""), ("amount", "13")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let o: Order = from_pairs(pairs).unwrap();
    assert_eq!((o.id.as_deref(), amount(&o), o.save), (Some("1"), Ok(1300), Some(false)));
    let body = Body::pairs([("Name".to_string(), "a".to_string())]).with("name", "b");
    assert_eq!(format!("{body:?}"), r#"{"name"}"#);
}

#[test]
fn a_json_name_given_twice_keeps_its_last_value() {
    let o = order(r#"{"amount":1,"amount":2}"#).unwrap();
    assert_eq!(amount(&o), Ok(200));
}

#[test]
fn debug_shows_names_only() {
    let body = Body::json(br#"{"cvc":"123","pan":"4405639704015096"}"#).unwrap();
    assert_eq!(format!("{body:?}"), r#"{"cvc", "pan"}"#);
}

#[test]
fn a_plain_map_reads_every_field_present() {
    let map: std::collections::HashMap<String, String> = from_json(br#"{"a":"1","B":2,"c":null}"#).unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map["B"], "2");
}
