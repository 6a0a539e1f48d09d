//! Small declarative macros that keep string codes and field names in one place.

/// Declares a fieldless enum whose variants have stable string codes.
///
/// The codes are what documents store and what logs and JSON show; the
/// variant order is what the binary protocol encodes, so new variants go at
/// the end. Generates `ALL`, `as_str`, `Display`, `FromStr` (with
/// [`crate::error::UnknownCode`]), serde's `Serialize` (the code in
/// human-readable formats, the variant index in binary ones, as the derive
/// would), and a `Deserialize` that, in human-readable formats (JSON), takes
/// the code in any ASCII case (`HIGH`, `In_Progress`: unambiguous, so a
/// person's typing is not refused) and in binary ones (the sync protocol)
/// reads the variant index.
///
/// An enum the wire carries from a newer peer may end with a fallback
/// clause, `unknown Unknown = "unknown";` after its braces: the enum gains
/// that variant, and a code or index this build does not know decodes to
/// it instead of failing the whole frame (a newer server's reject reason
/// reaches an older phone as `Unknown`, with the server's message beside
/// it). The fallback is not in `ALL`, `FromStr` does not accept its code
/// (nothing may claim to be unknown on purpose), and in binary formats it
/// encodes as index `u32::MAX`, which no real variant ever takes, so
/// variants added later keep the next free index.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
    ) => {
        string_enum! {
            @enum
            $(#[$meta])*
            $vis enum $name {
                $( $(#[$vmeta])* $variant = $code ),+
            }
            fallback {}
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
        $(#[$fmeta:meta])*
        unknown $fallback:ident = $fcode:literal;
    ) => {
        string_enum! {
            @enum
            $(#[$meta])*
            $vis enum $name {
                $( $(#[$vmeta])* $variant = $code ),+
            }
            fallback { $(#[$fmeta])* $fallback = $fcode }
        }
    };
    (@fallback $name:ident) => { None };
    (@fallback $name:ident $fallback:ident) => { Some($name::$fallback) };
    (
        @enum
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal ),+
        }
        fallback { $( $(#[$fmeta:meta])* $fallback:ident = $fcode:literal )? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "utoipa", serde(rename_all = "snake_case"))]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            $( $(#[$fmeta])* $fallback, )?
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_unit_variant(stringify!($name), self.wire_index(), self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const CODES: &[&str] = &[$($code),+];
                let unknown = |e: D::Error| $name::FALLBACK.ok_or(e);
                if d.is_human_readable() {
                    let s = <String as serde::Deserialize>::deserialize(d)?;
                    $( if s.eq_ignore_ascii_case($code) {
                        return Ok($name::$variant);
                    } )+
                    unknown(<D::Error as serde::de::Error>::unknown_variant(&s, CODES))
                } else {
                    let index = $crate::macros::variant_index(d, stringify!($name), CODES)?;
                    match usize::try_from(index).ok().and_then(|i| $name::ALL.get(i)) {
                        Some(known) => Ok(*known),
                        None => unknown(<D::Error as serde::de::Error>::invalid_value(
                            serde::de::Unexpected::Unsigned(u64::from(index)),
                            &"a known variant index",
                        )),
                    }
                }
            }
        }

        impl $name {
            /// Every variant this build knows, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// What a code or index this build does not know decodes to.
            pub const FALLBACK: Option<$name> = string_enum!(@fallback $name $($fallback)?);

            /// The stable string code of this variant.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $code, )+
                    $( $name::$fallback => $fcode, )?
                }
            }

            /// The index the binary protocol encodes: the declaration
            /// order, or `u32::MAX` for a fallback.
            const fn wire_index(self) -> u32 {
                let mut i = 0;
                while i < Self::ALL.len() {
                    if Self::ALL[i] as u32 == self as u32 {
                        return i as u32;
                    }
                    i += 1;
                }
                u32::MAX
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

/// Reads the variant index of a unit variant of enum `name` from a binary
/// format, whatever the index: [`string_enum!`] decides what an index it
/// does not know means.
pub(crate) fn variant_index<'de, D: serde::Deserializer<'de>>(
    d: D,
    name: &'static str,
    variants: &'static [&'static str],
) -> Result<u32, D::Error> {
    struct Index;
    impl<'de> serde::de::Visitor<'de> for Index {
        type Value = u32;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a unit variant")
        }

        fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<u32, A::Error> {
            use serde::de::VariantAccess;
            let (index, variant) = data.variant::<u32>()?;
            variant.unit_variant()?;
            Ok(index)
        }
    }
    d.deserialize_enum(name, variants, Index)
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
