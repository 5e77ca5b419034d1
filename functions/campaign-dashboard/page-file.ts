import { join } from 'node:path';

/**
 * Where the dashboard page's HTML is on disk, for the local dashboard, which reads it at each request. Beside
 * this module in the sources (`page/index.html`); in the built package the command-line bundle sits in `dist/`
 * and the page is copied to `dist/page/index.html`, the same path from the bundle. The deployed function
 * imports the page's text into its bundle instead.
 */
export const DASHBOARD_PAGE_FILE = join(import.meta.dirname, 'page', 'index.html');
