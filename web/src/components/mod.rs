pub mod agreement;
pub mod app;
pub mod done;
pub mod form;
pub mod order;
pub mod pin;
pub mod start;
pub mod token_view;
