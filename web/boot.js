// Starts the app. A separate file, not an inline script: the kiosk app (an Isolated Web App)
// runs under a Content Security Policy that allows only scripts from its own bundle.
import init from './web.js';

// The demo token is its own module, fetched only when someone asks for it.
window.certrenewLoadDemo = async (saved, transport) => {
  const demo = await import('./demo.js');
  await demo.default();
  return new demo.DemoToken(saved, transport);
};

init();
