// `nodevoy validate FILE`: validates an Envoy v3 bootstrap and lists every problem with its field path
// (and line, for YAML), telling unknown fields apart from Envoy fields nodevoy does not implement.

import { loadBootstrap } from './config-input.ts';
import { printConfigErrors } from './report.ts';

export async function runValidate(argv: string[]): Promise<number> {
  const files = argv.filter((a) => !a.startsWith('-'));
  if (files.length === 0) {
    process.stderr.write('usage: nodevoy validate FILE [FILE ...]\n');
    return 1;
  }
  let failed = 0;
  for (const file of files) {
    const loaded = await loadBootstrap({ configPath: file, configYaml: undefined });
    if (loaded.ok) {
      process.stdout.write(`configuration '${file}' OK\n`);
    } else {
      failed++;
      await printConfigErrors(file, loaded.errors, process.stdout);
    }
  }
  return failed === 0 ? 0 : 1;
}
