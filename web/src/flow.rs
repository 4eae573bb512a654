//! The renewal flow's state and the only place it changes (a reducer).

use crate::ui_error::UiError;
use api::{ApplicationForm, OrderView, PriceList};
use ccid::cert::CertSummary;
use std::rc::Rc;
use yew::Reducible;

/// The screens before there is an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Start,
    Token,
    Agreement,
    Form,
    Pin,
}

/// An order placed: its view and the token that opens it, never one without the other.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub order: OrderView,
    pub token: String,
}

/// Where the citizen is. The order's screens carry their order, so an order screen without one
/// cannot be built.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    At(Screen),
    /// An open (or closed, not installed) order: pay, wait for review, install.
    Order(Placed),
    /// The order installed.
    Done(Placed),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub stage: Stage,
    pub certificate: Option<(Vec<u8>, CertSummary)>,
    pub prices: Option<PriceList>,
    pub form: ApplicationForm,
    /// A translation key of the step in progress (shown with a spinner), if any.
    pub progress: Option<&'static str>,
    /// What failed, as the user is told it.
    pub error: Option<UiError>,
    pub pin_tries: Option<u8>,
    /// Invoice details of the previous renewal, shown to the key holder only.
    pub invoice_prefill: Option<(String, String)>,
    /// The previous renewal's ID number as the server shows it (masked): a hint beside the
    /// empty field, which the operator types again.
    pub id_hint: Option<String>,
}

impl Default for Flow {
    fn default() -> Self {
        Self {
            stage: Stage::At(Screen::Start),
            certificate: None,
            prices: None,
            form: ApplicationForm {
                period_months: 12,
                ..Default::default()
            },
            progress: None,
            error: None,
            pin_tries: None,
            invoice_prefill: None,
            id_hint: None,
        }
    }
}

// Actions live for one dispatch; boxing the order would only add noise at every call site.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Go(Screen),
    Certificate(Option<(Vec<u8>, CertSummary)>),
    Prices(PriceList),
    Form(ApplicationForm),
    /// An order's view, with its token when it is new to the flow (else the flow's is kept;
    /// an order with no token at all is not taken).
    Order {
        order: OrderView,
        token: Option<String>,
    },
    Progress(Option<&'static str>),
    Error(Option<UiError>),
    PinTries(Option<u8>),
    /// The previous renewal's details (after the PIN proved the key holder is here).
    Prefill(api::Prefill),
    Reset,
}

impl Reducible for Flow {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Go(screen) => {
                // Applying needs a certificate that can still be renewed online (W1).
                let renewable = next.certificate.as_ref().is_some_and(|(_, s)| !s.expired);
                // Going to a screen before the order leaves the order (restart, or a closed one).
                next.stage = if matches!(screen, Screen::Agreement | Screen::Form | Screen::Pin)
                    && !renewable
                {
                    Stage::At(Screen::Token)
                } else {
                    Stage::At(screen)
                };
                next.error = None;
            }
            Action::Certificate(c) => next.certificate = c,
            Action::Prices(p) => next.prices = Some(p),
            Action::Form(f) => next.form = f,
            Action::Order { order, token } => {
                let Some(token) = token.or_else(|| next.placed().map(|p| p.token.clone())) else {
                    return self;
                };
                let placed = Placed { order, token };
                next.stage = if placed.order.status == api::OrderStatus::Installed {
                    Stage::Done(placed)
                } else {
                    Stage::Order(placed)
                };
            }
            Action::Progress(p) => next.progress = p,
            Action::Error(e) => {
                next.error = e;
                next.progress = None;
            }
            Action::PinTries(t) => next.pin_tries = t,
            Action::Prefill(p) => {
                if let Some(mut form) = p.form {
                    // Keep the period chosen now; the rest is last year's, to be checked.
                    form.period_months = next.form.period_months;
                    // The server never sends an ID number whole: typed again, masked as a hint.
                    if form.operator.id_number.contains('*') {
                        next.id_hint = Some(std::mem::take(&mut form.operator.id_number));
                    }
                    next.form = form;
                }
                if let (Some(title), Some(id)) = (p.invoice_title, p.taxpayer_id) {
                    next.invoice_prefill = Some((title, id));
                }
            }
            Action::Reset => {
                return Rc::new(Flow {
                    prices: next.prices,
                    ..Flow::default()
                })
            }
        }
        Rc::new(next)
    }
}

impl Flow {
    /// The order, on its screens.
    pub fn placed(&self) -> Option<&Placed> {
        match &self.stage {
            Stage::Order(p) | Stage::Done(p) => Some(p),
            Stage::At(_) => None,
        }
    }

    /// The fee of the chosen period, in fen.
    pub fn fee(&self) -> Option<i64> {
        self.prices
            .as_ref()?
            .options
            .iter()
            .find(|o| o.months == self.form.period_months)
            .map(|o| o.fee_fen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(expired: bool) -> CertSummary {
        CertSummary {
            subject: "CN=张三".into(),
            common_name: Some("张三".into()),
            issuer: "CN=CA".into(),
            serial: "01".into(),
            not_before: 0,
            not_after: 100,
            key: ccid::piv::Algorithm::EccP256,
            days_left: if expired { -1 } else { 30 },
            expired,
            not_yet_valid: false,
        }
    }

    fn run(flow: Flow, actions: impl IntoIterator<Item = Action>) -> Flow {
        let mut f = Rc::new(flow);
        for a in actions {
            f = f.reduce(a);
        }
        (*f).clone()
    }

    #[test]
    fn an_expired_certificate_cannot_apply() {
        let f = run(
            Flow::default(),
            [
                Action::Certificate(Some((vec![], summary(true)))),
                Action::Go(Screen::Agreement),
            ],
        );
        assert_eq!(f.stage, Stage::At(Screen::Token), "W1: offline route only");
        let f = run(
            Flow::default(),
            [
                Action::Certificate(Some((vec![], summary(false)))),
                Action::Go(Screen::Agreement),
            ],
        );
        assert_eq!(f.stage, Stage::At(Screen::Agreement));
    }

    #[test]
    fn errors_clear_on_navigation_and_stop_progress() {
        let f = run(
            Flow::default(),
            [
                Action::Progress(Some("signing")),
                Action::Error(Some(UiError::Said("pin_wrong"))),
            ],
        );
        assert_eq!(
            (f.progress, f.error.clone()),
            (None, Some(UiError::Said("pin_wrong")))
        );
        let f = run(f, [Action::Go(Screen::Start)]);
        assert_eq!(f.error, None);
    }

    #[test]
    fn prefill_fills_the_form_but_keeps_the_period() {
        let old = ApplicationForm {
            period_months: 36,
            operator: api::Operator {
                name: "张三".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let f = run(
            Flow::default(),
            [Action::Prefill(api::Prefill {
                form: Some(old),
                invoice_title: Some("某公司".into()),
                taxpayer_id: Some("91350100M000100Y43".into()),
            })],
        );
        assert_eq!(
            (f.form.period_months, f.form.operator.name.as_str()),
            (12, "张三")
        );
        let masked = api::Prefill {
            form: Some(ApplicationForm {
                operator: api::Operator {
                    id_number: "110***********002X".into(),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        let m = run(Flow::default(), [Action::Prefill(masked)]);
        assert_eq!(
            (m.form.operator.id_number.as_str(), m.id_hint.as_deref()),
            ("", Some("110***********002X")),
            "a masked ID is a hint, never a value"
        );
        assert_eq!(
            f.invoice_prefill,
            Some(("某公司".into(), "91350100M000100Y43".into()))
        );
        let f = run(f, [Action::Prefill(api::Prefill::default())]);
        assert_eq!(
            f.form.operator.name, "张三",
            "nothing to prefill changes nothing"
        );
    }

    #[test]
    fn fee_follows_the_period() {
        let prices = api::PriceList {
            payment_methods: vec![api::PaymentMethod::AlipayQr],
            renewal_window_days: 90,
            unit_fen_per_year: 20000,
            options: vec![
                api::PriceOption {
                    months: 12,
                    fee_fen: 20000,
                },
                api::PriceOption {
                    months: 24,
                    fee_fen: 40000,
                },
            ],
        };
        let mut form = ApplicationForm {
            period_months: 24,
            ..Default::default()
        };
        let f = run(
            Flow::default(),
            [Action::Prices(prices), Action::Form(form.clone())],
        );
        assert_eq!(f.fee(), Some(40000));
        form.period_months = 36;
        assert_eq!(run(f, [Action::Form(form)]).fee(), None);
    }

    #[test]
    fn an_installed_order_shows_done_and_keeps_its_token() {
        let order = api::OrderView {
            number: "01".into(),
            subject: String::new(),
            certificate_serial: String::new(),
            applied_at: 0,
            status: api::OrderStatus::AwaitingPayment,
            progress_step: 2,
            period_months: 12,
            fee_fen: 1,
            old_not_after: 0,
            new_not_after: 0,
            operator_name: String::new(),
            remarks: String::new(),
            payment: None,
            invoice: None,
            management_key_algorithm: None,
        };
        let f = run(
            Flow::default(),
            [Action::Order {
                order: order.clone(),
                token: Some("t".into()),
            }],
        );
        let placed = |order: &api::OrderView| Placed {
            order: order.clone(),
            token: "t".into(),
        };
        assert_eq!(f.stage, Stage::Order(placed(&order)));
        let done = api::OrderView {
            status: api::OrderStatus::Installed,
            ..order.clone()
        };
        let f = run(
            f,
            [Action::Order {
                order: done.clone(),
                token: None,
            }],
        );
        assert_eq!(f.stage, Stage::Done(placed(&done)));
        // No token anywhere: no order screen (it could not load or pay the order).
        let f = run(Flow::default(), [Action::Order { order, token: None }]);
        assert_eq!(f.stage, Stage::At(Screen::Start));
        // Back to the start: the order is left.
        let f = run(
            Flow::default(),
            [
                Action::Order {
                    order: done,
                    token: Some("t".into()),
                },
                Action::Go(Screen::Token),
            ],
        );
        assert_eq!(f.placed(), None);
        assert_eq!(f.stage, Stage::At(Screen::Token));
    }
}
