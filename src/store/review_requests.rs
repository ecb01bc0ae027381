//! `review_requests`: which gate teams were asked to review which PR (`request_review`), so
//! each is asked once, ever (`docs/policies.md`).

use super::{ts, Store, StoreError};

impl Store {
    /// Claims the one review request of `gate`'s team on a PR: `true` the first time (the
    /// caller asks Gitea), `false` ever after. Claimed before asking: a crash in between loses
    /// one request rather than repeating it.
    pub async fn claim_review_request(
        &self,
        repo: &str,
        pr: i64,
        gate: &str,
    ) -> Result<bool, StoreError> {
        let now = ts(self.now());
        let done = sqlx::query!(
            "INSERT INTO review_requests (repo, pr, gate, requested_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (repo, pr, gate) DO NOTHING",
            repo,
            pr,
            gate,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
