//! The `pr_details` table: what the last evaluation of each PR found, for its details page.

use chrono::{DateTime, Utc};

use super::{ts, Store, StoreError};

/// The last evaluation of one PR as the details page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailsRow {
    pub repo: String,
    pub pr: i64,
    /// The head commit that evaluation judged.
    pub head_sha: String,
    pub evaluated_at: DateTime<Utc>,
    /// JSON: `crate::details::Record`.
    pub record: String,
}

impl Store {
    /// Replaces the PR's stored evaluation (one write per evaluated PR, on the publish path).
    pub async fn record_details(
        &self,
        repo: &str,
        pr: i64,
        head_sha: &str,
        record: &str,
    ) -> Result<(), StoreError> {
        let now = ts(self.now());
        sqlx::query!(
            "INSERT INTO pr_details (repo, pr, head_sha, evaluated_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (repo, pr) DO UPDATE SET
                 head_sha = excluded.head_sha,
                 evaluated_at = excluded.evaluated_at,
                 record = excluded.record",
            repo,
            pr,
            head_sha,
            now,
            record
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The PR's stored evaluation; `None` if it was never evaluated.
    pub async fn details(&self, repo: &str, pr: i64) -> Result<Option<DetailsRow>, StoreError> {
        let row = sqlx::query_as!(
            DetailsRow,
            r#"SELECT repo, pr, head_sha, evaluated_at AS "evaluated_at: DateTime<Utc>", record
               FROM pr_details WHERE repo = ? AND pr = ?"#,
            repo,
            pr
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }
}
