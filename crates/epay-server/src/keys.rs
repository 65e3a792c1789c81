//! Key material: the cryptogram RSA key pair, the card-vault key, and the digests used for
//! secrets, tokens and card fingerprints. Keys are generated on first start and kept in the data
//! directory (or at configured paths, which several nodes must share).

use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use epay_domain::Pan;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("RSA key generation failed")]
    Generate,
}

pub struct Keys {
    rsa: Pkcs1PrivateDecryptingKey,
    /// PEM (`-----BEGIN PUBLIC KEY-----`, X.509 SubjectPublicKeyInfo) served at `/public.rsa`.
    pub public_pem: String,
    vault: LessSafeKey,
    fingerprint_key: [u8; 32],
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
        std::fs::create_dir_all(dir).map_err(|e| file_error(path, e))?;
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

        let vault_bytes: [u8; 32] = if vault_path.exists() {
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
        let enc = derive(b"epay/vault/aes-256-gcm");
        let vault = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &enc).expect("32-byte key"));
        Keys { rsa, public_pem, vault, fingerprint_key: derive(b"epay/vault/fingerprint") }
    }

    /// RSA PKCS#1 v1.5 decryption of a cryptogram (constant-time in AWS-LC).
    pub fn decrypt_cryptogram(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; self.rsa.min_output_size()];
        let plain = self.rsa.decrypt(ciphertext, &mut out).ok()?;
        Some(plain.to_vec())
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

    /// AES-256-GCM of the PAN under the vault key: base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal_pan(&self, pan: &Pan) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system RNG works");
        let mut data = pan.expose().as_bytes().to_vec();
        self.vault
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing a short buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        STANDARD.encode(out)
    }

    pub fn open_pan(&self, sealed: &str) -> Option<Pan> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let mut data = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.vault.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
        Pan::parse(std::str::from_utf8(plain).ok()?).ok()
    }
}

/// SHA-256 hex digest. Tokens and client secrets are long random strings, so a fast unkeyed
/// digest is enough to make the stored value useless to a reader of the database (and keeps the
/// token endpoint fast: no argon2 on the hot path).
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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
}
