import { parentPort } from 'node:worker_threads';
import { type WorkbookJob, writeWorkbook } from './workbook.js';

/** Worker thread: writes the township workbooks it is sent (see workbook.ts). */
parentPort?.on('message', (job: WorkbookJob) => {
  writeWorkbook(job).then(
    () => parentPort?.postMessage({}),
    (error: unknown) => parentPort?.postMessage({ error: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
