#!/usr/bin/env node
// The nodevoy executable: runs the compiled CLI from dist/ when built, otherwise the TypeScript
// sources directly (Node >= 22.18 strips types natively; the sources use erasable syntax only).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
await import(existsSync(compiled) ? compiled : '../cli/main.ts');
