//! Reads a saved virtual token (`vtoken vpcd --state FILE`) and authenticates with its
//! PIN-protected management key through our PIV client — the interop test has ykman store the
//! key first, so this checks that we read what ykman writes.
//!
//!   cargo run -p token --example pin_protected_key -- STATE [PIN]

use ccid::piv::{Pin, Piv};
use token::PivApplet;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), pin) = (args.next(), args.next().unwrap_or_else(|| "123456".into())) else {
        eprintln!("usage: pin_protected_key STATE [PIN]");
        std::process::exit(2);
    };
    let Some(applet) = std::fs::read(&path)
        .ok()
        .and_then(|b| PivApplet::restore(&b))
    else {
        eprintln!("{path}: not a saved token");
        std::process::exit(1);
    };
    let result = pollster::block_on(async {
        let mut piv = Piv::new(applet);
        piv.select().await?;
        piv.verify_pin(&Pin::new(pin.as_bytes())?).await?;
        let key = piv
            .pin_protected_management_key()
            .await?
            .ok_or(ccid::piv::PivError::NotFound)?;
        piv.authenticate(&key).await?;
        Ok::<_, ccid::piv::PivError>(key.algorithm())
    });
    match result {
        Ok(alg) => println!("authenticated with the PIN-protected management key ({alg:?})"),
        Err(e) => {
            println!("failed: {e}");
            std::process::exit(1);
        }
    }
}
