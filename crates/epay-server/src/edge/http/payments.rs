//! Card payment endpoints and the cryptogram public key.

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::net::{IpAddr, SocketAddr};

use super::caller::{Authenticated, Bearer};
use super::idempotency::json_or_error;
use crate::app::AppState;
use crate::platform::cryptogram::Cryptogram;
use crate::services::payments::{self, Field, PayWithCryptogram, PayWithSavedCard, PaymentError};
use crate::wire::lenient::{self, Body, Checked};
use crate::wire::FieldError;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use utoipa::ToSchema;

pub async fn public_key(State(app): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/x-pem-file")], app.keys.public_pem.clone())
}

pub async fn cryptopay(
    State(app): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    bearer: Result<Bearer<PaymentError>, Response>,
    body: Bytes,
) -> Response {
    // A body too large is refused before the token, as the body limit always answered first.
    let Bearer(caller, _) = match bearer {
        Ok(bearer) => bearer,
        Err(refused) => return refused,
    };
    let acs_url = format!("{}/acs/challenge", super::public_base(&app, &headers));
    let from = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let paid = async {
        let payer = payments::payer(&app, &caller).await?;
        let command = Body::json(&body).and_then(|body| read_cryptopay(&body, acs_url, from)).map_err(bad_body)?;
        payments::pay_with_cryptogram(&app, payer, command).await
    };
    json_or_error(paid.await)
}

/// Seed 003's saved-card payment; seed 001 sends P2P transfers (an `order` and a `card` object)
/// to this same path, so those are handed to the transfer endpoint, which answers a refused
/// token in its own shape.
pub async fn saved_card(
    State(app): State<AppState>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
    body: Bytes,
) -> Response {
    let is_transfer = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.get("order").is_some_and(|o| o.is_object()) && v.get("card").is_some_and(|c| c.is_object()))
        .unwrap_or(false);
    if is_transfer {
        return super::transfers::handle(&app, caller, &headers, &body, epay_domain::TransferKind::P2p).await;
    }
    let acs_url = format!("{}/acs/challenge", super::public_base(&app, &headers));
    let paid = async {
        let payer = payments::payer(&app, &caller?).await?;
        let command = Body::json(&body).and_then(|body| read_saved_card(&body, acs_url)).map_err(bad_body)?;
        payments::pay_with_saved_card(&app, payer, command).await
    };
    json_or_error(paid.await)
}

/// A body that is no JSON object: refused before any of its fields (which the service refuses
/// in their turn).
fn bad_body(e: FieldError) -> PaymentError {
    PaymentError::BadRequest(e.0)
}

/// `/payment/cryptopay`'s fields beside the order (`PaymentOrder`); the OpenAPI description
/// shows the body as both.
#[derive(Deserialize, ToSchema)]
pub struct CryptopayFields {
    /// Base64 (standard with or without padding, or URL-safe) of the `Cryptogram` JSON
    /// encrypted with RSA PKCS#1 v1.5 to the key from `GET /public.rsa`. Also accepted as
    /// `сryptogram` with a Cyrillic `с` (U+0441), as Halyk's iOS SDK sends it (facts §5.1).
    #[serde(rename(deserialize = "cryptogram|\u{0441}ryptogram"), default)]
    #[schema(value_type = String, required = true)]
    pub cryptogram: Field<String>,
}

/// `/payments/cards/auth`'s fields beside the order (`PaymentOrder`, seed 003); the OpenAPI
/// description shows the body as both.
#[derive(Deserialize, ToSchema)]
pub struct SavedCardFields {
    /// `"cardId"`; any other non-empty value is refused.
    #[serde(rename(deserialize = "paymentType"), default)]
    #[schema(rename = "paymentType", value_type = Option<String>, example = "cardId")]
    pub payment_type: Field<String>,
    /// The saved card (also `cardID`), as `{"id": "<cardID>"}` or `"<cardID>"`. It must belong to
    /// the token's merchant, be active, and belong to `accountId` (required; the token's when it
    /// names one).
    #[serde(rename(deserialize = "cardId|cardID"), default)]
    #[schema(rename = "cardId", value_type = CardIdRef, required = true)]
    pub card_id: Option<CardIdRef>,
    /// Accepted and ignored.
    #[serde(rename(deserialize = "recurrent"), default, deserialize_with = "lenient::or_none")]
    #[schema(rename = "recurrent", value_type = Option<bool>)]
    pub _recurrent: Option<bool>,
}

/// `/payment/cryptopay`'s body: the order and the cryptogram, decoded from its base64.
pub(crate) fn read_cryptopay(
    body: &Body,
    acs_url: String,
    from: Option<IpAddr>,
) -> Result<PayWithCryptogram, FieldError> {
    let CryptopayFields { cryptogram } = body.read()?;
    let cryptogram = match cryptogram.map(Checked::into_result) {
        Some(Ok(text)) if text.trim().is_empty() => None,
        Some(Ok(text)) => Some(Checked(Cryptogram::from_base64(&text).map_err(|e| FieldError(e.to_string())))),
        Some(Err(e)) => Some(Checked(Err(e))),
        None => None,
    };
    Ok(PayWithCryptogram { order: body.read()?, cryptogram, acs_url, from })
}

/// `/payments/cards/auth`'s body (seed 003): the order, `paymentType` and the saved card.
pub(crate) fn read_saved_card(body: &Body, acs_url: String) -> Result<PayWithSavedCard, FieldError> {
    let SavedCardFields { payment_type, card_id, .. } = body.read()?;
    Ok(PayWithSavedCard {
        order: body.read()?,
        payment_type,
        card_id: card_id.map(|CardIdRef(id)| Checked(id.map_err(FieldError))),
        acs_url,
    })
}

/// The saved card a body names: `"cardId": {"id": "<cardID>"}` as seed 003 writes it, or
/// `"cardId": "<cardID>"` as some integrations send it; or why it names none. Never refuses the
/// body: the service reports the fault after the order's.
pub struct CardIdRef(Result<String, String>);

/// In the OpenAPI description: the object or the id.
impl utoipa::PartialSchema for CardIdRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("id", text())
                    .required("id")
                    .description(Some("`{\"id\": \"<cardID>\"}`, as seed 003 writes it.")),
            )
            .item(text().description(Some("`\"<cardID>\"`.")))
            .description(Some(
                "The saved card to pay with: seed 003's object, or the id alone as some integrations send it.\n\
                 Either is the `cardID` of a payment, verification or transfer that saved the card.",
            ))
            .into()
    }
}

impl ToSchema for CardIdRef {}

impl<'de> Deserialize<'de> for CardIdRef {
    fn deserialize<D: serde::Deserializer<'de>>(field: D) -> Result<Self, D::Error> {
        struct Ref;
        const NOT_A_CARD: &str = "field cardId must be a string or an object {\"id\": \"<cardID>\"}";
        impl<'de> Visitor<'de> for Ref {
            type Value = CardIdRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a card id or {\"id\": <card id>}")
            }
            fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<CardIdRef, E> {
                Ok(CardIdRef(Ok(id.to_string())))
            }
            /// `{"id": …}`: `id` spelled exactly, else in any case; text (or a number), not blank.
            fn visit_map<M: MapAccess<'de>>(self, mut object: M) -> Result<CardIdRef, M::Error> {
                let mut fields = Vec::new();
                while let Some((name, value)) = object.next_entry::<String, Checked<String>>()? {
                    fields.push((name, value.ok()));
                }
                let exact = fields.iter().find(|(name, _)| name == "id");
                let id = exact.or_else(|| fields.iter().find(|(name, _)| name.eq_ignore_ascii_case("id")));
                Ok(CardIdRef(match id {
                    Some((_, Some(id))) if !id.trim().is_empty() => Ok(id.clone()),
                    _ => Err("field cardId.id is required".to_string()),
                }))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut items: S) -> Result<CardIdRef, S::Error> {
                while items.next_element::<IgnoredAny>()?.is_some() {}
                Ok(CardIdRef(Err(NOT_A_CARD.into())))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<CardIdRef, E> {
                Ok(CardIdRef(Err(NOT_A_CARD.into())))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<CardIdRef, E> {
                Ok(CardIdRef(Err(NOT_A_CARD.into())))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<CardIdRef, E> {
                Ok(CardIdRef(Err(NOT_A_CARD.into())))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<CardIdRef, E> {
                Ok(CardIdRef(Err(NOT_A_CARD.into())))
            }
        }
        field.deserialize_any(Ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::lenient::given;

    fn body(json: &str) -> Body {
        Body::json(json.as_bytes()).expect("a JSON object")
    }

    fn text(field: Field<String>) -> Result<Option<String>, String> {
        given(field).map_err(|e| e.0)
    }

    #[test]
    fn a_cryptopay_body_is_read_with_every_field_keeping_its_fault() {
        let read = |json: &str| read_cryptopay(&body(json), String::new(), None).expect("read");
        let c = read(
            r#"{"INVOICEID":1234567,"amount":"12.50","cardsave":"true","email":{},"data":{"a":[1,"x"]},"сryptogram":"aGVsbG8="}"#,
        );
        assert_eq!(text(c.order.invoice_id), Ok(Some("1234567".into())));
        assert_eq!(given(c.order.amount).map(|a| a.map(|a| a.minor())), Ok(Some(1250)));
        assert_eq!(given(c.order.card_save), Ok(Some(true)));
        assert_eq!(text(c.order.email), Err("field email must be a string".into()));
        assert_eq!(c.order.data, r#"{"a":[1,"x"]}"#);
        assert!(matches!(given(c.cryptogram), Ok(Some(_))), "the Cyrillic spelling is the cryptogram");
        let bad = read(r#"{"amount":[1],"currency":"XYZ","cryptogram":"%%% not base64 %%%","data":"as sent"}"#);
        assert_eq!(given(bad.order.amount).unwrap_err().0, "field amount must be a number");
        assert!(given(bad.order.currency).unwrap_err().0.starts_with("field currency: "));
        assert_eq!(given(bad.cryptogram).unwrap_err().0, "cryptogram is not valid base64");
        assert_eq!(bad.order.data, "as sent");
        let blank = read(r#"{"cryptogram":"  ","invoiceId":null}"#);
        assert!(blank.cryptogram.is_none() && blank.order.invoice_id.is_none());
    }

    #[test]
    fn a_saved_card_is_named_by_its_id_or_an_object_holding_it() {
        let card_id = |json: &str| text(read_saved_card(&body(json), String::new()).expect("read").card_id);
        assert_eq!(card_id(r#"{"cardId":{"id":"C1"}}"#), Ok(Some("C1".into())));
        assert_eq!(card_id(r#"{"cardID":{"ID":"C2","x":null}}"#), Ok(Some("C2".into())));
        assert_eq!(card_id(r#"{"cardId":"C3"}"#), Ok(Some("C3".into())));
        assert_eq!(card_id(r#"{"paymentType":"cardId"}"#), Ok(None));
        assert_eq!(card_id(r#"{"cardId":{"id":" "}}"#), Err("field cardId.id is required".into()));
        assert_eq!(card_id(r#"{"cardId":{"id":true}}"#), Err("field cardId.id is required".into()));
        let not_a_card = Err(r#"field cardId must be a string or an object {"id": "<cardID>"}"#.to_string());
        for other in ["1", "[1,2]", "true", "-1.5"] {
            assert_eq!(card_id(&format!(r#"{{"cardId":{other}}}"#)), not_a_card, "{other}");
        }
    }
}
