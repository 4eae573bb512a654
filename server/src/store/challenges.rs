//! Challenges spent: the only state a challenge has (it is stateless until used).

/// Records the use of challenge `id` (in the consuming transaction, where there is one); false
/// when it was used before.
pub async fn consume<'a>(
    target: impl Into<super::sql::Target<'a>>,
    id: &str,
    expires_at: i64,
) -> Result<bool, super::sql::Error> {
    Ok(super::sql::query(
        "INSERT INTO used_challenges (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(expires_at)
    .execute(target)
    .await?
    .rows_affected()
        == 1)
}

impl super::Store {
    /// [`consume`] on its own (no transaction of the caller's to join).
    pub async fn consume_challenge(
        &self,
        id: &str,
        expires_at: i64,
    ) -> Result<bool, super::sql::Error> {
        consume(&self.writer, id, expires_at).await
    }
}

pub(crate) const FORGET: &str = "DELETE FROM used_challenges WHERE expires_at < $1";

/// Forgets uses of challenges that have expired (they fail the expiry check anyway).
pub async fn forget_expired(db: &super::Store, now: i64) -> Result<u64, super::sql::Error> {
    Ok(super::sql::query(FORGET)
        .bind(now)
        .execute(&db.writer)
        .await?
        .rows_affected())
}
