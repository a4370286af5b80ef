//! Notification events (SPEC §8): what slod tells the outside world.
//!
//! An event is created in the same transaction as the change that causes it
//! and written to the outbox; delivery happens later. Its `id` is fixed at
//! creation so receivers can deduplicate retries.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "slo.status.changed")]
    StatusChanged,
    #[serde(rename = "slo.budget.warning")]
    BudgetWarning,
    #[serde(rename = "slo.budget.critical")]
    BudgetCritical,
    #[serde(rename = "slo.budget.exhausted")]
    BudgetExhausted,
    #[serde(rename = "slo.burn.fast")]
    BurnFast,
    #[serde(rename = "slo.burn.alert")]
    BurnAlert,
    #[serde(rename = "slo.streak.broken")]
    StreakBroken,
    #[serde(rename = "slo.achievement.unlocked")]
    AchievementUnlocked,
    #[serde(rename = "slo.weekly.digest")]
    WeeklyDigest,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        Self::StatusChanged,
        Self::BudgetWarning,
        Self::BudgetCritical,
        Self::BudgetExhausted,
        Self::BurnFast,
        Self::BurnAlert,
        Self::StreakBroken,
        Self::AchievementUnlocked,
        Self::WeeklyDigest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatusChanged => "slo.status.changed",
            Self::BudgetWarning => "slo.budget.warning",
            Self::BudgetCritical => "slo.budget.critical",
            Self::BudgetExhausted => "slo.budget.exhausted",
            Self::BurnFast => "slo.burn.fast",
            Self::BurnAlert => "slo.burn.alert",
            Self::StreakBroken => "slo.streak.broken",
            Self::AchievementUnlocked => "slo.achievement.unlocked",
            Self::WeeklyDigest => "slo.weekly.digest",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{id, type, occurredAt, data}`, the envelope every channel receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: Timestamp,
    pub data: serde_json::Value,
}

impl NotificationEvent {
    /// A new event; `data` is any serialisable payload of SPEC §8's table.
    pub fn new(
        id: String,
        event_type: EventType,
        occurred_at: Timestamp,
        data: impl Serialize,
    ) -> Self {
        // Payloads are plain structs of strings and numbers; serialising them
        // cannot fail, and a failure would only mean an empty payload.
        let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
        Self { id, event_type, occurred_at, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let event = NotificationEvent::new(
            "e1".into(),
            EventType::BudgetWarning,
            Timestamp::from_millis(0),
            serde_json::json!({"objectiveId": "o"}),
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "slo.budget.warning");
        assert_eq!(json["occurredAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["data"]["objectiveId"], "o");
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
