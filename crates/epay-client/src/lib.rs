//! A typed async client for the ePay API — the real service or an `epay` gateway.
//!
//! ```no_run
//! # async fn demo() -> Result<(), epay_client::ClientError> {
//! use epay_client::{Amount, Client, TokenRequest, PaymentRequest, CardData, encrypt_cryptogram};
//! let client = Client::new("http://127.0.0.1:8080");
//! // Money is exact: parsed from its decimal text (or `Amount::from_minor(10_000)`), never a float.
//! let amount: Amount = "100".parse().expect("a valid amount");
//! let token = client.token(&TokenRequest::payment("test", "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG",
//!     "000000001", amount, "KZT", "67e34d63-102f-4bd1-898e-370781d0074d")).await?;
//! let pem = client.public_key_pem().await?;
//! let cryptogram = encrypt_cryptogram(&pem, &CardData::new("4405639704015096", "0127", "321",
//!     "67e34d63-102f-4bd1-898e-370781d0074d"))?;
//! let payment = client.cryptopay(&token.access_token, &PaymentRequest::new("000000001", amount, cryptogram)).await?;
//! println!("{} {} {}", payment.id, payment.status, payment.amount);
//! # Ok(()) }
//! ```
//!
//! Amounts are [`Amount`]s (integer minor units, from `epay-domain`): requests send them as JSON
//! numbers with exactly their digits (`12.22`), and answers are read from the number's text, so
//! `12.22` is 1222 tiyn, never 12.2199999…; an answer with more than two decimals is an error.

pub mod cryptogram;
mod transfers;
mod types;

pub use cryptogram::{encrypt_cryptogram, CardData};
pub use epay_domain::{Amount, MoneyError};
pub use transfers::*;
pub use types::*;

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a non-success status; `body` is its JSON (or text) answer.
    #[error("HTTP {status}: {body}")]
    Api { status: u16, body: serde_json::Value },
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cryptogram: {0}")]
    Cryptogram(String),
}

impl ClientError {
    /// The ePay `code` of an API error body, if any.
    pub fn code(&self) -> Option<i64> {
        match self {
            ClientError::Api { body, .. } => body.get("code").and_then(|c| c.as_i64()),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// `base` is the API root, e.g. `http://127.0.0.1:8080` or `https://test-epay-api.epayment.kz`.
    pub fn new(base: &str) -> Client {
        Client { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_string() }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            return Err(ClientError::Api { status: status.as_u16(), body });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Api {
            status: status.as_u16(),
            body: serde_json::Value::String(format!("undecodable body ({e}): {}", String::from_utf8_lossy(&bytes))),
        })
    }

    /// `POST /oauth2/token` as multipart form-data, as ePay's docs show.
    pub async fn token(&self, request: &TokenRequest) -> Result<TokenResponse, ClientError> {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in request.pairs() {
            form = form.text(name, value);
        }
        let response = self.http.post(format!("{}/oauth2/token", self.base)).multipart(form).send().await?;
        Self::decode(response).await
    }

    /// `GET /public.rsa`: the PEM public key for cryptograms.
    pub async fn public_key_pem(&self) -> Result<String, ClientError> {
        let response = self.http.get(format!("{}/public.rsa", self.base)).send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(ClientError::Api { status: status.as_u16(), body: serde_json::Value::String(text) });
        }
        Ok(text)
    }

    /// `POST /payment/cryptopay`.
    pub async fn cryptopay(&self, token: &str, request: &PaymentRequest) -> Result<PaymentResponse, ClientError> {
        let response =
            self.http.post(format!("{}/payment/cryptopay", self.base)).bearer_auth(token).json(request).send().await?;
        Self::decode(response).await
    }

    /// `POST /payments/cards/auth` with `paymentType: "cardId"`.
    pub async fn pay_with_saved_card(
        &self,
        token: &str,
        request: &SavedCardPaymentRequest,
    ) -> Result<PaymentResponse, ClientError> {
        let response = self
            .http
            .post(format!("{}/payments/cards/auth", self.base))
            .bearer_auth(token)
            .json(request)
            .send()
            .await?;
        Self::decode(response).await
    }

    /// A transfer of `kind` (`/p2p/transfer`, `/chdebit/transfer` or `/chpayment/transfer`) with a
    /// transfer token for its order.
    pub async fn transfer(
        &self,
        token: &str,
        kind: TransferKind,
        request: &TransferRequest,
    ) -> Result<TransferResponse, ClientError> {
        let response = self
            .http
            .post(format!("{}{}", self.base, transfer_path(kind)))
            .bearer_auth(token)
            .json(request)
            .send()
            .await?;
        Self::decode(response).await
    }

    /// `GET /check-status/payment/transaction/:invoiceId`.
    pub async fn status(&self, token: &str, invoice_id: &str) -> Result<StatusResponse, ClientError> {
        let response = self
            .http
            .get(format!("{}/check-status/payment/transaction/{invoice_id}", self.base))
            .bearer_auth(token)
            .send()
            .await?;
        Self::decode(response).await
    }
}

pub mod webhooks;
