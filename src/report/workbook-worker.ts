import { parentPort } from 'node:worker_threads';
import { type PoolJob, runJob } from './workbook.js';

/** Worker thread: writes the workbooks it is sent (see workbook.ts). */
parentPort?.on('message', (job: PoolJob) => {
  runJob(job).then(
    () => parentPort?.postMessage({}),
    (error: unknown) => parentPort?.postMessage({ error: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
