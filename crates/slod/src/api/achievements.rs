//! Achievement routes (SPEC §7, §9): the definitions, a system's unlocks,
//! and the organisation-wide milestone feed.

use axum::extract::State;
use serde::Serialize;
use slod_core::achievements::AchievementDefinition;

use super::error::ApiResult;
use super::extract::{PathId, QueryParams};
use super::jobs::{DEFAULT_LIMIT, MAX_LIMIT};
use super::systems::system_id;
use crate::service::achievements::{self as service, AchievementView, MilestoneView};
use crate::state::AppState;

#[derive(Serialize)]
pub struct DefinitionsResponse {
    achievements: &'static [AchievementDefinition],
}

/// `GET /achievements`: `{achievements: [{type, label, emoji, description}]}`.
pub(super) async fn definitions(query: QueryParams) -> ApiResult<axum::Json<DefinitionsResponse>> {
    query.only(&[])?;
    Ok(axum::Json(DefinitionsResponse { achievements: service::all_definitions() }))
}

#[derive(Serialize)]
pub struct SystemAchievementsResponse {
    achievements: Vec<AchievementView>,
}

/// `GET /systems/{id}/achievements`: the system's unlocks, oldest first.
pub(super) async fn for_system(
    State(state): State<AppState>,
    id: PathId,
    query: QueryParams,
) -> ApiResult<axum::Json<SystemAchievementsResponse>> {
    query.only(&[])?;
    let id = system_id(id)?;
    Ok(axum::Json(SystemAchievementsResponse {
        achievements: service::system_achievements(&*state.store, &id).await?,
    }))
}

#[derive(Serialize)]
pub struct MilestonesResponse {
    milestones: Vec<MilestoneView>,
}

/// `GET /milestones?limit=20`: the latest unlocks, newest first.
pub(super) async fn milestones(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::Json<MilestonesResponse>> {
    query.only(&["limit"])?;
    let limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(axum::Json(MilestonesResponse {
        milestones: service::milestones(&*state.store, limit).await?,
    }))
}
