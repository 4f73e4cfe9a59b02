// Reads the bootstrap the way Envoy's CLI does: -c/--config-path file, --config-yaml string merged over
// it (proto MergeFrom: messages merge, repeated fields append, scalars replace), then validation.

import { parseConfigText, readConfigText } from '../proxy/config/load.ts';
import { validateBootstrap, type BootstrapConfig } from '../proxy/config/bootstrap.ts';
import type { ConfigError } from '../proxy/common/result.ts';

export interface ConfigSourceOptions {
  readonly configPath: string | undefined;
  readonly configYaml: string | undefined;
  readonly serviceNode?: string | undefined;
  readonly serviceCluster?: string | undefined;
}

/** Protobuf MergeFrom over plain JSON values. */
export function protoMerge(base: unknown, over: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  if (isObject(base) && isObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in out ? protoMerge(out[k], v) : v;
    return out;
  }
  return over;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export type LoadedConfig = { ok: true; config: BootstrapConfig; source: string } | { ok: false; errors: readonly ConfigError[]; source: string };

export async function loadBootstrap(opts: ConfigSourceOptions): Promise<LoadedConfig> {
  let input: unknown = {};
  let source = '--config-yaml';
  if (opts.configPath !== undefined) {
    source = opts.configPath;
    const text = await readConfigText(opts.configPath);
    if (!text.ok) return { ok: false, errors: text.errors, source };
    const parsed = parseConfigText(text.value, opts.configPath);
    if (!parsed.ok) return { ok: false, errors: parsed.errors, source };
    input = parsed.value;
  }
  if (opts.configYaml !== undefined) {
    const parsed = parseConfigText(opts.configYaml, '--config-yaml');
    if (!parsed.ok) return { ok: false, errors: parsed.errors, source: '--config-yaml' };
    input = protoMerge(input, parsed.value);
  }
  const result = validateBootstrap(input, {
    ...(opts.serviceNode !== undefined ? { serviceNode: opts.serviceNode } : {}),
    ...(opts.serviceCluster !== undefined ? { serviceCluster: opts.serviceCluster } : {}),
  });
  return result.ok ? { ok: true, config: result.value, source } : { ok: false, errors: result.errors, source };
}
