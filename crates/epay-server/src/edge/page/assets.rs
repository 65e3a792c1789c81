//! The page's own static files, embedded in the binary, each with its Subresource Integrity hash.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub struct Asset {
    pub body: String,
    /// `sha384-…`, for the `integrity` attribute.
    pub integrity: String,
    pub content_type: &'static str,
}

fn asset(body: String, content_type: &'static str) -> Asset {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, body.as_bytes());
    Asset { integrity: format!("sha384-{}", STANDARD.encode(digest.as_ref())), body, content_type }
}

pub struct Assets {
    pub form_js: Asset,
    pub form_css: Asset,
    pub demo_js: Asset,
    pub payment_api_js: Asset,
}

pub fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let payment_api = format!(
            "/*! lz-string 1.5.0 (c) 2013 pieroxy, MIT License — vendored from the npm package */\n{}\n{}",
            include_str!("../../../assets/vendor/lz-string.min.js"),
            include_str!("../../../assets/payment-api.js.tmpl")
        );
        Assets {
            form_js: asset(include_str!("../../../assets/form.js").to_string(), "text/javascript; charset=utf-8"),
            form_css: asset(include_str!("../../../assets/form.css").to_string(), "text/css; charset=utf-8"),
            demo_js: asset(include_str!("../../../assets/demo.js").to_string(), "text/javascript; charset=utf-8"),
            payment_api_js: asset(payment_api, "text/javascript; charset=utf-8"),
        }
    })
}
