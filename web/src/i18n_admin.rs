//! The console's own messages: a table of their own, so the citizen's bundle (which shares
//! `crate::i18n`) does not carry them. Keys not found here are the shared ones.

use crate::i18n::Lang;

const ADMIN_MESSAGES: &[(&str, &str, &str)] = &[
    ("admin_title", "续期审核控制台", "Renewal review console"),
    ("username", "用户名", "Username"),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    (
        "login_failed",
        "用户名或密码错误",
        "Wrong username or password",
    ),
    ("queue", "待审核", "Awaiting review"),
    (
        "search",
        "按业务单号或证书主题搜索",
        "Search by order number or subject",
    ),
    ("approve", "通过", "Approve"),
    ("reject", "驳回", "Reject"),
    ("reject_reason", "驳回原因", "Reason for rejection"),
    ("no_orders", "没有符合条件的业务单。", "No orders match."),
    (
        "decided_elsewhere",
        "该业务单已被其他管理员处理。",
        "Another administrator decided this order first.",
    ),
    (
        "cert_revoked_badge",
        "证书已吊销，不能通过",
        "Certificate revoked: cannot be approved",
    ),
    (
        "revoked_refused",
        "该证书已被吊销，不能通过；款项将退回。",
        "The certificate is revoked; the order cannot be approved and the money goes back.",
    ),
    (
        "discrepancies",
        "款项异常（金额与订单不符，待人工处理）",
        "Payment discrepancies (amount differs from the order; to be settled by a person)",
    ),
    (
        "no_discrepancies",
        "没有待处理的款项异常。",
        "No payment discrepancies to settle.",
    ),
    ("payment_id", "支付单号", "Payment"),
    ("trade_no", "交易号", "Trade number"),
    ("amount_paid", "实收（元）", "Received (CNY)"),
    ("amount_expected", "应收（元）", "Expected (CNY)"),
    (
        "refunds",
        "退款（进行中与失败）",
        "Refunds (in progress and failed)",
    ),
    (
        "no_refunds",
        "没有进行中或失败的退款。",
        "No refunds in progress or failed.",
    ),
    ("refund_amount", "退款（元）", "Refund (CNY)"),
    ("refund_pending", "退款中", "In progress"),
    (
        "refund_failed",
        "失败，待人工处理",
        "Failed; needs a person",
    ),
    ("attempts", "尝试次数", "Attempts"),
    ("last_result", "支付机构最近答复", "Provider's last answer"),
    ("retry_refund", "重新退款", "Retry refund"),
    ("all_orders", "全部业务单", "All orders"),
    (
        "orders_search",
        "业务单号、证书主题或经办人姓名",
        "Order number, subject or operator's name",
    ),
    ("search_button", "查询", "Search"),
    (
        "forbidden_role",
        "您的角色无权执行此操作。",
        "Your role may not do this.",
    ),
    (
        "already_revoked",
        "该证书已被吊销。",
        "This certificate is already revoked.",
    ),
    ("timeline", "处理记录", "Timeline"),
    ("when", "时间", "When"),
    ("who", "操作人", "Who"),
    ("from_to", "状态变化", "Change"),
    ("payments", "支付与退款", "Payments and refunds"),
    ("certificates", "证书", "Certificates"),
    ("not_after", "有效期至", "Valid until"),
    ("revoked", "已吊销", "Revoked"),
    ("valid", "有效", "Valid"),
    ("cert_issued", "新签发", "Issued"),
    ("cert_renewed", "被续期", "Renewed"),
    ("revoke", "吊销", "Revoke"),
    ("revoke_confirm", "确认吊销", "Confirm revocation"),
    ("reason_key_compromise", "密钥泄露", "Key compromise"),
    (
        "reason_affiliation_changed",
        "单位信息变更",
        "Affiliation changed",
    ),
    ("reason_superseded", "已被取代", "Superseded"),
    (
        "reason_cessation_of_operation",
        "停止使用",
        "Cessation of operation",
    ),
    ("reason_unspecified", "未说明", "Unspecified"),
    ("notices", "通知", "Notices"),
    ("notice_queued", "待发送", "Queued"),
    ("notice_sent", "已发送", "Sent"),
    ("dashboard", "概览", "Dashboard"),
    ("resend_notices", "重新发送通知", "Send the notices again"),
    (
        "nothing_to_resend",
        "该业务单还没有发出过通知。",
        "No notice was sent about this order yet.",
    ),
    ("revocations", "已吊销证书", "Revoked certificates"),
    ("certificates_title", "证书", "Certificates"),
    (
        "certificates_search",
        "序列号或主题的一部分",
        "Part of the serial or subject",
    ),
    ("validity", "有效期", "Validity"),
    ("key", "密钥", "Key"),
    ("cert_renews", "续期自", "Renews"),
    ("cert_renewed_by", "已续期为", "Renewed by"),
    ("cert_orders", "相关业务单", "Orders"),
    (
        "no_revocations",
        "没有已吊销的证书。",
        "No certificate is revoked.",
    ),
    (
        "renewals_30d",
        "近30天完成续期：",
        "Renewals, last 30 days: ",
    ),
    (
        "revenue_30d",
        "近30天收入（元）：",
        "Revenue, last 30 days (CNY): ",
    ),
    (
        "expiring_30",
        "30天内到期证书：",
        "Certificates expiring within 30 days: ",
    ),
    ("expiring_60", "60天内到期证书：", "Within 60 days: "),
    ("expiring_90", "90天内到期证书：", "Within 90 days: "),
    ("renewals_per_day", "每日续期", "Renewals per day"),
    ("revenue_per_day", "每日收入", "Revenue per day"),
    ("revenue_per_month", "每月收入", "Revenue per month"),
    ("orders_by_state", "业务单状态", "Orders by state"),
    (
        "export_paid",
        "导出已支付业务单（CSV）",
        "Export paid orders (CSV)",
    ),
    (
        "export_invoices",
        "导出发票（CSV）",
        "Export invoices (CSV)",
    ),
    ("status_awaiting_payment", "待支付", "Awaiting payment"),
    ("status_paid", "已支付", "Paid"),
    ("status_under_review", "待审核", "Under review"),
    ("status_approved", "已通过", "Approved"),
    ("status_issued", "已签发", "Issued"),
    ("status_installed", "已安装", "Installed"),
    ("status_cancelled", "已取消", "Cancelled"),
    ("status_payment_expired", "支付超时", "Payment expired"),
    ("status_rejected", "已驳回", "Rejected"),
    ("status_refunding", "退款中", "Refunding"),
    ("status_refunded", "已退款", "Refunded"),
    (
        "refund_not_failed",
        "该退款已不在失败状态（可能已在处理或已完成）。",
        "This refund is no longer failed (under way or done already).",
    ),
];

/// Looks a console message up, then a shared one; unknown keys show as "?".
pub fn t(lang: Lang, key: &str) -> &'static str {
    match ADMIN_MESSAGES.iter().find(|(k, _, _)| *k == key) {
        Some((_, zh, _)) if lang == Lang::Zh => zh,
        Some((_, _, en)) => en,
        None => crate::i18n::t(lang, key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_console_key_once_and_apart_from_the_shared_ones() {
        let mut keys: Vec<&str> = ADMIN_MESSAGES.iter().map(|m| m.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is listed twice");
        for k in keys {
            assert_eq!(crate::i18n::t(Lang::Zh, k), "?", "{k} is in both tables");
            assert_ne!(t(Lang::Zh, k), t(Lang::En, k), "{k}");
        }
        assert_ne!(
            t(Lang::Zh, "order_number"),
            "?",
            "shared keys are found too"
        );
    }
}
