// A command's stdout and stderr captured in memory, for the cli/ commands that take a CommandIo.

import { PassThrough } from 'node:stream';

export interface CapturedIo {
  readonly io: { readonly out: PassThrough; readonly err: PassThrough };
  text(): { stdout: string; stderr: string };
}

export function captureIo(): CapturedIo {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => { stdout += c.toString(); });
  err.on('data', (c: Buffer) => { stderr += c.toString(); });
  return { io: { out, err }, text: () => ({ stdout, stderr }) };
}
