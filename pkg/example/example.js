// The smallest use of the package: connect, read slot 9A, show what the certificate says.
import init, * as bridge from '../dist/certrenew_token_bridge.js';
const { Token, summarizeCertificate } = bridge;

await init();
const result = document.getElementById('result');

async function show(token) {
  const der = await token.readCertificate(0x9a);
  if (!der) { result.textContent = 'No certificate in slot 9A.'; return; }
  const s = summarizeCertificate(der);
  result.innerHTML = '';
  for (const [k, v] of [['transport', token.transport], ['subject', s.subject], ['issuer', s.issuer], ['serial', s.serial],
    ['valid until', new Date(s.notAfter * 1000).toISOString()], ['days left', s.daysLeft]]) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.field = k;
    result.append(dt, dd);
  }
}

const run = (f) => () => f().catch(e => { result.textContent = `Error: ${e.message ?? e}`; });
document.getElementById('usb').onclick = run(async () => show(await Token.requestUsb()));
// Only the demo build (scripts/build-pkg --demo) carries the virtual token.
const demo = document.getElementById('demo');
if (bridge.demoUsbDevice) demo.onclick = run(async () => show(await Token.fromUsbDevice(bridge.demoUsbDevice('示例用户 Demo'))));
else demo.hidden = true;
