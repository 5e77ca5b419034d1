/**
 * The receive function's clients are composed where the receive chain is, in lib/receive; named here too until
 * every importer takes them there.
 */
export * from '../receive/services';
