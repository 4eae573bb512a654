//! Load generator: complete renewals against a running server (started with --auto-approve), each
//! from its own virtual token, N clients at once. Prints renewals per second, p50/p99 latency per
//! endpoint, and the CA's raw signing rate measured in the same run.
//!
//! cargo run --release -p certrenew-server --example load -- --url URL --data DIR [--clients 100] [--renewals 2000] [--server-pid PID] [--legacy]

use base64::Engine;
use ccid::piv::{Algorithm, Pin, Slot};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use token::keys::PrivateKey;
use token::PivApplet;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

type Latencies = Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>>;

type Job = Box<dyn FnOnce() + Send>;

/// Where the clients' CPU work runs (the tokens' signatures, the provider's notice): as many threads
/// as cores, so it never sits on an async worker between a response and its timestamp, and never
/// has more threads than cores taking turns with the server's in the middle of its requests (on
/// tokio's blocking pool, dozens did; interleaved runs, mean over endpoints: p50 23 → 14–20 ms,
/// p99 45–51 → 32–43 ms).
static CLIENT_WORK: std::sync::OnceLock<std::sync::mpsc::SyncSender<Job>> =
    std::sync::OnceLock::new();

fn start_client_work(threads: usize) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(1024);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..threads {
        let rx = rx.clone();
        std::thread::spawn(move || loop {
            let job = rx.lock().expect("lock").recv();
            match job {
                Ok(job) => job(),
                Err(_) => break,
            }
        });
    }
    CLIENT_WORK.set(tx).expect("started once");
}

async fn off_loop<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    CLIENT_WORK
        .get()
        .expect("client work started")
        .send(job)
        .expect("client work threads");
    rx.await.expect("client work")
}

/// The virtual token as a card whose every APDU is answered off the async workers (its
/// signatures and key operations are the client's CPU work).
struct OffLoop(Option<PivApplet>);

impl ccid::Card for OffLoop {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ccid::CardError> {
        let mut applet = self.0.take().ok_or(ccid::CardError::Removed)?;
        let apdu = apdu.to_vec();
        let (applet, answer) = off_loop(move || {
            let answer = pollster::block_on(ccid::Card::transmit_raw(&mut applet, &apdu));
            (applet, answer)
        })
        .await;
        self.0 = Some(applet);
        answer
    }
}

/// The renewal API as the browser's protocol calls it, each request's latency recorded under
/// its endpoint.
struct Timed {
    client: renewal::http::Client,
    lat: Latencies,
}

impl renewal::RenewalApi for Timed {
    async fn post_json(
        &self,
        path: &str,
        order_token: Option<&str>,
        body: String,
    ) -> Result<renewal::Reply, renewal::CallError> {
        let name = match path.rsplit('/').next().unwrap_or_default() {
            "challenges" => "POST /challenges",
            "applications" => "POST /applications",
            "certificate" => "POST /orders/{n}/certificate",
            "confirm" => "POST /orders/{n}/confirm",
            _ => "POST (other)",
        };
        timed(
            &self.lat,
            name,
            self.client.post_json(path, order_token, body),
        )
        .await
    }

    fn b64_encode(&self, bytes: &[u8]) -> String {
        self.client.b64_encode(bytes)
    }

    fn b64_decode(&self, text: &str) -> Option<Vec<u8>> {
        self.client.b64_decode(text)
    }
}

fn form(i: usize) -> api::ApplicationForm {
    api::ApplicationForm {
        period_months: 12,
        operator: api::Operator {
            id_type: api::IdType::ResidentId,
            id_number: "11010519491231002X".into(),
            name: format!("经办人{i}"),
            mobile: "13800138000".into(),
            email: "ops@supplier.cn".into(),
        },
        recipient: api::Recipient {
            name: "李四".into(),
            mobile: "13900139000".into(),
            address: "深圳市福田区某路1号".into(),
        },
    }
}

async fn timed<T>(
    lat: &Latencies,
    name: &'static str,
    f: impl std::future::Future<Output = T>,
) -> T {
    let start = Instant::now();
    let out = f.await;
    lat.lock()
        .expect("lock")
        .entry(name)
        .or_default()
        .push(start.elapsed());
    out
}

/// Who pays: the sandbox's notice signed here and posted, or a mock gateway (Alipay's SDK,
/// tests/e2e/alipay-mock.mjs) that marks the trade paid and sends its own signed notice.
#[derive(Clone)]
enum Payer {
    Sandbox(Arc<certrenew_server::payment::Sandbox>),
    AlipayMock(String),
}

async fn pay(
    http: &reqwest::Client,
    url: &str,
    payer: &Payer,
    p: &api::PaymentView,
    lat: &Latencies,
) -> Result<(), String> {
    let ack = match payer {
        Payer::Sandbox(sandbox) => {
            // The provider's notice, as the sandbox would send it.
            let notice = {
                let (sandbox, id, fen) = (sandbox.clone(), p.id.clone(), p.amount_fen);
                off_loop(move || sandbox.notice(&id, "SBXLOAD", fen, certrenew_server::now())).await
            };
            timed(lat, "POST /payments/alipay/notify", async {
                http.post(format!("{url}/api/v1/payments/alipay/notify"))
                    .form(&notice)
                    .send()
                    .await?
                    .text()
                    .await
            })
            .await
            .map_err(|e| e.to_string())?
        }
        Payer::AlipayMock(mock) => {
            let paid: serde_json::Value = timed(
                lat,
                "mock pays (its notice to /payments/alipay/notify)",
                async {
                    http.post(format!("{mock}/_test/pay?out_trade_no={}", p.id))
                        .send()
                        .await?
                        .json()
                        .await
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            paid["delivered"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    if ack != "success" {
        return Err(format!("notice: {ack}"));
    }
    Ok(())
}

/// One renewal as the browser runs it (`renewal::apply`, `renewal::install`), paid in between.
async fn renew(
    http: &reqwest::Client,
    url: &str,
    payer: &Payer,
    applet: PivApplet,
    cert: Vec<u8>,
    i: usize,
    lat: &Latencies,
) -> Result<(), String> {
    use renewal::Token;
    let api = Timed {
        client: renewal::http::Client::new(http.clone(), url),
        lat: lat.clone(),
    };
    let token = renewal::Direct::new(OffLoop(Some(applet)));
    let pin = Pin::new(b"123456").map_err(|e| e.to_string())?;
    // The PIN screen (without its prefill request: the load is renewals).
    token
        .with(async |piv| piv.verify_pin(&pin).await)
        .await
        .map_err(|e| format!("pin: {e:?}"))?;
    let (order, order_token) = renewal::apply(&token, &api, &cert, &form(i))
        .await
        .map_err(|e| format!("apply: {e:?}"))?;
    let n = &order.number;
    let p: api::PaymentView = timed(lat, "POST /orders/{n}/payments", async {
        http.post(format!("{url}/api/v1/orders/{n}/payments")).header("x-order-token", &order_token).json(&serde_json::json!({"method": "alipay_qr", "invoice_title": "某公司", "taxpayer_id": "91350100M000100Y43"})).send().await?.json().await
    })
    .await
    .map_err(|e| e.to_string())?;
    pay(http, url, payer, &p, lat).await?;
    // Auto-approved on the notice; the install needs only the order's number and key holder.
    let now = certrenew_server::now();
    let done = renewal::install(&token, &api, &order, &order_token, &cert, &pin, now, |_| {})
        .await
        .map_err(|e| format!("install: {e:?}"))?;
    if done.order.status != api::OrderStatus::Installed {
        return Err(format!("ended {:?}", done.order.status));
    }
    Ok(())
}

/// CPU time (user + system, all threads) a process has used, from /proc (Linux; USER_HZ = 100).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut url, mut data, mut clients, mut renewals, mut server_pid) =
        (String::new(), String::new(), 100usize, 2000usize, None);
    let mut legacy = false;
    let mut alipay_mock = None;
    while let Some(a) = args.next() {
        if a == "--legacy" {
            legacy = true;
            continue;
        }
        let v = args.next().expect("value");
        match a.as_str() {
            "--url" => url = v,
            "--data" => data = v,
            "--clients" => clients = v.parse().expect("number"),
            "--renewals" => renewals = v.parse().expect("number"),
            "--server-pid" => server_pid = Some(v),
            "--alipay-mock" => alipay_mock = Some(v),
            _ => panic!("unknown {a}"),
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    start_client_work(cores);
    let dir = std::path::PathBuf::from(&data);
    // An existing CA keeps its key; the algorithm only matters when creating one. With
    // CERTRENEW_CA_KEY_URI (as the server was given by bench/load.sh) its key is in that HSM.
    let hsm = std::env::var("CERTRENEW_CA_KEY_URI").ok();
    let (ca, _) = match &hsm {
        None => certrenew_server::ca::Ca::load_or_create(
            &dir,
            certrenew_server::now(),
            ccid::piv::Algorithm::EccP256,
        ),
        Some(uri) => certrenew_server::ca::Ca::with_hsm(
            &dir,
            certrenew_server::now(),
            ccid::piv::Algorithm::EccP256,
            uri,
            &std::env::var(certrenew_server::hsm::PIN_VAR).expect("CERTRENEW_CA_PIN"),
        ),
    }
    .expect("CA in the server's data dir");
    let payer = match alipay_mock {
        Some(mock) => Payer::AlipayMock(mock),
        None => Payer::Sandbox(Arc::new(
            certrenew_server::payment::Sandbox::load_or_create(&dir).expect("sandbox key"),
        )),
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    // Steady state: tokens hold certificates this CA issued and recorded (through the demo
    // endpoint). --legacy: certificates it never recorded (migrated from before), which cost the
    // server a signature check each.
    eprintln!(
        "preparing {renewals} tokens ({} certificates) …",
        if legacy { "unrecorded" } else { "recorded" }
    );
    let t = certrenew_server::now();
    let mut work = Vec::with_capacity(renewals);
    for i in 0..renewals {
        let key = PrivateKey::generate(Algorithm::EccP256).expect("key");
        let cert = if legacy {
            let subject: x509_cert::name::Name = format!("CN=负载测试{i},O=certrenew,C=CN")
                .parse()
                .expect("name");
            ca.issue_end_entity(
                &subject,
                &key.public_key(),
                t - 300 * 86_400,
                t + 30 * 86_400,
            )
            .expect("cert")
        } else {
            let spki = key.public_key().to_spki_der().expect("spki");
            let r: api::IssueResponse = http
                .post(format!("{url}/api/v1/demo/certificate"))
                .json(&api::DemoCertificateRequest {
                    public_key: B64.encode(spki),
                })
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("demo certificate (is the server started with --demo?)")
                .json()
                .await
                .expect("demo certificate");
            B64.decode(r.certificate).expect("base64")
        };
        let mut applet = PivApplet::new();
        applet.install_key(Slot::Authentication, key);
        applet.install_certificate(Slot::Authentication, &cert);
        work.push((applet, cert, i));
    }
    let queue = Arc::new(Mutex::new(work));
    let lat: Latencies = Arc::default();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let cpu_before = (
        cpu_seconds("self"),
        server_pid.as_deref().and_then(cpu_seconds),
    );
    eprintln!("renewing with {clients} clients …");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (queue, lat, http, url, payer, errors) = (
            queue.clone(),
            lat.clone(),
            http.clone(),
            url.clone(),
            payer.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((applet, cert, i)) = queue.lock().expect("lock").pop() else {
                    break;
                };
                if let Err(e) = renew(&http, &url, &payer, applet, cert, i, &lat).await {
                    errors.lock().expect("lock").push(e);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_after = (
        cpu_seconds("self"),
        server_pid.as_deref().and_then(cpu_seconds),
    );
    let errors = errors.lock().expect("lock").clone();
    let done = renewals - errors.len();
    let rate = done as f64 / elapsed;
    // The CA's raw signing rate on the same machine, measured right after.
    let n = 5000;
    let s = Instant::now();
    for i in 0..n {
        std::hint::black_box(ca.sign(&(i as u64).to_be_bytes()));
    }
    let sign_rate = n as f64 / s.elapsed().as_secs_f64();
    println!(
        "renewals: {done} complete, {} failed, {clients} clients, {elapsed:.1} s",
        errors.len()
    );
    println!("renewals per second: {rate:.0}");
    println!(
        "CA raw signing rate ({:?}, {}): {sign_rate:.0}/s; renewals / signing = {:.3}",
        ca.public_key().algorithm(),
        if hsm.is_some() { "HSM" } else { "one core" },
        rate / sign_rate
    );
    // Where the time goes: CPU per renewal on each side of the loopback.
    let per =
        |a: Option<f64>, b: Option<f64>| b.zip(a).map(|(b, a)| (b - a) * 1000.0 / done as f64);
    if let (Some(gen), server) = (
        per(cpu_before.0, cpu_after.0),
        per(cpu_before.1, cpu_after.1),
    ) {
        let server_text = server.map_or("?".into(), |s| format!("{s:.2}"));
        println!(
            "CPU per renewal: server {server_text} ms, load generator {gen:.2} ms ({cores} cores: \
             {:.0} renewals/s if the CPUs were the only limit)",
            cores as f64 * 1000.0 / (gen + server.unwrap_or(0.0))
        );
    }
    // Where each renewal's time goes. The clients never pause (a closed loop), so the mean is
    // fixed by the rate (Little's law: clients ÷ renewals/s); whatever the clients' own work does
    // not take is spent queued at the server, so cheaper client work raises the rate but not
    // the endpoints' latency.
    let at_server: f64 = lat
        .lock()
        .expect("lock")
        .values()
        .map(|v| v.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / v.len().max(1) as f64)
        .sum();
    let each = clients as f64 * elapsed * 1000.0 / done.max(1) as f64;
    println!(
        "each renewal took {each:.0} ms ({clients} clients ÷ {rate:.0}/s): {at_server:.0} ms waiting \
         on the server ({:.0} %), {:.0} ms in client work (tokens, the provider's notice, HTTP)",
        100.0 * at_server / each,
        each - at_server
    );
    println!(
        "{:<32} {:>8} {:>9} {:>9}",
        "endpoint", "count", "p50 ms", "p99 ms"
    );
    for (name, v) in lat.lock().expect("lock").iter_mut() {
        let count = v.len();
        println!(
            "{name:<32} {count:>8} {:>9.2} {:>9.2}",
            pct(v, 0.5),
            pct(v, 0.99)
        );
    }
    for e in errors.iter().take(5) {
        println!("error: {e}");
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
