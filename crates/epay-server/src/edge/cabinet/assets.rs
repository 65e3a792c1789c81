//! The cabinet's stylesheet, embedded in the binary with its Subresource Integrity hash. The
//! cabinet has no script at all.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub struct Css {
    pub body: &'static str,
    /// `sha384-…`, for the `integrity` attribute.
    pub integrity: String,
}

pub fn css() -> &'static Css {
    static CSS: OnceLock<Css> = OnceLock::new();
    CSS.get_or_init(|| {
        let body = include_str!("../../../assets/cabinet.css");
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, body.as_bytes());
        Css { body, integrity: format!("sha384-{}", STANDARD.encode(digest.as_ref())) }
    })
}
