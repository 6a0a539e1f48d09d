//! What a device's lists show of a document: its [`Listing`].
//!
//! A phone answers "my visits", "the pool by distance" and "my tickets"
//! from an index of one row per document, not by opening each document.
//! The row is derived from the document alone, so both sides compute it
//! with [`Listing::of`]: the phone whenever it changes a document, the
//! server whenever it stores one. The server sends its listing beside a
//! whole document ([`crate::protocol::ListedSnapshot`]), and a phone
//! receiving a document it has never seen writes the index row from it
//! without loading the document into Automerge: an initial sync of tens of
//! thousands of documents then costs their storage, not their parsing.
//!
//! The one part of a row that depends on who reads it, "assigned to me",
//! is carried as the [`Listing::people`] it names, and each device asks
//! [`Listing::names`] about its own user.

use serde::{Deserialize, Serialize};

use crate::docs::Document;
use crate::docs::visit::AssignmentState;
use crate::error::LimitExceeded;
use crate::ids::{DocId, DocKind, UserId};
use crate::protocol::{limit, limits};

/// The format of a listing kept beside a document ([`Listing::to_bytes`]).
/// Bump it when what [`Listing::of`] computes changes (a title's form, a
/// sort key's), so listings a server kept before are not sent beside ones
/// computed the new way; their devices read those documents instead.
pub const STORED_FORMAT: u8 = 1;

/// A document's list fields. What [`Listing::of`] computes is part of the
/// protocol: a phone shows a server's listing as it would its own. The
/// wire form is fixed like every message's (a new field needs a new
/// message variant and protocol version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// What a list shows first: a visit's title, a ticket's number and
    /// subject, a photo's caption.
    pub title: String,
    /// The document's status code (a visit's `open`, a photo's upload
    /// state); `unreadable` for a document this build cannot read.
    pub status: String,
    /// Lists sort by this, ascending: a visit's scheduled start, a ticket's
    /// last update (zero-padded milliseconds).
    pub sort_key: String,
    /// Where it is, for lists by distance: a visit's site, a check-in's fix.
    pub place: Option<Place>,
    /// The document it belongs to: a visit's ticket, a photo's owner, a
    /// check-in's visit.
    pub parent: Option<DocId>,
    /// Whose it is: a visit's technicians holding a seat, a ticket's
    /// customer, a photo's author, a check-in's technician.
    pub people: Vec<UserId>,
}

/// A point on the earth, WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

impl Listing {
    /// The listing of `document`.
    pub fn of(document: &Document) -> Listing {
        let base = |title: String, status: &str, sort_key: String| Listing {
            title,
            status: status.to_owned(),
            sort_key,
            place: None,
            parent: None,
            people: Vec::new(),
        };
        match document {
            Document::Visit(v) => Listing {
                place: Some(Place {
                    lat: v.site.lat,
                    lon: v.site.lon,
                }),
                parent: v.ticket_id,
                people: v
                    .assignments
                    .iter()
                    .filter(|a| a.state != AssignmentState::Released)
                    .map(|a| a.technician_id)
                    .collect(),
                ..base(
                    v.title.clone(),
                    v.status.as_str(),
                    v.scheduled_start.to_string(),
                )
            },
            Document::Ticket(t) => Listing {
                people: vec![t.customer_id],
                ..base(
                    if t.number.is_pending() {
                        // Not numbered by the server yet.
                        t.subject.clone()
                    } else {
                        format!("{} {}", t.number, t.subject)
                    },
                    t.status.as_str(),
                    format!("{:020}", t.updated_at_ms),
                )
            },
            Document::CheckIn(c) => Listing {
                people: vec![c.technician_id],
                parent: Some(c.visit_id),
                place: Some(Place {
                    lat: c.lat,
                    lon: c.lon,
                }),
                ..base(
                    c.direction.as_str().to_owned(),
                    c.direction.as_str(),
                    format!("{:020}", c.device_time_ms),
                )
            },
            Document::Photo(p) => Listing {
                people: vec![p.author_id],
                parent: Some(p.owner.id),
                ..base(
                    p.caption.clone(),
                    p.upload_state.as_str(),
                    format!("{:020}", p.taken_at_ms),
                )
            },
            Document::StaffNotes(n) => Listing {
                parent: Some(n.ticket_id),
                ..base(String::new(), "", String::new())
            },
            Document::Invoice(i) => base(
                i.number.clone(),
                i.status.as_str(),
                format!("{:020}", i.sent_at_ms),
            ),
            Document::Journey(j) => base(
                j.definition.title.id.clone(),
                j.status.as_str(),
                j.definition.title.id.clone(),
            ),
        }
    }

    /// The listing of a document that cannot be read (from a newer schema,
    /// or broken): kept, and listed under its kind.
    pub fn unreadable(kind: DocKind) -> Listing {
        Listing {
            title: kind.as_str().to_owned(),
            status: "unreadable".to_owned(),
            sort_key: String::new(),
            place: None,
            parent: None,
            people: Vec::new(),
        }
    }

    /// Whether the document is `user`'s (held, authored, theirs).
    pub fn names(&self, user: UserId) -> bool {
        self.people.contains(&user)
    }

    /// Whether every field is within the protocol's limits. A server sends
    /// a listing only when it is; a device without one reads the document.
    pub fn check_limits(&self) -> Result<(), LimitExceeded> {
        use limits::*;
        limit("listing.title", self.title.len(), MAX_TEXT_BYTES)?;
        limit("listing.status", self.status.len(), MAX_FIELD_BYTES)?;
        limit("listing.sort_key", self.sort_key.len(), MAX_TEXT_BYTES)?;
        limit("listing.people", self.people.len(), MAX_LISTING_PEOPLE)
    }

    /// The listing as bytes to keep beside a document: a format byte
    /// ([`STORED_FORMAT`]), then its wire encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![STORED_FORMAT]).unwrap_or_default()
    }

    /// A listing kept with [`Listing::to_bytes`]; `None` when the bytes are
    /// not one of this build's format (kept by another build: the device
    /// then reads the document).
    pub fn from_bytes(bytes: &[u8]) -> Option<Listing> {
        match bytes.split_first() {
            Some((&STORED_FORMAT, listing)) => postcard::from_bytes(listing).ok(),
            _ => None,
        }
    }

    /// About how many bytes the listing takes in a frame.
    pub fn wire_len(&self) -> usize {
        // Lengths, place, parent, 16 bytes an id.
        32 + self.title.len() + self.status.len() + self.sort_key.len() + 16 * self.people.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::docs::DocumentSchema;
    use crate::docs::ticket::TicketNumber;
    use crate::docs::visit::{Assignment, AssignmentState};
    use crate::ids::AssignmentId;
    use crate::testing::{sample_check_in, sample_photo, sample_ticket, sample_visit};

    #[test]
    fn a_visit_is_listed_by_its_site_and_start_and_names_whoever_holds_a_seat() {
        let mut visit = sample_visit();
        let holder = visit.assignments[0].technician_id;
        let gone = UserId::new();
        visit.assignments.push(Assignment {
            assignment_id: AssignmentId::new(),
            technician_id: gone,
            state: AssignmentState::Released,
        });
        let listing = Listing::of(&Document::Visit(visit.clone()));
        assert_eq!(listing.title, "Replace boiler valve");
        assert_eq!(listing.status, "assigned");
        assert_eq!(listing.sort_key, "2026-11-24");
        assert_eq!(
            listing.place,
            Some(Place {
                lat: 40.4168,
                lon: -3.7038
            })
        );
        assert_eq!(listing.parent, visit.ticket_id);
        assert!(listing.names(holder));
        assert!(!listing.names(gone), "a released seat is not theirs");
    }

    #[test]
    fn a_ticket_not_numbered_yet_is_listed_by_its_subject() {
        let mut ticket = sample_ticket();
        let numbered = Listing::of(&Document::Ticket(ticket.clone()));
        assert_eq!(numbered.title, "TKT-000123 Boiler leaking");
        assert_eq!(numbered.sort_key, format!("{:020}", ticket.updated_at_ms));
        assert!(numbered.names(ticket.customer_id));
        ticket.number = TicketNumber::pending();
        assert_eq!(
            Listing::of(&Document::Ticket(ticket)).title,
            "Boiler leaking"
        );
    }

    #[test]
    fn check_ins_and_photos_belong_to_what_they_record() {
        let check_in = sample_check_in();
        let listing = Listing::of(&Document::CheckIn(check_in.clone()));
        assert_eq!(listing.parent, Some(check_in.visit_id));
        assert!(listing.names(check_in.technician_id));
        assert!(listing.place.is_some());
        let photo = sample_photo();
        let listing = Listing::of(&Document::Photo(photo.clone()));
        assert_eq!(listing.parent, Some(photo.owner.id));
        assert_eq!(listing.status, photo.upload_state.as_str());
        assert!(listing.names(photo.author_id));
    }

    #[test]
    fn a_listing_kept_beside_a_document_reads_back_as_it_was() {
        let listing = Listing::of(&Document::Visit(sample_visit()));
        assert_eq!(
            Listing::from_bytes(&listing.to_bytes()),
            Some(listing.clone())
        );
        assert_eq!(Listing::from_bytes(&[0xff, 0xff, 0xff]), None);
        assert_eq!(Listing::from_bytes(&[]), None);
        let mut other_format = listing.to_bytes();
        other_format[0] = STORED_FORMAT + 1;
        assert_eq!(Listing::from_bytes(&other_format), None);
    }

    #[test]
    fn a_listing_past_the_protocol_limits_is_refused_naming_the_field() {
        let mut listing = Listing::of(&Document::Visit(sample_visit()));
        assert!(listing.check_limits().is_ok());
        listing.people = vec![UserId::new(); limits::MAX_LISTING_PEOPLE + 1];
        assert_eq!(listing.check_limits().unwrap_err().field, "listing.people");
        listing.people.clear();
        listing.title = "x".repeat(limits::MAX_TEXT_BYTES + 1);
        assert_eq!(listing.check_limits().unwrap_err().field, "listing.title");
    }

    #[test]
    fn what_the_server_lists_is_what_a_phone_reading_the_document_lists() {
        let visit = sample_visit();
        let mut doc = automerge::AutoCommit::new();
        visit.reconcile(&mut doc).unwrap();
        let saved = doc.save();
        let read = Document::hydrate(
            DocKind::Visit,
            &automerge::AutoCommit::load(&saved).unwrap(),
        )
        .unwrap();
        assert_eq!(Listing::of(&read), Listing::of(&Document::Visit(visit)));
    }
}
