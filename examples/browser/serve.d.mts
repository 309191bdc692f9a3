/** Types of serve.mjs (plain JavaScript, so it runs with node alone). */
import type { Server } from 'node:http';
export declare function serveStatic(root: string, port?: number): Promise<{ server: Server; url: string }>;
