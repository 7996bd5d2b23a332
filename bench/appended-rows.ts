/** What the range-rollups writers mark their rows with (a CPA event hash, a new-api `content`), so that they can be taken out of the cached stores again. */
export const APPENDED = '-appended-';
