//! The sandbox provider's own books (a local Alipay's trades and refunds): only the sandbox
//! gateway (`payment::sandbox`, mounted in demo and test setups) reads or writes them.

use super::sql::{self, Error, Tx};
use super::Store;

/// A trade in the sandbox's books.
pub struct Trade {
    pub trade_no: String,
    pub total_fen: i64,
    pub subject: String,
    pub notify_url: String,
    pub status: String,
    pub expires_at: i64,
}

/// A new trade, as the sandbox's precreate opens it.
pub struct NewTrade<'a> {
    pub out_trade_no: &'a str,
    pub trade_no: &'a str,
    pub total_fen: i64,
    pub subject: &'a str,
    pub notify_url: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn sandbox_trade(&self, out_trade_no: &str) -> Result<Option<Trade>, Error> {
        sql::query("SELECT trade_no, total_fen, subject, notify_url, status, expires_at FROM sandbox_alipay_trades WHERE out_trade_no = $1")
            .bind(out_trade_no)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(Trade {
                    trade_no: r.try_get("trade_no")?,
                    total_fen: r.try_get("total_fen")?,
                    subject: r.try_get("subject")?,
                    notify_url: r.try_get("notify_url")?,
                    status: r.try_get("status")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .transpose()
    }

    /// Opens a trade waiting for the buyer (a repeat of the same out_trade_no keeps the first).
    pub async fn sandbox_open_trade(&self, t: &NewTrade<'_>) -> Result<(), Error> {
        sql::query("INSERT INTO sandbox_alipay_trades (out_trade_no, trade_no, total_fen, subject, notify_url, status, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 'WAIT_BUYER_PAY', $6, $7) ON CONFLICT (out_trade_no) DO NOTHING")
            .bind(t.out_trade_no)
            .bind(t.trade_no)
            .bind(t.total_fen)
            .bind(t.subject)
            .bind(t.notify_url)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Closes a trade still waiting for the buyer; whether this call closed it.
    pub async fn sandbox_close_trade(&self, out_trade_no: &str) -> Result<bool, Error> {
        Ok(sql::query("UPDATE sandbox_alipay_trades SET status = 'TRADE_CLOSED' WHERE out_trade_no = $1 AND status = 'WAIT_BUYER_PAY'")
            .bind(out_trade_no)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    /// The buyer paid; whether this call marked it (a trade is paid once).
    pub async fn sandbox_pay_trade(&self, out_trade_no: &str, at: i64) -> Result<bool, Error> {
        Ok(sql::query("UPDATE sandbox_alipay_trades SET status = 'TRADE_SUCCESS', paid_at = $1 WHERE out_trade_no = $2 AND status = 'WAIT_BUYER_PAY'")
            .bind(at)
            .bind(out_trade_no)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    /// How much of a trade was refunded, in fen.
    pub async fn sandbox_refunded_fen(&self, out_trade_no: &str) -> Result<i64, Error> {
        sql::query("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM sandbox_alipay_refunds WHERE out_trade_no = $1")
            .bind(out_trade_no)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// The amount of one refund request, if it was made.
    pub async fn sandbox_refund(
        &self,
        out_trade_no: &str,
        request_no: &str,
    ) -> Result<Option<i64>, Error> {
        sql::query("SELECT amount_fen FROM sandbox_alipay_refunds WHERE out_trade_no = $1 AND out_request_no = $2")
            .bind(out_trade_no)
            .bind(request_no)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("amount_fen"))
            .transpose()
    }
}

/// Refunded so far, read in the refunding transaction.
pub async fn refunded_fen_in(tx: &mut Tx, out_trade_no: &str) -> Result<i64, Error> {
    sql::query("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM sandbox_alipay_refunds WHERE out_trade_no = $1")
        .bind(out_trade_no)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")
}

/// Books a refund; with `closes`, the trade is refunded in full and closes.
pub async fn book_refund(
    tx: &mut Tx,
    out_trade_no: &str,
    request_no: &str,
    amount_fen: i64,
    at: i64,
    closes: bool,
) -> Result<(), Error> {
    sql::query("INSERT INTO sandbox_alipay_refunds (out_trade_no, out_request_no, amount_fen, at) VALUES ($1, $2, $3, $4)")
        .bind(out_trade_no)
        .bind(request_no)
        .bind(amount_fen)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    if closes {
        sql::query(
            "UPDATE sandbox_alipay_trades SET status = 'TRADE_CLOSED' WHERE out_trade_no = $1",
        )
        .bind(out_trade_no)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
