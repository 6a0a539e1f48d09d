//! Small declarative macros that keep string codes and field names in one place.

/// Declares a fieldless enum whose variants have stable string codes.
///
/// The codes are what documents store and what logs and JSON show; the
/// variant order is what the binary protocol encodes, so new variants go at
/// the end. Generates `ALL`, `as_str`, `Display`, `FromStr` (with
/// [`crate::error::UnknownCode`]), serde's `Serialize` in snake case, and a
/// `Deserialize` that, in human-readable formats (JSON), takes the code in
/// any ASCII case (`HIGH`, `In_Progress`: unambiguous, so a person's typing
/// is not refused) and in binary ones (the sync protocol) reads the variant
/// index exactly as the derive would.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                /// The derive's encoding, for binary formats.
                #[derive(serde::Deserialize)]
                enum Wire {
                    $( $variant ),+
                }
                const CODES: &[&str] = &[$($code),+];
                if d.is_human_readable() {
                    let s = <String as serde::Deserialize>::deserialize(d)?;
                    $( if s.eq_ignore_ascii_case($code) {
                        return Ok($name::$variant);
                    } )+
                    Err(<D::Error as serde::de::Error>::unknown_variant(&s, CODES))
                } else {
                    Ok(match <Wire as serde::Deserialize>::deserialize(d)? {
                        $( Wire::$variant => $name::$variant ),+
                    })
                }
            }
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable string code of this variant.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::convert::TryFrom<String> for $name {
            type Error = $crate::error::UnknownCode;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::error::UnknownCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok($name::$variant),)+
                    other => Err($crate::error::UnknownCode {
                        kind: stringify!($name),
                        code: other.chars().take(64).collect(),
                    }),
                }
            }
        }
    };
}

/// Declares the field enum of one document kind: the only place where that
/// kind's Automerge keys are spelled out.
///
/// Every document root also carries `kind` and `schema_version`; the macro
/// adds those two variants so that rules can name them like any other field.
macro_rules! document_fields {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $key:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            /// The document kind marker, written once at creation.
            Kind,
            /// The schema version the document was last written with.
            SchemaVersion,
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every field of this kind, in declaration order.
            pub const ALL: &'static [$name] =
                &[$name::Kind, $name::SchemaVersion, $($name::$variant),+];

            /// The key of this field in the document's root map.
            pub const fn key(self) -> &'static str {
                match self {
                    $name::Kind => $crate::docs::KIND_KEY,
                    $name::SchemaVersion => $crate::docs::SCHEMA_VERSION_KEY,
                    $($name::$variant => $key),+
                }
            }

            /// The field stored under `key`, if this kind has one.
            pub fn from_key(key: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|field| field.key() == key)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.key())
            }
        }
    };
}
