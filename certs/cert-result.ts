// The outcome of a certificate operation that can be refused (a bad CSR, a policy refusal, an unreadable
// CA directory): the value, or one reason fit for a log line. Reasons never contain key material.

export type CertResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export const accept = <T>(value: T): CertResult<T> => ({ ok: true, value });
export const refuse = <T = never>(reason: string): CertResult<T> => ({ ok: false, reason });
