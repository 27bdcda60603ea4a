import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../../core/errors.js';
import { readWorkbookNow, type WorkbookJob } from './spreadsheet.js';

/** Worker thread: reads one workbook (see spreadsheet-pool.ts) and posts the result or the error. */
try {
  parentPort?.postMessage({ result: readWorkbookNow(workerData as WorkbookJob) });
} catch (error) {
  if (error instanceof UserError) {
    parentPort?.postMessage({ userError: { code: error.code, message: error.message, hint: error.hint, file: error.file } });
  } else {
    parentPort?.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}
