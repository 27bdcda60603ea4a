import { parentPort } from 'node:worker_threads';
import { UserError } from '../../core/errors.js';
import { readWorkbookNow, type WorkbookJob } from './spreadsheet.js';

/**
 * Worker thread: reads the workbooks it is sent, one at a time (see spreadsheet-pool.ts), and
 * posts each result or error.
 */
parentPort?.on('message', (job: WorkbookJob) => {
  let reply: Record<string, unknown>;
  try {
    reply = { result: readWorkbookNow(job) };
  } catch (error) {
    reply = error instanceof UserError
      ? { userError: { code: error.code, message: error.message, hint: error.hint, file: error.file } }
      : { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  parentPort?.postMessage(reply);
});
