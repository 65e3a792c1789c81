//! The 3-D Secure messages between the merchant's page, the ACS and the confirm step (seed 003,
//! facts §7): `paReq` is base64url of a 3DS 2.2 CReq, `PaRes` of a CRes, `MD` base64 of the
//! threeDSServerTransID. The services write them; the edge reads them back into
//! [`ServerTransId`] and [`AcsTransId`], so no service sees their text.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The 3DS Server's id of a challenge (`threeDSServerTransID`), which `MD` carries: a UUID, kept
/// as the text it was sent in so it compares with the stored one exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTransId(String);

/// The ACS's id of a challenge (`acsTransID`), which the CReq and the CRes name: a UUID, kept as
/// its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsTransId(String);

/// `id` if it is a UUID.
fn uuid_text(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id).is_ok().then(|| id.to_string())
}

impl ServerTransId {
    /// The id an `MD` carries: base64 of a UUID. A browser form may have turned its `+` into a
    /// space, which is read back as `+`.
    pub fn from_md(md: &str) -> Option<ServerTransId> {
        let bytes = STANDARD.decode(md.trim().replace(' ', "+")).ok()?;
        uuid_text(&String::from_utf8(bytes).ok()?).map(ServerTransId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AcsTransId {
    /// The id as the ACS's own answer form carries it, in clear.
    pub fn parse(id: &str) -> Option<AcsTransId> {
        uuid_text(id).map(AcsTransId)
    }

    /// The challenge a `PaReq` (CReq) or a `PaRes` (CRes) names: base64url (or base64) of a JSON
    /// object with an `acsTransID`. Nothing else of the message is required: what the challenge
    /// came to is what the ACS recorded, not what the shopper's browser carried back.
    pub fn named_by(message: &str) -> Option<AcsTransId> {
        #[derive(Deserialize)]
        struct Names {
            #[serde(rename = "acsTransID")]
            acs_trans_id: String,
        }
        let names: Names = serde_json::from_slice(&decode_message(message)?).ok()?;
        AcsTransId::parse(&names.acs_trans_id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The bytes of a base64url (no padding) message, or of a standard base64 one; a browser form
/// may have turned its `+` into a space.
fn decode_message(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().replace(' ', "+");
    URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')).or_else(|_| STANDARD.decode(&t)).ok()
}

const MESSAGE_VERSION: &str = "2.2.0";

/// A 3DS 2.2 challenge request. The fields are declared in name order, the order the gateway has
/// always written them in, so a `paReq` stays byte for byte what it was.
#[derive(Serialize)]
struct CReq<'a> {
    #[serde(rename = "acsTransID")]
    acs_trans_id: &'a str,
    #[serde(rename = "challengeWindowSize")]
    challenge_window_size: &'a str,
    #[serde(rename = "messageType")]
    message_type: &'a str,
    #[serde(rename = "messageVersion")]
    message_version: &'a str,
    #[serde(rename = "threeDSServerTransID")]
    three_ds_server_trans_id: &'a str,
}

/// A 3DS 2.2 challenge response (fields in name order, as [`CReq`]'s).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq, Eq))]
pub struct CRes {
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: String,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "transStatus")]
    pub trans_status: TransStatus,
}

/// A CRes's verdict on the card holder.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(Deserialize))]
pub enum TransStatus {
    #[serde(rename = "Y")]
    Authenticated,
    #[serde(rename = "N")]
    NotAuthenticated,
}

/// `paReq` of challenge `acs_trans_id` opened under the 3DS Server's `server_trans_id`:
/// base64url (no padding) of its CReq, as seed 003's example decodes.
pub fn pa_req(server_trans_id: &str, acs_trans_id: &str) -> String {
    encode(&CReq {
        acs_trans_id,
        challenge_window_size: "05",
        message_type: "CReq",
        message_version: MESSAGE_VERSION,
        three_ds_server_trans_id: server_trans_id,
    })
}

/// `PaRes` of challenge `acs_trans_id`: base64url (no padding) of its CRes with the outcome.
pub fn pa_res(server_trans_id: &str, acs_trans_id: &str, passed: bool) -> String {
    encode(&CRes {
        acs_trans_id: acs_trans_id.to_string(),
        message_type: "CRes".into(),
        message_version: MESSAGE_VERSION.into(),
        three_ds_server_trans_id: server_trans_id.to_string(),
        trans_status: if passed { TransStatus::Authenticated } else { TransStatus::NotAuthenticated },
    })
}

/// `MD`: base64 of the threeDSServerTransID (seed 003).
pub fn md(server_trans_id: &str) -> String {
    STANDARD.encode(server_trans_id)
}

fn encode(message: &impl Serialize) -> String {
    // A struct of strings always serializes; an empty message would name no challenge.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(message).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "5e0c58c1-9b5f-4b9e-8a1e-2f7f0f6b9d02";
    const ACS: &str = "0b0c6ad2-7d7c-4a38-9d8e-6b1f8a3b3c01";

    fn decoded(message: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(message).unwrap()).unwrap()
    }

    #[test]
    fn the_messages_are_written_as_they_always_were() {
        assert_eq!(
            decoded(&pa_req(SERVER, ACS)),
            format!(
                r#"{{"acsTransID":"{ACS}","challengeWindowSize":"05","messageType":"CReq","messageVersion":"2.2.0","threeDSServerTransID":"{SERVER}"}}"#
            )
        );
        assert_eq!(
            decoded(&pa_res(SERVER, ACS, false)),
            format!(
                r#"{{"acsTransID":"{ACS}","messageType":"CRes","messageVersion":"2.2.0","threeDSServerTransID":"{SERVER}","transStatus":"N"}}"#
            )
        );
        assert_eq!(md(SERVER), STANDARD.encode(SERVER));
    }

    #[test]
    fn the_messages_name_their_challenge() {
        let acs = Some(AcsTransId(ACS.into()));
        assert_eq!(AcsTransId::named_by(&pa_req(SERVER, ACS)), acs);
        assert_eq!(AcsTransId::named_by(&pa_res(SERVER, ACS, true)), acs);
        // Standard base64 with padding, as some clients re-encode it, and `+` turned into a space.
        let standard = STANDARD.encode(decoded(&pa_res(SERVER, ACS, true)));
        assert_eq!(AcsTransId::named_by(&standard), acs);
        assert_eq!(AcsTransId::named_by(&standard.replace('+', " ")), acs);
        assert_eq!(AcsTransId::named_by("e30"), None, "{{}} names no challenge");
        assert_eq!(AcsTransId::named_by(&URL_SAFE_NO_PAD.encode(r#"{"acsTransID":"x"}"#)), None, "not a UUID");
        assert_eq!(AcsTransId::named_by("not base64!"), None);
        assert_eq!(AcsTransId::parse(ACS), acs);
        assert_eq!(AcsTransId::parse("1; DROP"), None);
    }

    #[test]
    fn md_carries_the_server_id() {
        let server = ServerTransId::from_md(&md(SERVER)).expect("an MD of ours");
        assert_eq!(server.as_str(), SERVER);
        assert_eq!(ServerTransId::from_md(&format!(" {} ", md(SERVER))), Some(server));
        assert_eq!(ServerTransId::from_md("bm90LWEtdXVpZA=="), None, "base64 of not-a-uuid");
        assert_eq!(ServerTransId::from_md("not base64 of a uuid"), None);
    }

    #[test]
    fn a_pa_res_carries_the_outcome() {
        let read = |passed| serde_json::from_str::<CRes>(&decoded(&pa_res(SERVER, ACS, passed))).unwrap().trans_status;
        assert_eq!(read(true), TransStatus::Authenticated);
        assert_eq!(read(false), TransStatus::NotAuthenticated);
    }
}
