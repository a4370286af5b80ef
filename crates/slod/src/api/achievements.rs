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

#[derive(Serialize, utoipa::ToSchema)]
pub struct DefinitionsResponse {
    achievements: &'static [AchievementDefinition],
}

/// `GET /achievements`: `{achievements: [{type, label, emoji, description}]}`.
#[utoipa::path(get, path = "/achievements", tag = "achievements", responses((status = 200, description = "Every achievement's definition", body = DefinitionsResponse)))]
pub(super) async fn definitions(query: QueryParams) -> ApiResult<axum::Json<DefinitionsResponse>> {
    query.only(&[])?;
    Ok(axum::Json(DefinitionsResponse { achievements: service::all_definitions() }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SystemAchievementsResponse {
    achievements: Vec<AchievementView>,
}

/// `GET /systems/{id}/achievements`: the system's unlocks, oldest first.
#[utoipa::path(get, path = "/systems/{id}/achievements", tag = "achievements", params(("id" = String, Path, description = "The system id")), responses((status = 200, description = "The system's unlocked achievements", body = SystemAchievementsResponse)))]
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct MilestonesResponse {
    milestones: Vec<MilestoneView>,
}

/// `GET /milestones?limit=20`: the latest unlocks, newest first.
#[utoipa::path(get, path = "/milestones", tag = "achievements", params(("limit" = Option<u32>, Query, description = "How many, newest first: 1 to 1000 (default 20)")), responses((status = 200, description = "Unlocks across systems, newest first", body = MilestonesResponse)))]
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
