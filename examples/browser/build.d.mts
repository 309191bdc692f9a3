/** Types of build.mjs (plain JavaScript, so it runs with node alone). */
export declare function buildBrowserExample(outdir?: string): Promise<{ outdir: string; inputs: string[]; warnings: unknown[] }>;
