//! Enums stored and sent as fixed words (`AUTH`, `p2p`, `pending`, …). Each word is
//! written once, in the enum's definition: `as_str` writes it, `FromStr` reads it back and refuses
//! any other text, so a value the code does not know can never pass for one it does.

/// A text that names no value of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct Unknown {
    /// What was read (`transaction status`, `payment kind`, …).
    pub what: &'static str,
    pub value: String,
}

impl Unknown {
    pub fn new(what: &'static str, value: &str) -> Unknown {
        Unknown { what, value: value.to_string() }
    }
}

/// Defines a fieldless enum whose every variant is written as one fixed word: `ALL` (every
/// value, in declaration order), `as_str`, `Display`, `Serialize` (the word) and a strict `FromStr`
/// (exact text only).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word that stands for this value in the database and on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Written as its word, for a wire or log struct that keeps the value typed.
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::text_enum::Unknown;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $( $text => Ok($name::$variant), )+
                    other => Err($crate::text_enum::Unknown::new($what, other)),
                }
            }
        }
    };
}

pub(crate) use text_enum;

/// Checks, for a test, that every value of a text enum reads back from its word, serializes as
/// that word, and that other words are refused.
#[cfg(test)]
pub(crate) fn assert_round_trip<T>(all: &[T], refused: &[&str])
where
    T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr<Err = Unknown> + serde::Serialize,
{
    let mut words = std::collections::HashSet::new();
    for value in all {
        let word = value.to_string();
        assert_eq!(word.parse::<T>(), Ok(*value), "{word}");
        assert_eq!(serde_json::to_string(value).unwrap(), format!("{word:?}"), "{word}");
        assert!(words.insert(word.clone()), "{word} stands for two values");
    }
    for word in refused {
        let err = word.parse::<T>().expect_err(word);
        assert_eq!(err.value, *word);
    }
}
