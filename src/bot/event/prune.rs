//! Reading a webhook body into a [`Value`] that holds only the fields the decoders read. A
//! Gitea payload is 12–16 KiB of repository, user and PR objects of which sopbot needs a dozen
//! scalars; building all of it as a `Value` (an index map per object) was the largest CPU cost
//! of accepting a webhook. Everything else is still parsed, so a body that is not JSON is
//! refused as before, but it is skipped without being built.
//!
//! A kept key whose value is not the object the paths go through is kept whole, so reading a
//! path from the pruned value fails, or succeeds, exactly as it would on the full one. The one
//! difference: a string that is skipped is not checked for an unpaired `\u` surrogate escape
//! (UTF-8 is checked for the whole body first).

use std::fmt;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// What to keep of a value.
pub(super) enum Keep {
    /// All of it.
    All,
    /// Of an object, these keys (and what to keep of each); anything else, whole.
    Only(&'static [(&'static str, Keep)]),
}

use Keep::{All, Only};

/// Every path `Payload::at` is asked for, in any event type.
pub(super) const PAYLOAD: Keep = Only(&[
    ("action", All),
    ("number", All),
    ("is_pull", All),
    ("issue", Only(&[("number", All), ("pull_request", All)])),
    (
        "comment",
        Only(&[
            ("id", All),
            ("body", All),
            ("updated_at", All),
            ("user", Only(&[("login", All)])),
        ]),
    ),
    ("repository", Only(&[("full_name", All)])),
    ("changes", Only(&[("ref", All)])),
    (
        "pull_request",
        Only(&[
            ("number", All),
            ("merged", All),
            ("updated_at", All),
            ("head", Only(&[("sha", All)])),
        ]),
    ),
    ("sender", Only(&[("login", All)])),
    ("requested_reviewer", Only(&[("login", All)])),
    // `status`
    ("id", All),
    ("sha", All),
    ("context", All),
    ("state", All),
]);

/// Parses `body` (UTF-8 checked first) keeping what `keep` says.
pub(super) fn parse(body: &[u8], keep: &'static Keep) -> Result<Value, serde_json::Error> {
    let text = std::str::from_utf8(body)
        .map_err(|e| de::Error::custom(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = keep.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

impl<'de> DeserializeSeed<'de> for &'static Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self {
            All => Value::deserialize(d),
            Only(keys) => d.deserialize_any(Pruned(keys)),
        }
    }
}

/// Builds the value, keeping of an object only `0`'s keys.
struct Pruned(&'static [(&'static str, Keep)]);

/// Finds a key among the wanted ones without allocating it.
struct Wanted(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for Wanted {
    type Value = Option<&'static (&'static str, Keep)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Wanted {
    type Value = Option<&'static (&'static str, Keep)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(k, _)| *k == key))
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(wanted) = map.next_key_seed(Wanted(self.0))? {
            match wanted {
                // Later duplicates win, as in a full parse.
                Some((key, keep)) => {
                    let value = map.next_value_seed(keep)?;
                    out.insert((*key).to_string(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    // Anything but an object is kept whole, as `Value` would build it.

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODIES: [&str; 4] = [
        r#"{"action":"created","issue":{"number":7,"pull_request":{"merged":false},"title":"x"},
            "comment":{"id":5,"body":"/refire","user":{"login":"bob","id":3},"updated_at":"t"},
            "repository":{"full_name":"acme/widgets","owner":{"login":"acme"}},"is_pull":true}"#,
        r#"{"action":"edited","changes":{"ref":{"from":"dev"},"title":null},"number":9,
            "pull_request":{"number":9,"head":{"sha":"abc","ref":"x"},"merged":true,
            "updated_at":"t","base":{"sha":"def"}},"sender":{"login":"alice"},"a":[1,{"b":2}]}"#,
        r#"{"issue":"not an object","comment":[1,2],"pull_request":{"head":"abc"},
            "sender":null,"requested_reviewer":{"login":7},"number":-1.5e3}"#,
        r#"{"action":1,"action":"later wins","issue":{"number":1,"number":2}}"#,
    ];

    /// Every path the decoders read gives the same value from the pruned body as from the
    /// full one, whatever shape the payload has there.
    #[test]
    fn kept_paths_read_as_from_the_full_value() {
        let paths = "action number is_pull issue.number issue.pull_request comment.id \
                     comment.body comment.user.login comment.updated_at repository.full_name \
                     changes.ref pull_request.number pull_request.merged pull_request.updated_at \
                     pull_request.head.sha sender.login requested_reviewer.login";
        let at = |v: &Value, path: &str| path.split('.').try_fold(v, |v, k| v.get(k)).cloned();
        for body in BODIES {
            let full: Value = serde_json::from_str(body).unwrap();
            let pruned = parse(body.as_bytes(), &PAYLOAD).unwrap();
            for path in paths.split_whitespace() {
                assert_eq!(at(&pruned, path), at(&full, path), "{path} in {body}");
            }
            // Objects the decoders only require: there or not, object or not, as in full.
            for key in ["issue", "comment", "pull_request", "changes", "sender"] {
                let shape = |v: &Value| v.get(key).map(|x| (x.is_null(), x.is_object()));
                assert_eq!(shape(&pruned), shape(&full), "{key} in {body}");
                if !full[key].is_object() {
                    assert_eq!(pruned[key], full[key], "{key} kept whole in {body}");
                }
            }
            assert!(pruned.get("a").is_none());
        }
    }

    #[test]
    fn what_is_not_json_is_refused_even_where_nothing_is_kept() {
        for body in [
            &b"{\"skipped\": [1, 2,]}"[..],
            b"{\"skipped\": \"\\q\"}",
            b"{\"skipped\": \"\xff\"}",
            b"{\"action\": \"created\"} trailing",
            b"",
        ] {
            let text = String::from_utf8_lossy(body);
            assert!(parse(body, &PAYLOAD).is_err(), "{text}");
        }
        // Where a value is kept, serde_json's recursion limit holds; a skipped one is walked
        // without recursion, so its depth costs nothing but its bytes (within the body limit).
        let nest = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let kept = format!("{{\"action\": {}}}", nest(10_000));
        assert!(
            parse(kept.as_bytes(), &PAYLOAD).is_err(),
            "the recursion limit holds"
        );
        let skipped = format!("{{\"skipped\": {}}}", nest(10_000));
        assert!(parse(skipped.as_bytes(), &PAYLOAD).is_ok());
        assert!(parse(b"[1]", &PAYLOAD).unwrap().is_array());
    }
}
