/** 0 done; 1 the work failed (a job failed, no such job); 2 bad usage or configuration; 3 the database is out of reach. */
export const EXIT = { ok: 0, failed: 1, usage: 2, database: 3 } as const;
