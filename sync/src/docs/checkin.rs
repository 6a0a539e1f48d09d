//! The check-in document: one attendance record, a check-in or a check-out.
//!
//! One document per event keeps records immutable: a technician creates it
//! (or the server does, executing a check-in command) and nobody edits it
//! afterwards except the server, which records the geofence decision and
//! the time it received the record.

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header};
use crate::error::SchemaError;
use crate::ids::{DocId, DocKind, UserId};

document_fields! {
    /// The fields of a check-in document.
    pub enum Field {
        /// The visit attended.
        VisitId = "visit_id",
        /// Who checked in or out.
        TechnicianId = "technician_id",
        /// [`Direction`] code.
        Direction = "direction",
        /// The device clock at the event, Unix ms. May be wrong.
        DeviceTimeMs = "device_time_ms",
        /// When the server received the record, Unix ms. Server-owned.
        ReceivedAtMs = "received_at_ms",
        /// Latitude in degrees.
        Lat = "lat",
        /// Longitude in degrees.
        Lon = "lon",
        /// Horizontal accuracy radius in metres.
        AccuracyM = "accuracy_m",
        /// Whether the position was inside the site's geofence, as the
        /// server decided. Server-owned; absent until decided.
        WithinGeofence = "within_geofence",
    }
}

string_enum! {
    /// Arriving or leaving.
    pub enum Direction {
        /// Arrived on site.
        In = "in",
        /// Left the site.
        Out = "out",
    }
}

/// One check-in or check-out.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    /// The visit attended.
    pub visit_id: DocId,
    /// Who.
    pub technician_id: UserId,
    /// In or out.
    pub direction: Direction,
    /// Device clock, Unix ms.
    pub device_time_ms: i64,
    /// Server receipt time, Unix ms; set by the server.
    pub received_at_ms: Option<i64>,
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
    /// Accuracy radius in metres, ≥ 0.
    pub accuracy_m: f64,
    /// The server's geofence decision.
    pub within_geofence: Option<bool>,
}

impl DocumentSchema for CheckIn {
    const KIND: DocKind = DocKind::CheckIn;
    const SCHEMA_VERSION: u64 = 1;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        let in_range = |field: Field, min: f64, max: f64| -> Result<f64, SchemaError> {
            let value = root.f64(field.key())?;
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(SchemaError::invalid(field.key(), "out of range"))
            }
        };
        Ok(CheckIn {
            visit_id: root.parse(Field::VisitId.key())?,
            technician_id: root.parse(Field::TechnicianId.key())?,
            direction: root.parse(Field::Direction.key())?,
            device_time_ms: root.i64(Field::DeviceTimeMs.key())?,
            received_at_ms: root.opt_i64(Field::ReceivedAtMs.key())?,
            lat: in_range(Field::Lat, -90.0, 90.0)?,
            lon: in_range(Field::Lon, -180.0, 180.0)?,
            accuracy_m: in_range(Field::AccuracyM, 0.0, f64::MAX)?,
            within_geofence: match root.has(Field::WithinGeofence.key())? {
                true => Some(root.bool(Field::WithinGeofence.key())?),
                false => None,
            },
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put_display(Field::VisitId.key(), &self.visit_id)?;
        root.put_display(Field::TechnicianId.key(), &self.technician_id)?;
        root.put(Field::Direction.key(), self.direction.as_str())?;
        root.put(Field::DeviceTimeMs.key(), self.device_time_ms)?;
        root.put_opt(Field::ReceivedAtMs.key(), self.received_at_ms)?;
        root.put(Field::Lat.key(), self.lat)?;
        root.put(Field::Lon.key(), self.lon)?;
        root.put(Field::AccuracyM.key(), self.accuracy_m)?;
        root.put_opt(Field::WithinGeofence.key(), self.within_geofence)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use automerge::ROOT;
    use automerge::transaction::Transactable;

    use super::*;
    use crate::testing::sample_check_in;

    #[test]
    fn round_trips_and_rejects_impossible_positions() {
        let record = sample_check_in();
        let mut doc = record.to_document().unwrap();
        assert_eq!(CheckIn::hydrate(&doc).unwrap(), record);
        doc.put(ROOT, Field::Lat.key(), 91.5).unwrap();
        assert!(matches!(
            CheckIn::hydrate(&doc),
            Err(SchemaError::InvalidValue { field, .. }) if field == "lat"
        ));
    }
}
