//! ePay's lenient request fields, as a serde [`Deserializer`]: a request type derives
//! `Deserialize` and is read from a JSON body or a form with the rules ePay's clients rely on.
//!
//! - Names match in any case (`invoiceID`, `invoiceId`, `InvoiceID`); an exact match wins.
//! - A field may have several spellings, written `"first|second"` in
//!   `#[serde(rename(deserialize = …))]`: the first spelling present wins and the others are
//!   ignored, as they always were (serde's own `alias` would refuse a body with two of them). The
//!   first spelling names the field in errors.
//! - A JSON `null` is an absent field.
//! - A text field takes a JSON number too, as the exact digits sent (invoice ids are often
//!   numbers); an amount takes a numeric string too, and a JSON number's exact digits
//!   (`99.999999999999999999` is refused, not rounded to 100); a Boolean takes `"true"`,
//!   `"false"` and `""` (forms carry only text).
//! - Fields are read in the order they are declared, so the first fault reported is the first
//!   declared field's: declare them in the order ePay reports faults.
//!
//! Where a surface or a service must report a fault later, after other checks (a transfer's
//! amount comes after its token and terminal), the field is a [`Checked`] value, which keeps its
//! own fault instead of refusing the whole request; an object field is a [`Nested`] value, which
//! tells a missing or mistyped object from a fault inside it.
//!
//! ```ignore
//! #[derive(Deserialize)]
//! struct OperationRequest {
//!     /// Absent: `None`; present: the amount, or why it is not one.
//!     amount: Option<Checked<Amount>>,
//!     #[serde(rename(deserialize = "externalID|external_id"), default)]
//!     external_id: Option<String>,
//! }
//! let request: OperationRequest = lenient::from_json(body)?;
//! ```
//!
//! Errors keep the wording clients and tests know: `field X is required`, `field X must be a
//! string`, `field X: <why the value is refused>`, `request body is not valid JSON: …`.
//!
//! The types are meant for this deserializer only: read with plain `serde_json`, a `"a|b"` name
//! would be taken literally.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use epay_domain::{Amount, Currency};
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::FieldError;

/// One value of a request, with each JSON number's exact text.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// The digits as sent: through an `f64`, 99.999999999999999999 would become 100.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// By name; a name given twice keeps its last value (as `serde_json` does).
    Object(BTreeMap<String, Node>),
}

impl Node {
    /// Reads `raw` (valid JSON, nested at most as deep as `serde_json` allows) again, value by
    /// value, without evaluating any number.
    fn of(raw: &RawValue) -> Result<Node, serde_json::Error> {
        let text = raw.get().trim();
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let fields: BTreeMap<String, &RawValue> = serde_json::from_str(text)?;
                Node::Object(fields.into_iter().map(|(k, v)| Ok((k, Node::of(v)?))).collect::<Result<_, _>>()?)
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)?;
                Node::Array(items.into_iter().map(Node::of).collect::<Result<_, _>>()?)
            }
            Some(b'"') => Node::String(serde_json::from_str(text)?),
            Some(b't') => Node::Bool(true),
            Some(b'f') => Node::Bool(false),
            Some(b'n') => Node::Null,
            _ => Node::Number(text.to_string()),
        })
    }
}

/// A request body (a JSON object or a form), parsed once and read into one or more types.
#[derive(Clone, PartialEq)]
pub struct Body(BTreeMap<String, Node>);

/// Prints only the field names: values may be secrets or card data.
impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Body {
    /// A JSON body, which must be an object.
    pub fn json(body: &[u8]) -> Result<Body, FieldError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(FieldError("request body is empty; expected a JSON object".into()));
        }
        // Parsed as a `Value` first: its errors are the ones clients know, and it refuses nesting
        // deeper than 128 levels, which bounds the recursion of `Node::of`.
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => return Err(FieldError("request body must be a JSON object".into())),
            Err(e) => return Err(FieldError(format!("request body is not valid JSON: {e}"))),
        }
        let node = serde_json::from_slice::<&RawValue>(body).and_then(Node::of);
        match node {
            Ok(Node::Object(fields)) => Ok(Body(fields)),
            // The same text was just parsed as an object.
            _ => Err(FieldError("request body is not valid JSON".into())),
        }
    }

    /// A form (or a query string): every value is text. A name given twice keeps its last value.
    pub fn pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Body {
        Body(pairs.into_iter().map(|(k, v)| (k, Node::String(v))).collect())
    }

    /// The same fields with `name` set to `value`, replacing any spelling of it.
    pub fn with(mut self, name: &str, value: &str) -> Body {
        self.0.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.0.insert(name.to_string(), Node::String(value.to_string()));
        self
    }

    /// The body read into `T`.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, FieldError> {
        T::deserialize(ObjectDe { fields: &self.0, name: None }).map_err(|e| FieldError(e.message))
    }
}

/// A JSON body read into `T`.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    Body::json(body)?.read()
}

/// A form read into `T`.
pub fn from_pairs<T: DeserializeOwned>(pairs: impl IntoIterator<Item = (String, String)>) -> Result<T, FieldError> {
    Body::pairs(pairs).read()
}

/// A field's value, or why it was refused (`field amount: amount must have at most 2 decimal
/// places`): the request is read whatever the field holds, and whoever uses the field reports
/// its fault when ePay would. Absent, it is refused with `field X is required`; make it an
/// `Option<Checked<T>>` for an optional field.
///
/// A fault stays inside its field only with this module's deserializer, which reads a parsed
/// tree; a streaming one could not go on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<T>(pub Result<T, FieldError>);

impl<T> Checked<T> {
    pub fn into_result(self) -> Result<T, FieldError> {
        self.0
    }

    /// The value, or `None` when it was refused (a field whose wrong type reads as absent).
    pub fn ok(self) -> Option<T> {
        self.0.ok()
    }
}

impl<T> From<Result<T, FieldError>> for Checked<T> {
    fn from(result: Result<T, FieldError>) -> Self {
        Checked(result)
    }
}

/// An optional [`Checked`] field: absent, its value, or its fault.
pub fn given<T>(field: Option<Checked<T>>) -> Result<Option<T>, FieldError> {
    field.map(Checked::into_result).transpose()
}

/// A value one field holds, as ePay reads it. Implemented by the types a [`Checked`] field holds.
pub trait FieldValue: Sized {
    /// Reads the value; a refusal is raised inside the deserializer's visitor, so the
    /// deserializer names the field in it.
    fn read<'de, D: Deserializer<'de>>(field: D) -> Result<Self, D::Error>;
}

impl<'de, T: FieldValue> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Checked(T::read(deserializer).map_err(|e| FieldError(e.to_string()))))
    }
}

impl FieldValue for String {
    fn read<'de, D: Deserializer<'de>>(field: D) -> Result<Self, D::Error> {
        String::deserialize(field)
    }
}

impl FieldValue for bool {
    fn read<'de, D: Deserializer<'de>>(field: D) -> Result<Self, D::Error> {
        bool::deserialize(field)
    }
}

/// A JSON number or a numeric string, in major units, from its exact text.
impl FieldValue for Amount {
    fn read<'de, D: Deserializer<'de>>(field: D) -> Result<Self, D::Error> {
        field.deserialize_newtype_struct(NUMBER_TEXT, Parse::<Amount>(PhantomData))
    }
}

/// A currency code in any case (`KZT`, `kzt`).
impl FieldValue for Currency {
    fn read<'de, D: Deserializer<'de>>(field: D) -> Result<Self, D::Error> {
        field.deserialize_str(Parse::<Currency>(PhantomData))
    }
}

/// The value of a text field read with the type's own parser.
trait ParseText: Sized {
    type Err: fmt::Display;
    fn parse_text(text: &str) -> Result<Self, Self::Err>;
}

impl ParseText for Amount {
    type Err = epay_domain::MoneyError;
    fn parse_text(text: &str) -> Result<Self, Self::Err> {
        Amount::parse_major(text)
    }
}

impl ParseText for Currency {
    type Err = <Currency as FromStr>::Err;
    fn parse_text(text: &str) -> Result<Self, Self::Err> {
        text.parse()
    }
}

struct Parse<T>(PhantomData<T>);

impl<'de, T: ParseText> Visitor<'de> for Parse<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a text")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        T::parse_text(text).map_err(E::custom)
    }

    /// Another deserializer hands over a newtype's content.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

/// An object field: absent or not an object (refused as ePay refuses the request's shape), or
/// the object read into `T`, or the first fault inside it (which ePay may report differently,
/// with the order it belongs to).
#[derive(Debug, Clone, PartialEq)]
pub enum Nested<T> {
    /// `field X is required`, `field X must be a JSON object`.
    Refused(FieldError),
    Read(Result<T, FieldError>),
}

impl<T> Nested<T> {
    /// The object's own fault first, then its content's.
    pub fn object(self) -> Result<Result<T, FieldError>, FieldError> {
        match self {
            Nested::Refused(e) => Err(e),
            Nested::Read(content) => Ok(content),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Content<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Content<T> {
            type Value = Nested<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, object: D) -> Result<Nested<T>, D::Error> {
                Ok(Nested::Read(T::deserialize(object).map_err(|e| FieldError(e.to_string()))))
            }
        }
        match deserializer.deserialize_newtype_struct(OBJECT, Content(PhantomData)) {
            Ok(nested) => Ok(nested),
            Err(refused) => Ok(Nested::Refused(FieldError(refused.to_string()))),
        }
    }
}

/// For a field whose wrong type reads as absent (`#[serde(default, deserialize_with = …)]`):
/// ePay then answers that the field is required.
pub fn or_none<'de, D: Deserializer<'de>, T: Deserialize<'de>>(field: D) -> Result<Option<T>, D::Error> {
    Ok(T::deserialize(field).ok())
}

/// The newtype name under which [`FieldValue`] for [`Amount`] asks for a number's text.
const NUMBER_TEXT: &str = "$epay::lenient::NumberText";
/// The newtype name under which [`Nested`] asks for an object.
const OBJECT: &str = "$epay::lenient::Object";

/// A refusal. `located` once it names its field (or the body).
#[derive(Debug)]
pub struct Error {
    message: String,
    located: bool,
}

impl Error {
    fn at(message: String) -> Error {
        Error { message, located: true }
    }

    /// The error as the field `name` reports it.
    fn in_field(self, name: &str) -> Error {
        match self.located {
            true => self,
            false => Error::at(format!("field {name}: {}", self.message)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<M: fmt::Display>(message: M) -> Error {
        Error { message: message.to_string(), located: false }
    }

    fn missing_field(field: &'static str) -> Error {
        Error::at(format!("field {} is required", first_spelling(field)))
    }
}

/// The name a field is known by: the first of its spellings.
fn first_spelling(declared: &str) -> &str {
    declared.split('|').next().unwrap_or(declared)
}

/// The value in `fields` of the field declared as `declared` (`"id|invoiceId"`), as ePay finds
/// it: the first spelling present exactly, else the first name (in name order) that equals a
/// spelling in another case. Nulls are absent.
fn lookup<'a>(fields: &'a BTreeMap<String, Node>, declared: &str) -> Option<&'a Node> {
    let present = |node: &&Node| !matches!(node, Node::Null);
    // Split once: the scan in another case compares every key sent with each spelling (splitting
    // again for each key was 2.6% of flow 1's instructions: each request reads dozens of fields).
    let spellings: Vec<&str> = declared.split('|').collect();
    spellings.iter().find_map(|&name| fields.get(name).filter(present)).or_else(|| {
        fields
            .iter()
            .find(|(key, node)| present(node) && spellings.iter().any(|name| key.eq_ignore_ascii_case(name)))
            .map(|(_, node)| node)
    })
}

/// A JSON object or a form: the body, or an object field (`name`).
struct ObjectDe<'a> {
    fields: &'a BTreeMap<String, Node>,
    name: Option<&'a str>,
}

impl<'de, 'a> Deserializer<'de> for ObjectDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// Every field present, by the name it was sent with.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries = self
            .fields
            .iter()
            .filter(|(_, node)| !matches!(node, Node::Null))
            .map(|(key, node)| (key.as_str(), key.as_str(), node))
            .collect();
        visitor.visit_map(Entries { entries, next: None }).map_err(|e| self.locate(e))
    }

    /// Each declared field, in the order declared, with the value of its spelling.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        declared: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries =
            declared.iter().filter_map(|d| lookup(self.fields, d).map(|node| (*d, first_spelling(d), node))).collect();
        visitor.visit_map(Entries { entries, next: None }).map_err(|e| self.locate(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

impl ObjectDe<'_> {
    /// A fault the object's own visitor raised, named after the object.
    fn locate(&self, error: Error) -> Error {
        match self.name {
            Some(name) => error.in_field(name),
            None => error,
        }
    }
}

/// The fields a visitor reads: (declared name, name in errors, value).
struct Entries<'a> {
    entries: std::collections::VecDeque<(&'a str, &'a str, &'a Node)>,
    next: Option<(&'a str, &'a Node)>,
}

impl<'de, 'a> de::MapAccess<'de> for Entries<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((declared, name, node)) = self.entries.pop_front() else { return Ok(None) };
        self.next = Some((name, node));
        seed.deserialize(StrDeserializer::<Error>::new(declared)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (name, node) = self.next.take().ok_or_else(|| Error::at("a value without its field".into()))?;
        seed.deserialize(ValueDe { node, name })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The value of the field `name`.
struct ValueDe<'a> {
    node: &'a Node,
    name: &'a str,
}

impl<'a> ValueDe<'a> {
    fn refused(&self, rule: &str) -> Error {
        Error::at(format!("field {} {rule}", self.name))
    }

    /// A number field's text: a JSON number's digits, or a string.
    fn number_text(&self) -> Result<&'a str, Error> {
        match self.node {
            Node::Number(text) | Node::String(text) => Ok(text),
            _ => Err(self.refused("must be a number")),
        }
    }

    /// A number of a Rust type (`seconds: i64`), from its text.
    fn number<T: FromStr>(&self) -> Result<T, Error> {
        let text = self.number_text()?;
        text.trim().parse().map_err(|_| self.refused("must be a number"))
    }
}

/// Visits with `$call`, naming the field in a fault the visitor raises.
macro_rules! visit {
    ($self:ident, $call:expr) => {{
        let name = $self.name;
        $call.map_err(|e: Error| e.in_field(name))
    }};
}

macro_rules! numbers {
    ($($deserialize:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $deserialize<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let number = self.number::<$ty>()?;
            visit!(self, visitor.$visit(number))
        }
    )*};
}

impl<'de, 'a> Deserializer<'de> for ValueDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Null => visit!(self, visitor.visit_unit()),
            Node::Bool(b) => visit!(self, visitor.visit_bool(*b)),
            Node::Number(text) => match (text.parse::<u64>(), text.parse::<i64>()) {
                (Ok(n), _) => visit!(self, visitor.visit_u64(n)),
                (_, Ok(n)) => visit!(self, visitor.visit_i64(n)),
                _ => {
                    let n = self.number::<f64>()?;
                    visit!(self, visitor.visit_f64(n))
                }
            },
            Node::String(s) => visit!(self, visitor.visit_str(s)),
            Node::Array(_) => self.deserialize_seq(visitor),
            Node::Object(_) => self.deserialize_map(visitor),
        }
    }

    /// `true`, `false`, or their text (`""` is false): forms carry only text.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let b = match self.node {
            Node::Bool(b) => *b,
            Node::String(s) if s.eq_ignore_ascii_case("true") => true,
            Node::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => false,
            _ => return Err(self.refused("must be a Boolean")),
        };
        visit!(self, visitor.visit_bool(b))
    }

    numbers! {
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16, deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64, deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16, deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64, deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32, deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// Text, or a JSON number as its exact digits.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::String(s) | Node::Number(s) => visit!(self, visitor.visit_str(s)),
            _ => Err(self.refused("must be a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Null => visit!(self, visitor.visit_none()),
            _ => visit!(self, visitor.visit_some(self)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Null => visit!(self, visitor.visit_unit()),
            _ => Err(self.refused("must be null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        match name {
            NUMBER_TEXT => {
                let text = self.number_text()?;
                visit!(self, visitor.visit_str(text))
            }
            OBJECT => match self.node {
                Node::Object(fields) => visitor.visit_newtype_struct(ObjectDe { fields, name: Some(self.name) }),
                _ => Err(self.refused("must be a JSON object")),
            },
            _ => visit!(self, visitor.visit_newtype_struct(self)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Array(items) => {
                let items = items.iter().map(|node| ValueDe { node, name: self.name });
                visit!(self, visitor.visit_seq(de::value::SeqDeserializer::new(items)))
            }
            _ => Err(self.refused("must be an array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Object(fields) => ObjectDe { fields, name: Some(self.name) }.deserialize_map(visitor),
            _ => Err(self.refused("must be a JSON object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        declared: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.node {
            Node::Object(fields) => {
                ObjectDe { fields, name: Some(self.name) }.deserialize_struct(name, declared, visitor)
            }
            _ => Err(self.refused("must be a JSON object")),
        }
    }

    /// A unit variant, by its text (`"TYPEPAN"`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.node {
            Node::String(s) => visit!(self, visitor.visit_enum(s.as_str().into_deserializer())),
            _ => Err(self.refused("must be a string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

impl<'de, 'a> IntoDeserializer<'de, Error> for ValueDe<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests;
