/** Types of ensure-chromium.mjs (plain JavaScript, so it runs with node before any build). */
export declare const CHROMIUM: string;
export declare const CHROMIUM_ARGS: string[];
export declare function ensureChromium(options?: { log?: (line: string) => void }): Promise<string>;
