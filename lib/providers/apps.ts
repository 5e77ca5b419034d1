/**
 * The app of a delivery sent to a provider's own URL (`/webhooks/<provider>`), verified with the credentials the
 * signing secret holds at the provider's top level: the only app there was before a provider could have several.
 */
export const DEFAULT_APP = 'default';
