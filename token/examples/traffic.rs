//! Our client's traffic for the two jobs the traffic benchmark compares (bench/traffic.sh):
//! "read certificate + verify PIN + sign" and "write a 2 KB certificate", counted at the token.
//! Prints `job apdus bytes_in bytes_out` lines.

use ccid::keys::ManagementKey;
use ccid::piv::{Algorithm, Pin, Piv, Slot};
use ccid::CcidReader;
use token::keys::PrivateKey;
use token::{PivApplet, VirtualReader};

fn main() {
    // Sizes of the certificates the tools handled, so both sides move the same bytes.
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a size in bytes"));
    let (read_len, write_len) = (args.next().unwrap_or(700), args.next().unwrap_or(2048));
    let key = PrivateKey::generate(Algorithm::EccP256).expect("key");
    let mut applet = PivApplet::new();
    applet.install_key(Slot::Authentication, key);
    applet.install_certificate(Slot::Authentication, &vec![0x30; read_len]);
    let r = VirtualReader::new(applet);
    let desc = r.descriptor().clone();
    let mut piv = Piv::new(CcidReader::new(r, desc).expect("reader"));
    pollster::block_on(async {
        piv.card_mut().power_on().await.expect("power on");
        piv.card_mut().transport_mut().applet.reset_stats();
        piv.select().await.expect("select");
        let cert = piv
            .read_certificate(Slot::Authentication)
            .await
            .expect("read")
            .expect("certificate");
        assert_eq!(cert.len(), read_len);
        piv.verify_pin(&Pin::new(b"123456").expect("pin"))
            .await
            .expect("verify");
        piv.sign_sha256(Slot::Authentication, Algorithm::EccP256, b"application")
            .await
            .expect("sign");
        report(&mut piv, "read+verify+sign");
        piv.select().await.expect("select");
        piv.authenticate(&ManagementKey::default_tdes())
            .await
            .expect("auth");
        piv.write_certificate(Slot::Authentication, &vec![0x30; write_len])
            .await
            .expect("write");
        report(&mut piv, "write-2k-cert");
    });
}

fn report(piv: &mut Piv<CcidReader<VirtualReader>>, job: &str) {
    let applet = &mut piv.card_mut().transport_mut().applet;
    let s = applet.stats();
    println!("{job} {} {} {}", s.apdus, s.bytes_in, s.bytes_out);
    applet.reset_stats();
}
