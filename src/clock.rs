//! The bot's one clock. Two kinds of time are read from it: the wall-clock time the store writes
//! into rows (waivers, audit, the inbox's retry times), and the monotonic time the team
//! directory ages its caches by (immune to the wall clock being set back). They stay two
//! readings because they answer two questions, but one [`Clock`] gives both, so a test that
//! moves time moves them together.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Where "now" comes from: the system's clocks, or (tests) a time moved by hand.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system's clocks.
    manual: Option<Arc<Mutex<Manual>>>,
}

/// A hand-moved time: both readings move only by [`Clock::advance`].
struct Manual {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Clock {
    /// The system's clocks ([`Utc::now`], [`Instant::now`]).
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `start` (and the current instant) until it is advanced.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        let manual = Manual {
            wall: start,
            mono: Instant::now(),
        };
        Clock {
            manual: Some(Arc::new(Mutex::new(manual))),
        }
    }

    /// Wall-clock time, for what is stored and shown.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(m) => m.lock().unwrap_or_else(|e| e.into_inner()).wall,
        }
    }

    /// Monotonic time, for measuring ages.
    pub fn instant(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(m) => m.lock().unwrap_or_else(|e| e.into_inner()).mono,
        }
    }

    /// Moves a manual clock forward by `by`, both readings.
    ///
    /// # Panics
    /// On the system clock, which only time moves.
    pub fn advance(&self, by: Duration) {
        let m = self
            .manual
            .as_ref()
            .expect("only a manual clock can be advanced");
        let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
        m.wall += chrono::Duration::from_std(by).expect("a duration chrono can hold");
        m.mono += by;
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_both_readings_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let (wall, mono) = (clock.now(), clock.instant());
        assert_eq!(wall, start);
        assert_eq!(clock.instant(), mono);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(61));
        assert_eq!(clock.instant() - mono, Duration::from_secs(61));
        // A copy is the same clock.
        clock.clone().advance(Duration::from_secs(1));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(62));
    }

    #[test]
    fn the_system_clock_follows_the_system() {
        let before = Utc::now();
        let now = Clock::system().now();
        assert!(now >= before && now <= Utc::now());
        let i = Instant::now();
        assert!(Clock::system().instant() >= i);
    }
}
