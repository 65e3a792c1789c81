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

fn svg(body: &str) -> Asset {
    asset(body.to_string(), "image/svg+xml")
}

pub struct Assets {
    pub form_js: Asset,
    pub form_css: Asset,
    pub demo_js: Asset,
    pub payment_api_js: Asset,
    /// The card brands' icons, by path ([`BRAND_ICONS`]): marks of our own, the brand's name as
    /// their accessible text, served by us (no CDN; the page's CSP allows only `img-src 'self'`).
    pub brands: [(&'static str, Asset); BRAND_ICONS.len()],
}

/// Where the brand icons are served (form.js builds the same paths from the brand it detects).
pub const BRAND_ICONS: [&str; 5] = [
    "/payform/assets/brand-visa.svg",
    "/payform/assets/brand-mastercard.svg",
    "/payform/assets/brand-amex.svg",
    "/payform/assets/brand-unionpay.svg",
    "/payform/assets/brand-mir.svg",
];

/// The icon of a brand, if we have one ([`BRAND_ICONS`]).
pub fn brand_icon(brand: epay_domain::CardBrand) -> Option<&'static str> {
    use epay_domain::CardBrand;
    match brand {
        CardBrand::Visa => Some(BRAND_ICONS[0]),
        CardBrand::MasterCard => Some(BRAND_ICONS[1]),
        CardBrand::Amex => Some(BRAND_ICONS[2]),
        CardBrand::UnionPay => Some(BRAND_ICONS[3]),
        CardBrand::Mir => Some(BRAND_ICONS[4]),
        CardBrand::Unknown => None,
    }
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
            brands: [
                (BRAND_ICONS[0], svg(include_str!("../../../assets/brand-visa.svg"))),
                (BRAND_ICONS[1], svg(include_str!("../../../assets/brand-mastercard.svg"))),
                (BRAND_ICONS[2], svg(include_str!("../../../assets/brand-amex.svg"))),
                (BRAND_ICONS[3], svg(include_str!("../../../assets/brand-unionpay.svg"))),
                (BRAND_ICONS[4], svg(include_str!("../../../assets/brand-mir.svg"))),
            ],
        }
    })
}
