//! Webhook decoding on any body: the first byte picks the event type header, the rest is the
//! body. Decoding never panics, and an event it yields survives the trip through the inbox (its
//! JSON payload decodes back to the same event, which a worker relies on).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sopbot::bot::event::Event;
use sopbot::gitea::webhook::{decode, decode_coarse, Decoded};

const EVENT_TYPES: [&str; 9] = [
    "pull_request_comment",
    "pull_request",
    "pull_request_sync",
    "pull_request_review_approved",
    "pull_request_review_rejected",
    "issue_comment",
    "pull_request_approved",
    "status",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let event_type = EVENT_TYPES[pick as usize % EVENT_TYPES.len()];
    for decoded in [decode(event_type, body), decode_coarse(event_type, body)] {
        if let Ok(Decoded::Event(event)) = decoded {
            assert!(!event.dedup_key().is_empty());
            let stored = event.to_json();
            let back: Event = serde_json::from_str(&stored).expect("an inbox payload decodes");
            assert_eq!(back, event);
        }
    }
});
