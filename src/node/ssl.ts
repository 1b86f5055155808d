/**
 * TLS contexts (Python's `ssl` module, what the loop needs of it).
 * Placeholder of the skeleton: filled in by the TLS work.
 */
export class SSLContext {}
