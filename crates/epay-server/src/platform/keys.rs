//! Key material: the cryptogram RSA key pair, the card-vault key, and the digests used for
//! secrets, tokens and card fingerprints. Keys are generated on first start and kept in the data
//! directory (or at configured paths, which several nodes must share).

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, AES_256_GCM_SIV, NONCE_LEN};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use epay_domain::{Pan, Secret};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::platform::cryptogram::{Cryptogram, CryptogramCard};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("RSA key generation failed")]
    Generate,
    /// Sealing a secret needs a data key, and none is installed (`services::vault::load` was
    /// not run).
    #[error("no card-vault data key is installed: the vault keys must be loaded first")]
    NoDataKey,
}

pub struct Keys {
    rsa: Pkcs1PrivateDecryptingKey,
    /// PEM (`-----BEGIN PUBLIC KEY-----`, X.509 SubjectPublicKeyInfo) served at `/public.rsa`.
    pub public_pem: String,
    /// Derived from the master key: wraps data keys, and opens card numbers sealed before data
    /// keys existed (format v1).
    master: LessSafeKey,
    fingerprint_key: [u8; 32],
    /// Keys the pseudo-random message a badly padded cryptogram decrypts to (implicit rejection).
    rejection_key: [u8; 32],
    /// The data keys card numbers are sealed under (envelope encryption), by id, unwrapped.
    data_keys: RwLock<DataKeys>,
    /// Derives the access-token keys ([`Keys::use_token_keys`]).
    token_root: [u8; 32],
    token_keys: RwLock<TokenKeys>,
}

/// The keys access tokens are sealed under: the first seals, every one opens. Key `n` is
/// HMAC-SHA256(vault-derived root, n): nothing to store or share beyond the vault secret and the
/// list of ids (`token_keys` in the configuration), so every node with the same vault secret and
/// list seals and opens alike.
#[derive(Default)]
struct TokenKeys {
    keys: Vec<(u8, LessSafeKey)>,
}

/// Version byte of a sealed access token.
const TOKEN_V1: u8 = 1;

#[derive(Default)]
struct DataKeys {
    active: Option<String>,
    keys: HashMap<String, LessSafeKey>,
}

/// Values sealed under a data key read `v2.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`; the key
/// id is part of the AEAD's associated data, so a value cannot be moved to another key.
pub const V2: &str = "v2.";

/// What a sealed value holds. Part of the AEAD's associated data (beside the key id), so a value
/// sealed as one thing never opens as another: a webhook secret copied to another merchant's
/// row, or into a card column, fails authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing<'a> {
    /// A card number (saved cards, 3-D Secure sessions).
    Pan,
    /// A merchant's callback signing secret (`whsec_…`), bound to the merchant.
    WebhookSecret { merchant_id: &'a str },
}

impl Sealing<'_> {
    fn associated_data(&self, key_id: &str) -> Vec<u8> {
        match self {
            // The key id alone, as card numbers were sealed before anything else was.
            Sealing::Pan => key_id.as_bytes().to_vec(),
            Sealing::WebhookSecret { merchant_id } => format!("{key_id}/webhook-secret/{merchant_id}").into_bytes(),
        }
    }
}

fn aes_key(bytes: &[u8]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte key"))
}

fn seal_with(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).expect("the system RNG works");
    let mut data = plain.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut data)
        .expect("sealing a short buffer cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    STANDARD.encode(out)
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let mut data = rest.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    key.open_in_place(nonce, Aad::from(aad), &mut data).ok().map(|plain| plain.to_vec())
}

/// A data key as the store keeps it: wrapped (AES-256-GCM) under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub id: String,
    pub wrapped: String,
    pub active: bool,
}

fn file_error(path: &Path, problem: impl ToString) -> KeyError {
    KeyError::File { path: path.display().to_string(), problem: problem.to_string() }
}

pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub fn pem_decode(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    STANDARD.decode(body).ok()
}

/// Writes a new secret file readable only by its owner.
fn write_secret(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| file_error(path, e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(|e| file_error(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(|e| file_error(path, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

impl Keys {
    /// Loads the keys, generating any that do not exist yet.
    pub fn load_or_generate(rsa_path: &Path, rsa_bits: u32, vault_path: &Path) -> Result<Keys, KeyError> {
        Self::load(rsa_path, rsa_bits, vault_path, None)
    }

    /// Like [`Keys::load_or_generate`]; `master_hex` (from the environment) replaces the vault
    /// key file when given, so the master key need not be on disk at all.
    pub fn load(rsa_path: &Path, rsa_bits: u32, vault_path: &Path, master_hex: Option<&str>) -> Result<Keys, KeyError> {
        let private = if rsa_path.exists() {
            let text = std::fs::read_to_string(rsa_path).map_err(|e| file_error(rsa_path, e))?;
            let der = pem_decode(&text).ok_or_else(|| file_error(rsa_path, "not a PEM file"))?;
            PrivateDecryptingKey::from_pkcs8(&der).map_err(|e| file_error(rsa_path, e))?
        } else {
            let size = match rsa_bits {
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                _ => KeySize::Rsa2048,
            };
            let key = PrivateDecryptingKey::generate(size).map_err(|_| KeyError::Generate)?;
            let der = key.as_der().map_err(|_| KeyError::Generate)?;
            write_secret(rsa_path, pem_encode("PRIVATE KEY", der.as_ref()).as_bytes())?;
            key
        };
        let public_der = private.public_key().as_der().map_err(|_| KeyError::Generate)?;
        let public_pem = pem_encode("PUBLIC KEY", public_der.as_ref());
        let rsa = Pkcs1PrivateDecryptingKey::new(private).map_err(|_| KeyError::Generate)?;

        let vault_bytes: [u8; 32] = if let Some(text) = master_hex {
            let bytes = hex::decode(text.trim()).map_err(|_| KeyError::File {
                path: "EPAY_VAULT_MASTER_KEY".into(),
                problem: "expected 64 hex digits".into(),
            })?;
            bytes.try_into().map_err(|_| KeyError::File {
                path: "EPAY_VAULT_MASTER_KEY".into(),
                problem: "expected 64 hex digits".into(),
            })?
        } else if vault_path.exists() {
            let text = std::fs::read_to_string(vault_path).map_err(|e| file_error(vault_path, e))?;
            let bytes = hex::decode(text.trim()).map_err(|_| file_error(vault_path, "expected 64 hex digits"))?;
            bytes.try_into().map_err(|_| file_error(vault_path, "expected 64 hex digits"))?
        } else {
            let mut bytes = [0u8; 32];
            aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::Generate)?;
            write_secret(vault_path, hex::encode(bytes).as_bytes())?;
            bytes
        };
        Ok(Keys::from_parts(rsa, public_pem, vault_bytes))
    }

    fn from_parts(rsa: Pkcs1PrivateDecryptingKey, public_pem: String, vault_bytes: [u8; 32]) -> Keys {
        // Separate keys for separate jobs, both derived from the one vault secret.
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = Hmac::<Sha256>::new_from_slice(&vault_bytes).expect("any key length");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        Keys {
            rsa,
            public_pem,
            master: aes_key(&derive(b"epay/vault/aes-256-gcm")),
            fingerprint_key: derive(b"epay/vault/fingerprint"),
            rejection_key: derive(b"epay/cryptogram/implicit-rejection"),
            data_keys: RwLock::default(),
            token_root: derive(b"epay/access-token/aes-256-gcm-siv"),
            token_keys: RwLock::new(TokenKeys::default()),
        }
        .with_token_keys(&[1])
    }

    fn with_token_keys(self, ids: &[u8]) -> Keys {
        self.use_token_keys(ids);
        self
    }

    /// Installs the access-token keys `ids` (the configuration's `token_keys`): new tokens are
    /// sealed under the first, and tokens under any of them open. Rotation adds a key, makes it
    /// first, and drops the old one once the tokens under it have expired (docs/operations.md).
    pub fn use_token_keys(&self, ids: &[u8]) {
        let keys = ids
            .iter()
            .map(|&id| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.token_root).expect("any key length");
                mac.update(&[id]);
                let raw: [u8; 32] = mac.finalize().into_bytes().into();
                (id, LessSafeKey::new(UnboundKey::new(&AES_256_GCM_SIV, &raw).expect("32-byte key")))
            })
            .collect();
        *self.token_keys.write().unwrap_or_else(|p| p.into_inner()) = TokenKeys { keys };
    }

    /// Seals an access token's plaintext: `base32(version ‖ key id ‖ nonce ‖ ciphertext ‖ tag)`,
    /// upper-case letters and digits only (the charset ePay's tokens have). AES-256-GCM-SIV: a
    /// repeated random nonce (a risk after billions of tokens under one key) reveals at most
    /// that two plaintexts were equal, and no two are (each holds a random token id). The
    /// version and key id are associated data, so neither can be changed.
    pub fn seal_token(&self, plain: &[u8]) -> String {
        let token_keys = self.token_keys.read().unwrap_or_else(|p| p.into_inner());
        let (id, key) = token_keys.keys.first().expect("at least one token key (the configuration checks)");
        let header = [TOKEN_V1, *id];
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system RNG works");
        let mut data = plain.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&header), &mut data)
            .expect("sealing a short buffer cannot fail");
        let mut out = header.to_vec();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        base32::encode(&out)
    }

    /// Opens a token [`Keys::seal_token`] made under one of the installed keys; `None` for
    /// anything else (not base32, truncated, tampered with, another gateway's or a retired key's).
    /// The tag is checked in constant time by the AEAD.
    pub fn open_token(&self, text: &str) -> Option<Vec<u8>> {
        let bytes = base32::decode(text)?;
        if bytes.len() < 2 + NONCE_LEN || bytes[0] != TOKEN_V1 {
            return None;
        }
        let (header, rest) = bytes.split_at(2);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let token_keys = self.token_keys.read().unwrap_or_else(|p| p.into_inner());
        let key = &token_keys.keys.iter().find(|(id, _)| *id == header[1])?.1;
        let mut data = sealed.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        key.open_in_place(nonce, Aad::from(header), &mut data).ok().map(|plain| plain.to_vec())
    }

    /// A new random data key, wrapped under the master key, for the store.
    pub fn new_data_key(&self) -> WrappedKey {
        let mut raw = [0u8; 32];
        aws_lc_rs::rand::fill(&mut raw).expect("the system RNG works");
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        WrappedKey { wrapped: seal_with(&self.master, id.as_bytes(), &raw), id, active: true }
    }

    /// Installs the store's data keys (unwrapped with the master key). A key that does not
    /// unwrap means a different master key: refused, so nothing gets sealed under a key the
    /// other nodes cannot read.
    pub fn install_data_keys(&self, wrapped: &[WrappedKey]) -> Result<(), KeyError> {
        let mut keys = HashMap::new();
        let mut active = None;
        for w in wrapped {
            let raw =
                open_with(&self.master, w.id.as_bytes(), &w.wrapped).filter(|r| r.len() == 32).ok_or_else(|| {
                    KeyError::File {
                        path: format!("data key {}", w.id),
                        problem: "does not unwrap with this master key (vault key)".into(),
                    }
                })?;
            keys.insert(w.id.clone(), aes_key(&raw));
            if w.active {
                active = Some(w.id.clone());
            }
        }
        *self.data_keys.write().unwrap_or_else(|p| p.into_inner()) = DataKeys { active, keys };
        Ok(())
    }

    /// The id of the data key new card numbers are sealed under.
    pub fn active_data_key(&self) -> Option<String> {
        self.data_keys.read().unwrap_or_else(|p| p.into_inner()).active.clone()
    }

    /// Whether `sealed` is sealed under the data key `key_id`.
    pub fn sealed_under(sealed: &str, key_id: &str) -> bool {
        sealed.strip_prefix(V2).and_then(|rest| rest.split_once('.')).is_some_and(|(id, _)| id == key_id)
    }

    /// The card in a cryptogram, or `None` when it holds none: decrypted with implicit
    /// rejection ([`Keys::decrypt_cryptogram`]), then read, so a badly padded cryptogram and one
    /// whose JSON is no card end alike.
    pub fn open_cryptogram(&self, cryptogram: &Cryptogram) -> Option<CryptogramCard> {
        CryptogramCard::parse(&self.decrypt_cryptogram(cryptogram.ciphertext()))
    }

    /// RSA PKCS#1 v1.5 decryption of a cryptogram with *implicit rejection*: a ciphertext whose
    /// padding is wrong (or that is not a ciphertext at all) decrypts to a pseudo-random message
    /// derived from the ciphertext under a secret key, as OpenSSL 3.2 and the CFRG draft
    /// "Implicit Rejection for RSA PKCS#1 v1.5" do. AWS-LC has no such mode, so it is done here:
    /// the rejection message is always computed and chosen in constant time. The caller then
    /// treats both alike (the message is not a card), so neither the answer nor the path tells
    /// a badly padded ciphertext from a well padded one: no Bleichenbacher oracle.
    pub fn decrypt_cryptogram(&self, ciphertext: &[u8]) -> Vec<u8> {
        use subtle::{Choice, ConditionallySelectable};
        let size = self.rsa.min_output_size();
        let rejection = self.rejection_message(ciphertext, size);
        let mut out = vec![0u8; size];
        let (valid, len) = match self.rsa.decrypt(ciphertext, &mut out) {
            Ok(plain) => (Choice::from(1), plain.len() as u32),
            Err(_) => (Choice::from(0), 0),
        };
        let len = u32::conditional_select(&(rejection.len() as u32), &len, valid) as usize;
        let mut chosen: Vec<u8> =
            (0..size).map(|i| u8::conditional_select(rejection.get(i).unwrap_or(&0), &out[i], valid)).collect();
        chosen.truncate(len);
        chosen
    }

    /// The pseudo-random message of implicit rejection: HMAC-SHA256 in counter mode over the
    /// ciphertext, of a length (at most `size - 11`, PKCS#1's longest message) also derived from
    /// it. The same ciphertext always gives the same message.
    fn rejection_message(&self, ciphertext: &[u8], size: usize) -> Vec<u8> {
        let block = |counter: u32| -> [u8; 32] {
            let mut mac = Hmac::<Sha256>::new_from_slice(&self.rejection_key).expect("any key length");
            mac.update(&counter.to_be_bytes());
            mac.update(ciphertext);
            mac.finalize().into_bytes().into()
        };
        let max = size.saturating_sub(11);
        let length_block = block(u32::MAX);
        let len = usize::from(u16::from_be_bytes([length_block[0], length_block[1]])) % (max + 1);
        (0..max.div_ceil(32) as u32).flat_map(block).take(len).collect()
    }

    /// Keyed fingerprint of a PAN: finds a saved card without storing its number.
    pub fn pan_fingerprint(&self, pan: &Pan) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.fingerprint_key).expect("any key length");
        mac.update(pan.expose().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The key that names simulator card accounts in the ledger.
    pub fn account_key(&self) -> &[u8] {
        &self.fingerprint_key
    }

    /// Whether `stored` is sealed under a data key (`v2.…`). A webhook secret stored before
    /// sealing existed is not (it reads `whsec_…`); neither is a card number of format v1.
    pub fn is_sealed(stored: &str) -> bool {
        stored.strip_prefix(V2).is_some_and(|rest| rest.contains('.'))
    }

    /// AES-256-GCM of `plain` under the active data key: `v2.<key id>.<base64>`. Fails only
    /// before any data key is installed.
    pub fn seal(&self, what: Sealing<'_>, plain: &str) -> Result<String, KeyError> {
        let data_keys = self.data_keys.read().unwrap_or_else(|p| p.into_inner());
        let (id, key) = data_keys
            .active
            .as_ref()
            .and_then(|id| data_keys.keys.get(id).map(|k| (id, k)))
            .ok_or(KeyError::NoDataKey)?;
        Ok(format!("{V2}{id}.{}", seal_with(key, &what.associated_data(id), plain.as_bytes())))
    }

    /// Opens a stored value in any format the gateway ever wrote: sealed under a data key
    /// (`v2.`); else, for a card number, sealed under the master key (format v1), and for a
    /// webhook secret, the secret itself, kept in clear before sealing existed (the start-up
    /// pass seals such rows). `None`: under a data key this node does not know (yet), or not
    /// authentic.
    pub fn open(&self, what: Sealing<'_>, stored: &str) -> Option<String> {
        let plain = match stored.strip_prefix(V2).and_then(|rest| rest.split_once('.')) {
            Some((id, body)) => {
                let data_keys = self.data_keys.read().unwrap_or_else(|p| p.into_inner());
                open_with(data_keys.keys.get(id)?, &what.associated_data(id), body)?
            }
            None => match what {
                Sealing::Pan => open_with(&self.master, &[], stored)?,
                Sealing::WebhookSecret { .. } => return Some(stored.to_string()),
            },
        };
        String::from_utf8(plain).ok()
    }

    /// The PAN sealed under the active data key; before any data key is installed, under the
    /// master key (v1, plain base64).
    pub fn seal_pan(&self, pan: &Pan) -> String {
        self.seal(Sealing::Pan, pan.expose()).unwrap_or_else(|_| seal_with(&self.master, &[], pan.expose().as_bytes()))
    }

    pub fn open_pan(&self, sealed: &str) -> Option<Pan> {
        Pan::parse(&self.open(Sealing::Pan, sealed)?).ok()
    }
}

impl Keys {
    /// HMAC-SHA256 of `message` under a key of its own for `purpose` (derived from the vault
    /// secret): for values the gateway must recognise later without storing them (a 3-D Secure
    /// one-time code, the demo shop's order links).
    pub fn purpose_mac(&self, purpose: &str, message: &str) -> [u8; 32] {
        let mut derive = Hmac::<Sha256>::new_from_slice(&self.fingerprint_key).expect("any key length");
        derive.update(b"epay/purpose/");
        derive.update(purpose.as_bytes());
        let key = derive.finalize().into_bytes();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// RFC 4648 base32 without padding (`A`–`Z`, `2`–`7`): a token's text.
mod base32 {
    pub(super) const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &byte in bytes {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// A character's value in [`ALPHABET`]: by arithmetic on its two ranges, not a search (every
    /// request with a token decodes one).
    pub(super) fn value_of(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'2'..=b'7' => Some(c - b'2' + 26),
            _ => None,
        }
    }

    /// `None` for a character outside the alphabet, a length no byte string encodes to (five
    /// bits or more left over), or trailing bits that are not zero (so each byte string has
    /// exactly one text: a token cannot be re-spelled).
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let text = text.as_bytes();
        let mut out = Vec::with_capacity(text.len() * 5 / 8);
        // Whole groups first: eight characters are forty bits, five bytes, with no bits left over
        // (a token is hundreds of characters, decoded on every request that carries one).
        let groups = text.chunks_exact(8);
        let tail = groups.remainder();
        for group in groups {
            let mut forty = 0u64;
            for &c in group {
                forty = (forty << 5) | u64::from(value_of(c)?);
            }
            out.extend_from_slice(&forty.to_be_bytes()[3..]);
        }
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &c in tail {
            buffer = ((buffer << 5) | u32::from(value_of(c)?)) & 0xFFFF;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
            }
        }
        // Leftover bits: fewer than 5, all zero (a canonical encoding).
        (bits < 5 && buffer & ((1 << bits) - 1) == 0).then_some(out)
    }
}

/// SHA-256 hex digest. Tokens and client secrets are long random strings, so a fast unkeyed
/// digest is enough to make the stored value useless to a reader of the database (and keeps the
/// token endpoint fast: no argon2 on the hot path).
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What the store keeps of a merchant's client secret: its digest, a [`Secret`] itself
/// (`epay_store::Merchant::secret_digest` says why).
pub fn secret_digest(client_secret: &str) -> Secret {
    Secret::new(digest(client_secret))
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_roundtrips_and_refuses_what_is_not_canonical() {
        for len in 0..40usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base32::encode(&bytes);
            assert!(text.bytes().all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)), "{text}");
            assert_eq!(base32::decode(&text), Some(bytes), "{text}");
        }
        assert_eq!(base32::encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32::decode("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base32::decode("MZXW6YTBOJ"), None, "non-zero trailing bits");
        assert_eq!(base32::decode("mzxw6ytboi"), None);
        assert_eq!(base32::decode("MZXW6YTBO1"), None);
        assert_eq!(base32::decode("MZXW6Y1BOI"), None, "a character outside the alphabet in a whole group");
        assert_eq!(base32::decode("MZXW6YTB"), Some(b"fooba".to_vec()), "one whole group");
        for impossible in ["A", "AAA", "AAAAAA", "MZXW6YTBA"] {
            assert_eq!(base32::decode(impossible), None, "{impossible}: a length nothing encodes to");
        }
        // Every byte decodes to its place in the alphabet, or to nothing (the ranges' edges: `@`,
        // `[`, `1`, `8`).
        for c in 0..=u8::MAX {
            let place = base32::ALPHABET.iter().position(|&a| a == c).map(|p| p as u8);
            assert_eq!(base32::value_of(c), place, "byte {c}");
        }
    }

    #[test]
    fn tokens_open_under_their_keys_only() {
        let dir = std::env::temp_dir().join(format!("epay-keys-{}", uuid::Uuid::new_v4()));
        let keys = Keys::load_or_generate(&dir.join("rsa.pem"), 2048, &dir.join("vault.key")).unwrap();
        let token = keys.seal_token(b"binding");
        assert_eq!(keys.open_token(&token).as_deref(), Some(&b"binding"[..]));
        // Every character changed, the token cut short or lengthened: refused.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            assert_eq!(keys.open_token(&String::from_utf8(bytes).unwrap()), None, "character {i}");
        }
        assert_eq!(keys.open_token(&token[..token.len() - 1]), None);
        assert_eq!(keys.open_token(&format!("{token}AA")), None);
        // Rotation: key 2 seals, key 1 still opens; once 1 is retired its tokens are refused.
        keys.use_token_keys(&[2, 1]);
        let second = keys.seal_token(b"binding");
        assert_eq!(keys.open_token(&token).as_deref(), Some(&b"binding"[..]));
        keys.use_token_keys(&[2]);
        assert_eq!(keys.open_token(&token), None);
        assert_eq!(keys.open_token(&second).as_deref(), Some(&b"binding"[..]));
        // Another vault secret: another gateway's keys open nothing of this one.
        let other = Keys::load_or_generate(&dir.join("rsa.pem"), 2048, &dir.join("other.key")).unwrap();
        other.use_token_keys(&[2]);
        assert_eq!(other.open_token(&second), None);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn keys_persist_and_vault_roundtrips() {
        let dir = std::env::temp_dir().join(format!("epay-keys-{}", uuid::Uuid::new_v4()));
        let (rsa, vault) = (dir.join("rsa.pem"), dir.join("vault.key"));
        let a = Keys::load_or_generate(&rsa, 2048, &vault).unwrap();
        let b = Keys::load_or_generate(&rsa, 2048, &vault).unwrap();
        assert_eq!(a.public_pem, b.public_pem);
        assert!(a.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\nMII"));
        let pan = Pan::parse("4405639704015096").unwrap();
        let sealed = a.seal_pan(&pan);
        assert!(!sealed.contains("4405639704015096"));
        assert_eq!(b.open_pan(&sealed), Some(pan.clone()));
        assert_eq!(a.pan_fingerprint(&pan), b.pan_fingerprint(&pan));
        assert_eq!(a.open_pan("AAAA"), None);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_padding_decrypts_to_a_stable_pseudo_random_message() {
        use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
        let dir = std::env::temp_dir().join(format!("epay-keys-{}", uuid::Uuid::new_v4()));
        let keys = Keys::load_or_generate(&dir.join("rsa.pem"), 2048, &dir.join("vault.key")).unwrap();
        let public = PublicEncryptingKey::from_der(&pem_decode(&keys.public_pem).unwrap()).unwrap();
        let public = Pkcs1PublicEncryptingKey::new(public).unwrap();
        let mut ciphertext = vec![0u8; public.ciphertext_size()];
        let ciphertext = public.encrypt(b"{\"hpan\":1}", &mut ciphertext).unwrap().to_vec();
        assert_eq!(keys.decrypt_cryptogram(&ciphertext), b"{\"hpan\":1}");
        // c = 1 decrypts to m = 1, never a PKCS#1 v1.5 block: a message derived from it instead,
        // the same each time, different for another bad ciphertext.
        let mut one = vec![0u8; ciphertext.len()];
        one[ciphertext.len() - 1] = 1;
        let rejected = keys.decrypt_cryptogram(&one);
        assert_eq!(rejected, keys.decrypt_cryptogram(&one));
        assert!(rejected.len() <= ciphertext.len() - 11);
        assert_ne!(keys.decrypt_cryptogram(b"short"), rejected);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn data_keys_seal_open_and_rotate() {
        let dir = std::env::temp_dir().join(format!("epay-keys-{}", uuid::Uuid::new_v4()));
        let keys = Keys::load_or_generate(&dir.join("rsa.pem"), 2048, &dir.join("vault.key")).unwrap();
        let pan = Pan::parse("5522042705066736").unwrap();
        let legacy = keys.seal_pan(&pan);
        let first = keys.new_data_key();
        keys.install_data_keys(std::slice::from_ref(&first)).unwrap();
        let sealed = keys.seal_pan(&pan);
        assert!(Keys::sealed_under(&sealed, &first.id), "{sealed}");
        assert!(!first.wrapped.contains(&hex::encode([0u8; 4])) || first.wrapped.len() > 40);
        // Rotation: a second key becomes active; values under the first still open.
        let second = keys.new_data_key();
        keys.install_data_keys(&[WrappedKey { active: false, ..first.clone() }, second.clone()]).unwrap();
        let resealed = keys.seal_pan(&pan);
        assert!(Keys::sealed_under(&resealed, &second.id));
        for value in [&legacy, &sealed, &resealed] {
            assert_eq!(keys.open_pan(value), Some(pan.clone()));
        }
        // A value moved under another key id fails authentication.
        let moved = sealed.replacen(&first.id, &second.id, 1);
        assert_eq!(keys.open_pan(&moved), None);
        // Another master key cannot unwrap these data keys.
        let other = Keys::load_or_generate(&dir.join("rsa.pem"), 2048, &dir.join("other.key")).unwrap();
        assert!(other.install_data_keys(&[second]).is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn webhook_secrets_seal_bound_to_their_merchant_and_old_clear_ones_still_open() {
        let dir = std::env::temp_dir().join(format!("epay-keys-{}", uuid::Uuid::new_v4()));
        let keys = Keys::load_or_generate(&dir.join("rsa.pem"), 2048, &dir.join("vault.key")).unwrap();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let mine = Sealing::WebhookSecret { merchant_id: "m-1" };
        assert!(matches!(keys.seal(mine, secret), Err(KeyError::NoDataKey)), "never in clear for want of a key");
        let key = keys.new_data_key();
        keys.install_data_keys(std::slice::from_ref(&key)).unwrap();
        let sealed = keys.seal(mine, secret).unwrap();
        assert!(Keys::is_sealed(&sealed) && Keys::sealed_under(&sealed, &key.id), "{sealed}");
        assert!(!sealed.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_eq!(keys.open(mine, &sealed).as_deref(), Some(secret));
        // Bound to its merchant and kind: copied to another merchant or read as a card, it fails.
        assert_eq!(keys.open(Sealing::WebhookSecret { merchant_id: "m-2" }, &sealed), None);
        assert_eq!(keys.open(Sealing::Pan, &sealed), None);
        let pan = keys.seal_pan(&Pan::parse("4405639704015096").unwrap());
        assert_eq!(keys.open(mine, &pan), None);
        // A secret stored before sealing existed opens as itself, and is told apart.
        assert!(!Keys::is_sealed(secret));
        assert_eq!(keys.open(mine, secret).as_deref(), Some(secret));
        std::fs::remove_dir_all(dir).ok();
    }
}
