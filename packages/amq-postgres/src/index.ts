export { PostgresConnectionError, PostgresStatementError } from './connection-errors';
export type { PostgresConnectOptions, PostgresOptions, PostgresTlsOptions } from './settings';
export { DEFAULTS as POSTGRES_DEFAULTS } from './settings';
export { connect } from './transport';
