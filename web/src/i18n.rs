//! Every string the user sees, in Simplified Chinese (default) and English.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn from_code(code: &str) -> Option<Lang> {
        [Lang::Zh, Lang::En].into_iter().find(|l| l.code() == code)
    }

    #[cfg(target_arch = "wasm32")]
    /// The language to start in: `?lang=en` / `?lang=zh-CN`, else the one chosen before on this
    /// browser, else Chinese.
    pub fn initial() -> Lang {
        if crate::page::query_has("lang=en") {
            return Lang::En;
        }
        if crate::page::query_has("lang=zh") {
            return Lang::Zh;
        }
        remembered::load().unwrap_or_default()
    }

    #[cfg(target_arch = "wasm32")]
    /// Switches and remembers the choice, so a reload (or the next visit) keeps it — except on a
    /// kiosk, where the next person starts in Chinese again.
    pub fn choose(self) {
        if !crate::kiosk::enabled() {
            remembered::save(self);
        }
    }
}

/// The language chosen on this browser, in localStorage (cleared by the kiosk's wipe with the
/// rest of `certrenew.*`).
#[cfg(target_arch = "wasm32")]
mod remembered {
    use super::Lang;
    const KEY: &str = "certrenew.lang";

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    pub fn load() -> Option<Lang> {
        Lang::from_code(&storage()?.get_item(KEY).ok()??)
    }

    pub fn save(lang: Lang) {
        if let Some(s) = storage() {
            let _ = s.set_item(KEY, lang.code());
        }
    }
}

/// Every message: key, Simplified Chinese, English. A table rather than a `match`: the lookup
/// code stays a few bytes however many messages there are.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("title", "数字证书在线续期", "Online certificate renewal"),
    ("switch_lang", "English", "中文"),
    ("demo_badge", "演示令牌（非真实证书）", "Demo token (not a real certificate)"),
    ("env_title", "环境检查", "Checking this browser"),
    ("env_secure_ok", "安全连接：正常", "Secure context: yes"),
    ("env_secure_bad", "当前页面不是安全连接（https），浏览器不允许访问 USB 设备。请使用 https 地址打开本页。", "This page is not a secure context (https); the browser will not allow USB access. Open it over https."),
    ("env_webusb_ok", "WebUSB：可用", "WebUSB: available"),
    ("env_webusb_bad", "此浏览器不支持 WebUSB。请使用新版 Chrome 或 Edge，或在服务大厅使用自助终端。", "This browser has no WebUSB. Use a current Chrome or Edge, or the kiosk in the service hall."),
    ("env_smartcard_ok", "智能卡接口（Web Smart Card API）：可用", "Smart-card interface (Web Smart Card API): available"),
    ("env_smartcard_none", "智能卡接口：仅在服务大厅自助终端应用中提供；本页通过 WebUSB 连接令牌。", "Smart-card interface: only in the service-hall kiosk app; this page reaches the token over WebUSB."),
    ("connect_card", "通过读卡器连接证书令牌", "Connect the token through the card reader"),
    ("via", "连接方式", "Connected through"),
    ("via_webusb", "WebUSB（本页直接访问 USB 令牌）", "WebUSB (this page talks to the USB token)"),
    ("via_smartcard", "智能卡接口（系统读卡器服务）", "Smart-card interface (the system's reader service)"),
    ("connect_usb", "连接 USB 证书令牌", "Connect the USB token"),
    ("use_demo", "使用演示令牌体验", "Try with a demo token"),
    ("demo_preparing", "正在准备演示令牌…", "Preparing the demo token…"),
    ("reading_token", "正在读取证书…", "Reading the certificate…"),
    ("my_certs", "我的证书", "My certificates"),
    ("no_cert", "令牌中没有证书。", "The token holds no certificate."),
    ("subject", "证书主题", "Subject"),
    ("issuer", "颁发者", "Issuer"),
    ("serial", "序列号", "Serial number"),
    ("valid_from", "生效时间", "Valid from"),
    ("valid_to", "有效期至", "Valid until"),
    ("days_left", "剩余天数", "Days left"),
    ("expired_title", "证书已过期，无法在线续期", "The certificate has expired and cannot be renewed online"),
    ("expired_text", "请携带 USB 证书令牌，按《证书续期办理指南》到服务网点办理。", "Take the token to a service point and follow the certificate renewal handling guide."),
    ("payments_unavailable", "本服务暂不支持在线支付，请联系 CA 服务热线办理。", "Online payment is not available here; please call the CA's hotline."),
    ("certificate_revoked", "此证书已被吊销，不能续期；已付款项将原路退回。请联系 CA 服务热线。", "This certificate is revoked and cannot be renewed; any payment is refunded. Please call the CA's hotline."),
    ("already_renewed", "此证书已续期过一次，请使用令牌中的新证书。", "This certificate was already renewed; use the new certificate on the token."),
    ("not_yet_window", "尚未到在线续期时间。在线续期开放于证书到期前（天）：", "Not yet: online renewal opens this many days before expiry:"),
    ("contacts", "客服热线 400-000-0000，在线客服 QQ 800000000", "Hotline 400-000-0000, online chat QQ 800000000"),
    ("apply", "申请续期", "Apply for renewal"),
    ("agreement_accept", "我接受电子认证服务协议内容", "I accept the electronic certification service agreement"),
    ("next", "下一步", "Next"),
    ("back", "返回", "Back"),
    ("form_title", "数字证书续期申请表", "Certificate renewal application"),
    ("period", "续期时间", "Renewal period"),
    ("months", "个月", " months"),
    ("fee", "费用", "Fee"),
    ("yuan", "元", "CNY"),
    ("operator", "经办人", "Operator"),
    ("id_type", "证件类型", "ID document"),
    ("resident_id", "居民身份证", "Resident ID card"),
    ("id_number", "证件号码", "ID number"),
    ("name", "姓名", "Name"),
    ("mobile", "手机号码", "Mobile"),
    ("email", "电子邮箱", "Email"),
    ("recipient", "发票收件人", "Invoice recipient"),
    ("address", "地址", "Address"),
    ("required", "必填", "required"),
    ("submit", "提交", "Submit"),
    ("invalid_required", "请填写此项", "Please fill this in"),
    ("invalid_format", "格式不正确", "Wrong format"),
    ("invalid_checksum", "校验位不正确，请核对号码", "Check digit wrong; please check the number"),
    ("invalid_birth_date", "出生日期不正确", "Date of birth is not valid"),
    ("invalid_region", "地区代码不正确", "Region code is not valid"),
    ("invalid_too_long", "内容过长", "Too long"),
    ("pin_title", "请输入证书密码（PIN）", "Enter the certificate PIN"),
    ("pin_note", "PIN 只在您的令牌中验证，不会发送到任何服务器。", "The PIN is checked on your token only and never sent anywhere."),
    ("pin_tries", "剩余尝试次数", "Tries left"),
    ("pin_last_try", "注意：这是最后一次尝试，再错令牌将被锁定，需要到网点解锁。", "Careful: this is the last try; another wrong PIN locks the token until a service point unlocks it."),
    ("pin_wrong", "PIN 不正确", "Wrong PIN"),
    ("pin_blocked", "PIN 已锁定，请携带令牌到服务网点解锁。", "The PIN is blocked; take the token to a service point to unlock it."),
    ("confirm", "确定", "Confirm"),
    ("signing", "正在令牌上签署申请…", "Signing the application on the token…"),
    ("order_title", "业务单", "Order"),
    ("order_number", "业务单号", "Order number"),
    ("applied_at", "申请时间", "Applied at"),
    ("progress", "当前进度", "Progress"),
    ("fee_excl", "费用（不包含快递费）", "Fee (excluding delivery)"),
    ("new_valid_to", "续期后有效期至", "New validity until"),
    ("remarks", "备注", "Remarks"),
    ("step_apply", "用户申请", "Application"),
    ("step_pay", "用户缴费", "Payment"),
    ("step_review", "管理员审核", "Review"),
    ("step_install", "安装新证书", "Install"),
    ("step_done", "完成", "Done"),
    ("submitted", "您的申请已提交，请点击“立即支付”。", "Your application was submitted; press Pay now."),
    ("pay_now", "立即支付", "Pay now"),
    ("cancel", "撤销申请", "Cancel application"),
    ("cancelled", "申请已撤销。", "The application was cancelled."),
    ("pay_method", "选择支付方式", "Payment method"),
    ("alipay_qr", "支付宝扫码支付", "Alipay (scan the QR code)"),
    ("alipay_page", "支付宝网页支付", "Alipay (payment page)"),
    ("wechat_native", "微信扫码支付", "WeChat Pay (scan the QR code)"),
    ("no_payment_methods", "本服务暂未开通在线支付，请联系 CA 客服。", "Online payment is not set up on this service yet; please contact the CA's service desk."),
    ("invoice_title", "发票抬头", "Invoice title"),
    ("taxpayer_id", "纳税人识别号", "Taxpayer ID"),
    ("invoice_warning", "请认真填写：电子发票一经开具不予重开。", "Fill in carefully: an issued e-invoice is never re-issued."),
    ("to_cashier", "前往收银台支付", "Go to the cashier"),
    ("scan_alipay", "请用手机支付宝“扫一扫”支付：", "Scan the code with Alipay on your phone to pay:"),
    ("scan_wechat", "请用手机微信“扫一扫”支付：", "Scan the code with WeChat on your phone to pay:"),
    ("waiting_payment", "等待支付结果…（本页会自动刷新）", "Waiting for the payment… (this page follows it by itself)"),
    ("under_review", "已支付，等待管理员审核。", "Paid; waiting for the administrator's review."),
    ("refresh", "刷新", "Refresh"),
    ("install", "安装证书", "Install certificate"),
    ("installing_csr", "1/4 在令牌上生成证书请求", "1/4 Signing the certificate request on the token"),
    ("installing_issue", "2/4 CA 签发新证书", "2/4 The CA issues the new certificate"),
    ("installing_write", "3/4 写入令牌并读回核对", "3/4 Writing to the token and reading it back"),
    ("installing_confirm", "4/4 确认安装", "4/4 Confirming the installation"),
    ("done_title", "续期完成", "Renewal complete"),
    ("invoice_note", "电子发票将在 1–2 个工作日内发送到经办人的手机或邮箱。", "The e-invoice is sent to the operator's mobile or email within 1–2 working days."),
    ("invoice_number", "发票号码", "Invoice number"),
    ("rejected", "审核未通过，费用将原路退回。", "The application was rejected; the fee is refunded."),
    ("error", "出错了", "Something went wrong"),
    ("err_protected", "浏览器禁止网页访问智能卡类 USB 设备。请在服务大厅的自助终端使用本服务，或使用支持网页访问的令牌。", "The browser does not let web pages use smart-card class USB devices. Use the kiosk in the service hall, or a token that allows web access."),
    ("err_busy", "令牌被其他程序或系统驱动占用。请关闭 CA 安全客户端等程序后重新插拔令牌。", "Another program or a system driver holds the token. Close programs such as the CA security client and re-insert the token."),
    ("err_removed", "令牌已拔出。请重新插入后继续，进度不会丢失。", "The token was removed. Insert it again to continue; nothing is lost."),
    ("err_network", "无法连接服务器，请检查网络后重试。", "Cannot reach the server; check the network and try again."),
    ("err_token_busy", "令牌正在处理上一个操作，请稍候再试。", "The token is still busy with the previous step; try again in a moment."),
    ("err_mgmt_key", "此令牌的管理密钥不是出厂默认值，网页无法写入新证书。请联系客服或到服务网点办理。", "This token's management key is not the factory default, so the page cannot write the new certificate. Contact the hotline or a service point."),
    ("err_no_piv", "此 USB 设备不是本系统支持的证书令牌（没有 PIV 应用）。", "This USB device is not a supported certificate token (no PIV application)."),
    ("err_reader", "不支持此读卡器的通信方式。请使用 USB 证书令牌。", "This reader's protocol is not supported. Use a USB certificate token."),
    ("err_no_device", "没有选择令牌。", "No token was chosen."),
    ("clear", "清除", "Clear"),
    ("print_receipt", "打印回执", "Print receipt"),
    ("retry", "重试", "Try again"),
    ("password", "密码", "Password"),
    ("status", "状态", "Status"),
    ("note", "说明", "Note"),
];

/// Looks a message up; unknown keys show themselves so a missing translation is visible.
pub fn t(lang: Lang, key: &str) -> &'static str {
    match MESSAGES.iter().find(|(k, _, _)| *k == key) {
        Some((_, zh, _)) if lang == Lang::Zh => zh,
        Some((_, _, en)) => en,
        None => "?",
    }
}

/// The message key naming a payment method in the cashier.
pub fn payment_method_key(m: api::PaymentMethod) -> &'static str {
    match m {
        api::PaymentMethod::AlipayQr => "alipay_qr",
        api::PaymentMethod::AlipayPage => "alipay_page",
        api::PaymentMethod::WechatNative => "wechat_native",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payment_method_has_its_name_in_both_languages() {
        for m in [
            api::PaymentMethod::AlipayQr,
            api::PaymentMethod::AlipayPage,
            api::PaymentMethod::WechatNative,
        ] {
            let key = payment_method_key(m);
            assert_ne!(t(Lang::Zh, key), "?", "{key}");
            assert_ne!(t(Lang::Zh, key), t(Lang::En, key), "{key}");
            // The key is the method's wire name, so the two cannot drift apart.
            assert_eq!(serde_json::to_value(m).unwrap(), key);
        }
    }

    #[test]
    fn every_key_once() {
        let mut keys: Vec<&str> = MESSAGES.iter().map(|m| m.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is listed twice");
    }

    #[test]
    fn both_languages_differ_and_unknown_is_visible() {
        assert_ne!(t(Lang::Zh, "apply"), t(Lang::En, "apply"));
        assert_eq!(t(Lang::En, "no-such-key"), "?");
    }
}
