import * as v from 'valibot';

/**
 * The app of a delivery sent to a provider's own URL (`/webhooks/<provider>`), verified with the credentials the
 * signing secret holds at the provider's top level: the only app there was before a provider could have several.
 */
export const DEFAULT_APP = 'default';

/** An app's name: one URL path segment (`/webhooks/<provider>/<app>`), a part of the record, a route's name. */
const APP_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** @returns `true` for a name an app may have: 1 to 32 lower-case letters, digits or hyphens, not `default`. */
export const isAppName = (name: string) => APP_NAME.test(name) && name !== DEFAULT_APP;

/** The schema of an app's name (see {@link isAppName}). */
export const AppNameSchema = v.pipe(
  v.string(),
  v.check(isAppName, 'expected 1 to 32 lower-case letters, digits or hyphens, and not default'),
);
