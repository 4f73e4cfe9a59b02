// Envoy's default tag extraction (source/common/config/well_known_names.cc, TagProducerImpl): turns a flat
// stat name such as `cluster.web.upstream_rq_200` into a tag-extracted name `cluster.upstream_rq` plus tags
// [envoy.response_code=200, envoy.cluster_name=web]. Used by the Prometheus renderer; pure and cacheable.

export interface Tag {
  /** Envoy's tag name, e.g. `envoy.cluster_name`. */
  readonly name: string;
  readonly value: string;
}

export interface ExtractedStat {
  /** The stat name with every extracted part removed, e.g. `cluster.upstream_rq`. */
  readonly name: string;
  /** Tags in extraction order (Envoy prints Prometheus labels in this order). */
  readonly tags: readonly Tag[];
}

interface Extractor {
  readonly name: string;
  /** The stat's first `.` token this extractor needs ('' = tried on every stat). */
  readonly prefix: string;
  /** Adds the tag and the [start, end) character range to remove, or returns false. */
  extract(stat: string, tokens: readonly string[], tags: Tag[], remove: [number, number][]): boolean;
}

// Pattern pieces from well_known_names.cc expandRegex().
const ADDRESS = String.raw`(?:(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F_\d]+\])_\d+)`;
const CIPHER = String.raw`[\w-]+`;
const TLS_VERSION = String.raw`TLSv\d\.\d`;
const TAG_VALUE = String.raw`[^\.]+`;
const ROUTE_CONFIG_NAME = String.raw`[\w.-]+`;
const LISTENER_OR_CLUSTER_WITH_NAME = String.raw`(?:listener|cluster)\..*?`;

/**
 * Regex extractor (Envoy's TagExtractorRe2Impl): group 1 is removed from the name, group 2 (or 1) is the
 * value. `substr` is a cheap pre-check; `negative` is a value that does not count as a match.
 */
function regexExtractor(name: string, source: string, substr = '', negative = ''): Extractor {
  const re = new RegExp(source, 'd');
  // Envoy's extractRegexPrefix: `^word\.` means the extractor only applies to stats starting with `word.`.
  const prefix = /^\^(\w+)\\\./.exec(source)?.[1] ?? '';
  return {
    name,
    prefix,
    extract(stat, _tokens, tags, remove) {
      if (substr !== '' && !stat.includes(substr)) return false;
      const m = re.exec(stat);
      const removed = m?.indices?.[1];
      if (!m || !removed || removed[0] === removed[1]) return false;
      const value = m[2] || m[1]!;
      if (negative !== '' && value === negative) return false;
      tags.push({ name, value });
      remove.push([removed[0], removed[1]]);
      return true;
    },
  };
}

/**
 * Tokenized extractor (Envoy's TagExtractorTokensImpl): `.`-separated tokens where `*` matches one token,
 * `**` zero or more, and `$` one token that becomes the tag value (removed with its following dot, or
 * with its preceding dot when it is the last token).
 */
function tokensExtractor(name: string, pattern: string): Extractor {
  const pat = pattern.split('.');
  const matchIndex = pat.indexOf('$');
  const first = pat[0]!;
  const search = (input: readonly string[], ii: number, pi: number, charIndex: number): { start: number; index: number } | null => {
    let found: { start: number; index: number } | null = null;
    for (; ii < input.length && pi < pat.length; ii++, pi++) {
      if (pi === matchIndex) {
        found = { start: charIndex, index: ii };
        charIndex += input[ii]!.length + 1;
        continue;
      }
      const expected = pat[pi]!;
      if (expected === '**') {
        if (pi === pat.length - 1) return found;
        for (; ii < input.length; ii++) {
          const rest = search(input, ii, pi + 1, charIndex);
          if (rest) return found ?? rest;
          charIndex += input[ii]!.length + 1;
        }
        return null;
      }
      if (expected !== '*' && expected !== input[ii]) return null;
      charIndex += input[ii]!.length + 1;
    }
    return pi === pat.length && ii === input.length ? found : null;
  };
  return {
    name,
    prefix: first === '$' || first === '*' || first === '**' ? '' : first,
    extract(_stat, tokens, tags, remove) {
      const hit = search(tokens, 0, 0, 0);
      if (!hit) return false;
      const value = tokens[hit.index]!;
      let start = hit.start;
      let end = start + value.length;
      if (hit.index < tokens.length - 1) end++;
      else if (start > 0) start--;
      tags.push({ name, value });
      remove.push([start, end]);
      return true;
    },
  };
}

/**
 * Envoy's default extractors, in Envoy's order (regexes first, then tokenized), for the stats nodevoy
 * produces. Left out: the Mongo, DynamoDB, Thrift, Redis, gRPC-bridge, ext_authz, UDP, client-SSL and
 * DNS-filter extractors (nodevoy has none of those filters).
 */
const DEFAULT_EXTRACTORS: readonly Extractor[] = [
  regexExtractor('envoy.response_code', String.raw`_rq(_(\d{3}))$`, '_rq_'),
  regexExtractor('envoy.response_code_class', String.raw`_rq_((\d))xx$`, '_rq_'),
  regexExtractor('envoy.ssl_cipher', String.raw`^listener\..*?\.ssl\.ciphers(\.(${CIPHER}))$`, '.ssl.ciphers.'),
  regexExtractor('envoy.ssl_curve', String.raw`^${LISTENER_OR_CLUSTER_WITH_NAME}\.ssl\.curves(\.(${CIPHER}))$`, '.ssl.curves.'),
  regexExtractor('envoy.ssl_sigalg', String.raw`^${LISTENER_OR_CLUSTER_WITH_NAME}\.ssl\.sigalgs(\.(${CIPHER}))$`, '.ssl.sigalgs.'),
  regexExtractor('envoy.ssl_version', String.raw`^${LISTENER_OR_CLUSTER_WITH_NAME}\.ssl\.versions(\.(${TLS_VERSION}))$`, '.ssl.versions.'),
  regexExtractor('cipher_suite', String.raw`^cluster\.${TAG_VALUE}\.ssl\.ciphers(\.(${CIPHER}))$`, '.ssl.ciphers.'),
  regexExtractor('envoy.http_conn_manager_prefix', String.raw`^listener\..*?\.http\.((${TAG_VALUE})\.)`, '.http.'),
  regexExtractor('envoy.worker_id',
    String.raw`^(?:listener\.(?:${ADDRESS}|${TAG_VALUE})\.|server\.|listener_manager\.)worker_((\d+)\.)`),
  regexExtractor('envoy.listener_address', String.raw`^listener\.((${ADDRESS}|${TAG_VALUE})\.)`, '', 'admin'),
  regexExtractor('envoy.rds_route_config', String.raw`^http\.${TAG_VALUE}\.rds\.((${ROUTE_CONFIG_NAME})\.)\w+?$`, '.rds.'),
  tokensExtractor('envoy.http_user_agent', 'http.*.user_agent.$.**'),
  tokensExtractor('envoy.virtual_cluster', 'vhost.*.vcluster.$.**'),
  tokensExtractor('envoy.fault_downstream_cluster', 'http.*.fault.$.**'),
  tokensExtractor('envoy.tcp_prefix', 'tcp.$.**'),
  tokensExtractor('envoy.ratelimit_prefix', 'ratelimit.$.**'),
  tokensExtractor('envoy.cluster_name', 'cluster.$.**'),
  tokensExtractor('envoy.http_conn_manager_prefix', 'http.$.**'),
  tokensExtractor('envoy.virtual_host', 'vhost.$.**'),
  tokensExtractor('envoy.route', 'vhost.*.route.$.**'),
  tokensExtractor('envoy.local_http_ratelimit_prefix', '$.http_local_rate_limit.**'),
  tokensExtractor('envoy.local_network_ratelimit_prefix', 'local_rate_limit.$.**'),
  tokensExtractor('envoy.local_listener_ratelimit_prefix', 'listener_local_ratelimit.$.**'),
];

/** Envoy's TagProducerImpl over a list of extractors (the defaults unless given). */
export class TagProducer {
  private readonly withoutPrefix: readonly Extractor[];
  private readonly byPrefix = new Map<string, Extractor[]>();
  private readonly sharedNames: ReadonlySet<string>;

  constructor(extractors: readonly Extractor[] = DEFAULT_EXTRACTORS) {
    this.withoutPrefix = extractors.filter((e) => e.prefix === '');
    for (const e of extractors) {
      if (e.prefix === '') continue;
      const list = this.byPrefix.get(e.prefix);
      if (list) list.push(e);
      else this.byPrefix.set(e.prefix, [e]);
    }
    const seen = new Set<string>();
    const shared = new Set<string>();
    for (const e of extractors) (seen.has(e.name) ? shared : seen).add(e.name);
    this.sharedNames = shared;
  }

  produceTags(stat: string): ExtractedStat {
    const tokens = stat.split('.');
    const tags: Tag[] = [];
    const remove: [number, number][] = [];
    const done = new Set<string>();
    const apply = (e: Extractor): void => {
      // When two extractors share a tag name, only the first match counts (TagProducerImpl's dup_set).
      if (this.sharedNames.has(e.name) && done.has(e.name)) return;
      if (e.extract(stat, tokens, tags, remove)) done.add(e.name);
    };
    for (const e of this.withoutPrefix) apply(e);
    for (const e of this.byPrefix.get(tokens[0]!) ?? []) apply(e);
    if (remove.length === 0) return { name: stat, tags };
    let name = '';
    for (let i = 0; i < stat.length; i++) {
      if (!remove.some(([s, e]) => i >= s && i < e)) name += stat[i];
    }
    return { name, tags };
  }
}
