/** The reason a range too short for a rollup is queried directly: cheap, and nothing to report. */
export const SHORT_RANGE = 'a short range';
