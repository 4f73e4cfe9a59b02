// envoy.type.v3.HttpStatus: `code` is a StatusCode enum, written as its name ("TooManyRequests") or
// its number (429) in protobuf JSON; only the codes Envoy's enum defines are accepted (defined_only).

import { z } from 'zod';
import { message } from '../../../config/schema-kit.ts';

/** envoy.type.v3.StatusCode (Empty = 0 is excluded by HttpStatus.code's `not_in: 0`). */
const STATUS_CODES: Readonly<Record<string, number>> = {
  Continue: 100, OK: 200, Created: 201, Accepted: 202, NonAuthoritativeInformation: 203, NoContent: 204,
  ResetContent: 205, PartialContent: 206, MultiStatus: 207, AlreadyReported: 208, IMUsed: 226,
  MultipleChoices: 300, MovedPermanently: 301, Found: 302, SeeOther: 303, NotModified: 304, UseProxy: 305,
  TemporaryRedirect: 307, PermanentRedirect: 308, BadRequest: 400, Unauthorized: 401, PaymentRequired: 402,
  Forbidden: 403, NotFound: 404, MethodNotAllowed: 405, NotAcceptable: 406, ProxyAuthenticationRequired: 407,
  RequestTimeout: 408, Conflict: 409, Gone: 410, LengthRequired: 411, PreconditionFailed: 412,
  PayloadTooLarge: 413, URITooLong: 414, UnsupportedMediaType: 415, RangeNotSatisfiable: 416,
  ExpectationFailed: 417, MisdirectedRequest: 421, UnprocessableEntity: 422, Locked: 423, FailedDependency: 424,
  UpgradeRequired: 426, PreconditionRequired: 428, TooManyRequests: 429, RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500, NotImplemented: 501, BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504,
  HTTPVersionNotSupported: 505, VariantAlsoNegotiates: 506, InsufficientStorage: 507, LoopDetected: 508,
  NotExtended: 510, NetworkAuthenticationRequired: 511,
};
const DEFINED = new Set(Object.values(STATUS_CODES));

const statusCode = z.union([z.string(), z.number().int()]).transform((raw, ctx): number => {
  const code = typeof raw === 'number' ? raw : STATUS_CODES[raw];
  if (code !== undefined && DEFINED.has(code)) return code;
  ctx.addIssue({ code: 'custom', message: `${String(raw)} is not an envoy.type.v3.StatusCode value (e.g. 429 or "TooManyRequests")` });
  return z.NEVER;
});

export const HttpStatusSchema = message('envoy.type.v3.HttpStatus', { code: statusCode });
