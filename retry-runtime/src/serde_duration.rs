//! Serde representations: durations as `"250ms"`, timestamps as RFC 3339.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

use crate::{format_duration, parse_duration};

pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_duration(*duration))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    parse_duration(&text).map_err(D::Error::custom)
}

pub(crate) mod option {
    use super::{Deserialize, Deserializer, Duration, Serializer};

    #[allow(clippy::ref_option)] // the signature serde's `with` expects
    pub(crate) fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Human(#[serde(with = "super")] Duration);
        Ok(Option::<Human>::deserialize(deserializer)?.map(|Human(duration)| duration))
    }
}

pub(crate) mod timestamp {
    use std::time::SystemTime;

    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(
        at: &SystemTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(*at))
    }
}
