//! The lease on a job's period (`job_runs`): one holder across replicas.
//!
//! A run claims its period (a date, an ISO week) for a fresh owner id; the
//! claim holds for [`LEASE_MS`] and the run renews it as it goes. A run that
//! fails expires its lease at once so a retry need not wait; a holder that
//! dies blocks the period for at most [`LEASE_MS`]. [`Lease::run`] is the
//! one place that claims and, on failure, abandons.

use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store::jobs::{ClaimOutcome, JobClaim, JobKind, JobRunRow};
use slod_store::Store;

use crate::clock::Clock;
use crate::service::ServiceResult;

/// How long a claimed run stays ours without renewal; renewed after every
/// chunk. A holder that dies blocks its period for at most this long.
pub const LEASE_MS: i64 = 5 * MINUTE_MS;

/// What claiming a period gave: `T` when the period was ours (the lease,
/// or what the work done under it returned).
#[derive(Debug)]
pub(super) enum Claim<T> {
    Claimed(T),
    /// The period's run is completed; nothing to do.
    Completed,
    /// Another attempt holds an unexpired lease on the period.
    Held(JobRunRow),
}

/// A claimed period of a job.
pub(super) struct Lease {
    pub(super) kind: JobKind,
    pub(super) period: String,
    pub(super) owner: String,
}

impl Lease {
    /// Claims `period` for a fresh owner.
    async fn claim(
        store: &dyn Store,
        kind: JobKind,
        period: String,
        period_start: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Claim<Self>> {
        let owner = slod_store::new_id();
        let claim = JobClaim {
            kind,
            period: &period,
            period_start,
            owner: &owner,
            now,
            lease_until: now.plus_millis(LEASE_MS),
        };
        let mut tx = store.begin().await?;
        let outcome = tx.claim_run(&claim).await?;
        tx.commit().await?;
        Ok(match outcome {
            ClaimOutcome::Claimed => Claim::Claimed(Self { kind, period, owner }),
            ClaimOutcome::Completed(_) => Claim::Completed,
            ClaimOutcome::Held(run) => Claim::Held(run),
        })
    }

    /// Claims `period` at `now` and, when it is ours, runs `work` under
    /// the lease. A `work` that fails abandons the lease (see
    /// [`Lease::abandon`]) before its error is returned; a `work` that
    /// succeeds has completed or released the period itself.
    pub(super) async fn run<T>(
        store: &dyn Store,
        clock: &dyn Clock,
        kind: JobKind,
        period: String,
        period_start: Timestamp,
        now: Timestamp,
        work: impl AsyncFnOnce(&Lease) -> ServiceResult<T>,
    ) -> ServiceResult<Claim<T>> {
        let lease = match Self::claim(store, kind, period, period_start, now).await? {
            Claim::Claimed(lease) => lease,
            Claim::Completed => return Ok(Claim::Completed),
            Claim::Held(run) => return Ok(Claim::Held(run)),
        };
        match work(&lease).await {
            Ok(done) => Ok(Claim::Claimed(done)),
            Err(err) => {
                lease.abandon(store, clock.now()).await;
                Err(err)
            }
        }
    }

    /// Extends the lease; a lost lease is only logged, since every write
    /// of a run is idempotent and whoever took over finishes the period.
    pub(super) async fn renew(&self, store: &dyn Store, now: Timestamp) -> ServiceResult<()> {
        let mut tx = store.begin().await?;
        let held =
            tx.renew_lease(self.kind, &self.period, &self.owner, now.plus_millis(LEASE_MS)).await?;
        tx.commit().await?;
        if !held {
            tracing::warn!(job = self.kind.as_str(), period = %self.period, "lost the lease on a run; carrying on, its writes are idempotent");
        }
        Ok(())
    }

    /// After a failure: expire the lease at once, so the next attempt (a
    /// retry, another replica) need not wait for it to run out.
    async fn abandon(&self, store: &dyn Store, now: Timestamp) {
        let expire = async {
            let mut tx = store.begin().await?;
            tx.renew_lease(self.kind, &self.period, &self.owner, now).await?;
            tx.commit().await
        };
        if let Err(err) = expire.await {
            tracing::warn!(job = self.kind.as_str(), period = %self.period, error = %err, "could not release the lease of a failed run; it expires on its own");
        }
    }

    /// Gives the period back as if never attempted.
    pub(super) async fn release(&self, store: &dyn Store) -> ServiceResult<()> {
        let mut tx = store.begin().await?;
        tx.release_run(self.kind, &self.period, &self.owner).await?;
        tx.commit().await?;
        Ok(())
    }
}
