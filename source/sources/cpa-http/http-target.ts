/** A CPA-Manager base address, as opposed to a file or a postgres:// URL. */
export const isHttpTarget = (target: string): boolean => /^https?:\/\//iu.test(target);
