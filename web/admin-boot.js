// Starts the review console. A file, not an inline script: every page is served under a Content
// Security Policy that allows scripts from this origin only.
import init from './admin.js';

init();
