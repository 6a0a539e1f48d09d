//! Positions, distances and the device-side geofence check.
//!
//! Distances are great-circle (Haversine) distances from the `geo` crate:
//! good to a few metres at the scale of a site, which is all a geofence
//! needs. The server evaluates the same check on receipt and its decision
//! is the one recorded; the device's is a hint shown before sending.

use geo::{Distance, Haversine, Point};

use crate::error::{CoreError, Result};

/// A technician must be within this distance of the site, plus the fix's
/// accuracy radius, for a check-in to count as on site.
pub const GEOFENCE_RADIUS_M: f64 = 200.0;

/// A fix is too vague to decide anything beyond this accuracy radius.
pub const MAX_USEFUL_ACCURACY_M: f64 = 1_000.0;

/// A validated position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
}

impl Position {
    /// Checks the ranges.
    pub fn new(lat: f64, lon: f64) -> Result<Self> {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(CoreError::invalid("lat", "must be within -90..=90"));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(CoreError::invalid("lon", "must be within -180..=180"));
        }
        Ok(Position { lat, lon })
    }

    fn point(self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }

    /// Great-circle distance in metres.
    pub fn distance_m(self, other: Position) -> f64 {
        Haversine.distance(self.point(), other.point())
    }
}

/// The device's verdict on a check-in or check-out position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeofenceCheck {
    /// Distance from the fix to the site, metres.
    pub distance_m: f64,
    /// Whether the fix is within the fence, counting its accuracy.
    pub within: bool,
}

/// Evaluates the geofence for a fix with `accuracy_m` at `at` against `site`.
pub fn check_geofence(at: Position, accuracy_m: f64, site: Position) -> Result<GeofenceCheck> {
    if !(accuracy_m.is_finite() && accuracy_m >= 0.0) {
        return Err(CoreError::invalid(
            "accuracy_m",
            "must be a finite number ≥ 0",
        ));
    }
    let distance_m = at.distance_m(site);
    let slack = accuracy_m.min(MAX_USEFUL_ACCURACY_M);
    Ok(GeofenceCheck {
        distance_m,
        within: distance_m <= GEOFENCE_RADIUS_M + slack,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn distances_are_haversine_metres() {
        // Monas to Bundaran HI, Jakarta: about 2.1 km.
        let monas = Position::new(-6.1754, 106.8272).unwrap();
        let hi = Position::new(-6.1950, 106.8230).unwrap();
        let d = monas.distance_m(hi);
        assert!((2_100.0..2_300.0).contains(&d), "{d}");
        assert_eq!(monas.distance_m(monas), 0.0);
    }

    #[test]
    fn geofence_counts_accuracy_and_rejects_nonsense() {
        let site = Position::new(-6.2, 106.8).unwrap();
        let near = Position::new(-6.2015, 106.8).unwrap(); // ~167 m
        let far = Position::new(-6.2030, 106.8).unwrap(); // ~334 m
        assert!(check_geofence(near, 5.0, site).unwrap().within);
        assert!(!check_geofence(far, 5.0, site).unwrap().within);
        assert!(check_geofence(far, 150.0, site).unwrap().within);
        assert!(Position::new(91.0, 0.0).is_err());
        assert!(Position::new(0.0, f64::NAN).is_err());
        assert!(check_geofence(near, -1.0, site).is_err());
    }
}
