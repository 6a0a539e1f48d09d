//! Validated values at the edge: whatever reaches the storage layer is already
//! known to be well formed (E.164 phones, bounded text, coordinates in range,
//! roles and statuses from a closed set).

use std::fmt;

use fieldops_sync::text::{self, Shape};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// Defines a closed set of lowercase string codes shared by the API, the database
/// and the docs.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        /// The code in any ASCII case (`Admin`, `CS`): unambiguous.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
                    <D::Error as serde::de::Error>::unknown_variant(&s, &[$($code),+])
                })
            }
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($name)))
            }
        }
    };
}

code_enum!(
    /// What a user is allowed to do, broadly; the policy module decides the rest.
    Role {
        Admin => "admin",
        Cs => "cs",
        Sales => "sales",
        Technician => "technician",
        Customer => "customer",
    }
);

impl Role {
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Customer)
    }
}

code_enum!(
    /// Staff presence: only `available` staff receive chats, calls and tickets.
    Presence {
        Available => "available",
        Busy => "busy",
        Away => "away",
        Offline => "offline",
    }
);

code_enum!(
    /// Whether an account or a customer record is in use. Nothing is erased.
    Status {
        Active => "active",
        Inactive => "inactive",
    }
);

code_enum!(
    /// How a customer record came to be.
    CreatedVia {
        Manual => "manual",
        Whatsapp => "whatsapp",
        App => "app",
    }
);

/// How urgent a ticket is, and where a ticket is in its life: the sync
/// documents' own enums, so the server and the phones share one vocabulary
/// (and the ticket state machine, `TicketStatus::can_become`).
pub use fieldops_sync::docs::ticket::{Priority, TicketStatus};

/// A ticket number as people read it over the phone: `TKT-000123`.
pub fn ticket_number(seq: i64) -> String {
    format!("TKT-{seq:06}")
}

/// The sequence of `TKT-000123`, `tkt000123` or `123`.
pub fn parse_ticket_number(value: &str) -> Option<i64> {
    let v = value.trim().to_ascii_uppercase();
    let digits = v
        .strip_prefix("TKT-")
        .or_else(|| v.strip_prefix("TKT"))
        .or_else(|| v.strip_prefix('#'))
        .unwrap_or(&v);
    if digits.is_empty() || digits.len() > 12 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Collects field errors while a request body is turned into domain values.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the value of `result`, or records its error under `field` and
    /// returns a placeholder; call [`Validator::finish`] before using any value.
    pub fn check<T: Default>(&mut self, field: &str, result: Result<T, String>) -> T {
        result.unwrap_or_else(|message| {
            self.errors.push(FieldError::new(field, message));
            T::default()
        })
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Ok(())` if nothing failed, otherwise every collected error as a 422.
    pub fn finish(self) -> Result<(), crate::service::ServiceError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::service::ServiceError::Invalid(self.errors))
        }
    }
}

/// Trimmed running text (tabs and line breaks allowed) that is not empty and
/// at most `max` characters long. The rule is `fieldops_sync::text`'s, which
/// sync commands and documents follow too.
pub fn bounded_text(value: &str, max: usize) -> Result<String, String> {
    checked(value, Shape::Paragraph, max, true)
}

/// Trimmed running text of at most `max` characters; may be empty.
pub fn optional_text(value: &str, max: usize) -> Result<String, String> {
    checked(value, Shape::Paragraph, max, false)
}

/// A trimmed one-line label that is not empty: names, titles, subjects. No
/// line breaks, and none of the invisible characters that disguise a name
/// (bidi overrides, zero-width spaces).
pub fn line(value: &str, max: usize) -> Result<String, String> {
    checked(value, Shape::Line, max, true)
}

/// [`line`], but may be empty.
pub fn optional_line(value: &str, max: usize) -> Result<String, String> {
    checked(value, Shape::Line, max, false)
}

fn checked(value: &str, shape: Shape, max: usize, required: bool) -> Result<String, String> {
    let trimmed = value.trim();
    text::check(trimmed, shape, max, required).map_err(crate::i18n::describe)?;
    Ok(trimmed.to_owned())
}

/// A lowercased e-mail address with one `@`, a dotted domain and no spaces.
pub fn email(value: &str) -> Result<String, String> {
    let v = value.trim().to_lowercase();
    let valid = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(v)
    } else {
        Err(crate::t!("problem-email-invalid"))
    }
}

/// A phone number normalised to E.164 (`+6281234567890`). Numbers without a
/// country code are read in `default_region` (ISO 3166 code, e.g. `ID`).
pub fn phone_e164(value: &str, default_region: &str) -> Result<String, String> {
    let region = default_region.parse::<phonenumber::country::Id>().ok();
    let number =
        phonenumber::parse(region, value.trim()).map_err(|_| crate::t!("problem-phone-format"))?;
    if !phonenumber::is_valid(&number) {
        return Err(crate::t!("problem-phone-invalid"));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A password a person chose: 8 to 128 characters.
pub fn new_password(value: &str) -> Result<String, String> {
    match value.chars().count() {
        0..8 => Err(crate::t!("problem-password-too-short")),
        129.. => Err(crate::t!("problem-password-too-long")),
        _ => Ok(value.to_owned()),
    }
}

/// Where the work is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Site {
    pub address: String,
    /// Latitude in degrees, -90 to 90.
    pub lat: f64,
    /// Longitude in degrees, -180 to 180.
    pub lon: f64,
}

/// A WGS84 position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GeoPoint {
    /// Latitude in degrees, -90 to 90.
    pub lat: f64,
    /// Longitude in degrees, -180 to 180.
    pub lon: f64,
}

impl GeoPoint {
    pub fn validate(self) -> Result<Self, String> {
        if !(-90.0..=90.0).contains(&self.lat) || !self.lat.is_finite() {
            return Err(crate::t!("problem-geo-lat-range"));
        }
        if !(-180.0..=180.0).contains(&self.lon) || !self.lon.is_finite() {
            return Err(crate::t!("problem-geo-lon-range"));
        }
        Ok(self)
    }
}

/// Formats unix milliseconds as RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_to_e164() {
        assert_eq!(
            phone_e164("0812-3456-7890", "ID").as_deref(),
            Ok("+6281234567890")
        );
        assert_eq!(
            phone_e164("+62 812 3456 7890", "ID").as_deref(),
            Ok("+6281234567890")
        );
        assert!(phone_e164("12", "ID").is_err());
        assert!(phone_e164("not a phone", "ID").is_err());
        assert!(phone_e164("'; DROP TABLE users; --", "ID").is_err());
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            email(" Budi@Example.COM ").as_deref(),
            Ok("budi@example.com")
        );
        for bad in [
            "",
            "budi",
            "budi@",
            "@x.com",
            "a b@x.com",
            "a@x",
            "a@.x.com",
            "a@@x.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(bounded_text("  Budi  ", 10).as_deref(), Ok("Budi"));
        assert!(bounded_text("   ", 10).is_err());
        assert!(bounded_text(&"x".repeat(11), 10).is_err());
        assert!(bounded_text("a\u{0}b", 10).is_err());
        assert_eq!(
            bounded_text("baris 1\nbaris 2", 20).as_deref(),
            Ok("baris 1\nbaris 2")
        );
        assert!(line("Budi\nAdmin", 20).is_err());
        assert!(line("Budi\u{202E}nimdA", 20).is_err());
        assert!(line("Bu\u{200B}di", 20).is_err());
        assert_eq!(optional_line("  ", 20).as_deref(), Ok(""));
    }

    #[test]
    fn coordinates_are_range_checked() {
        assert!(
            GeoPoint {
                lat: -6.2,
                lon: 106.8
            }
            .validate()
            .is_ok()
        );
        assert!(
            GeoPoint {
                lat: 91.0,
                lon: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(
            GeoPoint {
                lat: 0.0,
                lon: f64::NAN
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn ticket_numbers_read_back() {
        assert_eq!(ticket_number(123), "TKT-000123");
        assert_eq!(ticket_number(1_234_567), "TKT-1234567");
        assert_eq!(parse_ticket_number("tkt-000123"), Some(123));
        assert_eq!(parse_ticket_number("123"), Some(123));
        assert_eq!(parse_ticket_number("printer"), None);
        assert!(TicketStatus::Resolved.can_become(TicketStatus::Open));
        assert!(!TicketStatus::Closed.can_become(TicketStatus::Open));
    }

    #[test]
    fn codes_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}

/// Who is acting: the signed-in account a request, a sync session or a
/// job acts for, as the services and the policy see it. Adapters make one
/// (the HTTP extractor in `auth::extract`, the sync session at `Hello`).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub session_id: String,
    pub role: Role,
    pub name: String,
    /// The customer record of a customer account.
    pub customer_id: Option<String>,
    pub department_ids: Vec<String>,
}

impl Actor {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    pub fn in_department(&self, department_id: &str) -> bool {
        self.department_ids.iter().any(|d| d == department_id)
    }
}
