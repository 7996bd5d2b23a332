/** The application_name of maintenance connections: distinct from the observer's `relaytop`. */
export const MAINTENANCE_APPLICATION_NAME = 'relaytop maintenance';

/** Defaults for writes: a lock is waited for 1 s at most, a batch runs 30 s at most. */
export const DEFAULT_LOCK_TIMEOUT_MS = 1000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
