/**
 * Authenticating a delivery by its provider's scheme is the receive chain's step, kept in lib/receive; named
 * here too until every importer takes it there.
 */
export * from '../receive/authenticate';
