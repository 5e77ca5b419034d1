/**
 * The signal attributes of counter and provider-day items are the table's layout, kept in lib/table; named here
 * too until every importer takes them there.
 */
export * from '../table/signal-attributes';
