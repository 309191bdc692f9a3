/** Types of sse.js (plain JavaScript: the browser loads it as it is). */
export declare function sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; id: string | null; data: string }, void>;
