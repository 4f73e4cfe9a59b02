// Writes the workload's certificate directory (Istio's file names: cert-chain.pem, key.pem, root-cert.pem)
// so that the directory watch sees whole files: each is written to a temporary name and renamed into place
// (Envoy's watched_directory reloads on a move into the directory). key.pem is 0600 and written nowhere else.

import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKLOAD_FILES, type WorkloadFiles } from '../../certs/files.ts';

/** Renames the key last: until it lands, the chain and key disagree and the secret keeps the old pair. */
export function writeCertDirectory(dir: string, files: WorkloadFiles): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries: [string, string, number][] = [
    [WORKLOAD_FILES.rootCert, files.rootCertPem, 0o644],
    [WORKLOAD_FILES.certChain, files.certChainPem, 0o644],
    [WORKLOAD_FILES.key, files.keyPem, 0o600],
  ];
  for (const [name, data, mode] of entries) {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode); // the umask may have narrowed or a previous file widened it
    renameSync(tmp, join(dir, name));
  }
}
