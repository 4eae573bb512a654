//! `vtoken vpcd [--host H] [--port P] [--state FILE]`: plugs a virtual token into a running
//! vpcd (vsmartcard) so pcscd-based tools see it, and stays until killed. With `--state`, the
//! token is loaded from FILE when it exists and saved there after every command. With `--stats`,
//! the counts of APDUs and bytes received and sent are written to FILE after every command.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
use std::net::TcpStream;
#[cfg(not(target_arch = "wasm32"))]
use std::path::PathBuf;
#[cfg(not(target_arch = "wasm32"))]
use std::time::Duration;
#[cfg(not(target_arch = "wasm32"))]
use token::PivApplet;

#[cfg(not(target_arch = "wasm32"))]
fn usage() -> ! {
    eprintln!("usage: vtoken vpcd [--host HOST] [--port PORT] [--state FILE] [--stats FILE]");
    std::process::exit(2)
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("vpcd") {
        usage();
    }
    let (mut host, mut port, mut state, mut stats) = (
        "127.0.0.1".to_string(),
        35963u16,
        None::<PathBuf>,
        None::<PathBuf>,
    );
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--host", Some(v)) => host = v,
            ("--port", Some(v)) => port = v.parse().unwrap_or_else(|_| usage()),
            ("--state", Some(v)) => state = Some(v.into()),
            ("--stats", Some(v)) => stats = Some(v.into()),
            _ => usage(),
        }
    }
    let mut applet = match &state {
        Some(p) if p.exists() => match std::fs::read(p).ok().and_then(|b| PivApplet::restore(&b)) {
            Some(a) => a,
            None => {
                eprintln!("vtoken: {} is not a saved token", p.display());
                std::process::exit(1)
            }
        },
        _ => PivApplet::new(),
    };
    eprintln!(
        "vtoken: serial {}, connecting to vpcd at {host}:{port}",
        applet.serial()
    );
    // vpcd may start after us (or restart): keep reconnecting.
    loop {
        match TcpStream::connect((host.as_str(), port)) {
            Ok(mut s) => {
                let _ = s.set_nodelay(true);
                eprintln!("vtoken: inserted");
                let save = |a: &PivApplet| {
                    if let Some(p) = &stats {
                        let s = a.stats();
                        let _ = std::fs::write(
                            p,
                            format!("{} {} {}\n", s.apdus, s.bytes_in, s.bytes_out),
                        );
                    }
                    if let Some(p) = &state {
                        if let Err(e) = std::fs::write(p, a.save().as_slice()) {
                            eprintln!("vtoken: cannot save state: {e}");
                        }
                    }
                };
                if let Err(e) = token::vpcd::serve(&mut s, &mut applet, save) {
                    eprintln!("vtoken: connection ended: {e}");
                }
                applet.power_cycle();
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}
