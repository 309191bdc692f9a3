// The thread entry while docket runs from TypeScript sources (tests, `bin/docket.js`). On Node 20 a
// worker thread does not inherit the tsx loader that the main thread registered (neither through
// `--import tsx` in execArgv nor through tsx's register API), so the thread registers it itself,
// then loads worker.ts. Compiled to JavaScript, workers.ts points at worker.js and this file is unused.
import { register } from 'tsx/esm/api';

register();
const { default: run } = await import('./worker.ts');

export default run;
