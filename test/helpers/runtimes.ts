import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { inRepo } from './repo.js';

const run = promisify(execFile);
const bin = (name: string) => inRepo(`node_modules/.bin/${name}`);

export interface Found {
  path?: string;
  version?: string;
  reason?: string;
}

/** A JavaScript runtime from the dev dependencies (the `bun` and `deno` npm packages), when its binary runs here. */
async function find(name: string): Promise<Found> {
  const path = bin(name);
  if (!existsSync(path)) return { reason: `node_modules/.bin/${name} is missing (npm ci installs the ${name} package)` };
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 30_000 });
    return { path, version: stdout.trim().split('\n')[0]! };
  } catch (error) {
    return { reason: `${name} --version failed: ${(error as Error).message.split('\n')[0]}` };
  }
}

export const findBun = () => find('bun');
export const findDeno = () => find('deno');
