// Starts the app. A separate file, not an inline script: the kiosk app (an Isolated Web App)
// runs under a Content Security Policy that allows only scripts from its own bundle.
import init from './web.js';
init();
