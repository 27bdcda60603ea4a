import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError } from '../../core/errors.js';
import { readWorkbookNow, type WorkbookJob, type WorkbookResult } from './spreadsheet.js';

const WORKER_FILE = fileURLToPath(new URL('./spreadsheet-worker.js', import.meta.url));

/**
 * Heap of the worker that reads a workbook. SheetJS holds the whole workbook: about 550 MB at
 * 200,000 rows × 12 columns, so a sheet at Excel's limit of 1,048,576 rows needs about 3 GB.
 */
export const WORKBOOK_HEAP_MB = 8192;

/**
 * A worker that read a workbook file larger than this (MB) ends, so that its memory goes back; one
 * that read a smaller file waits for the next workbook. Starting a worker and loading SheetJS into
 * it cost 0.2–0.3 s a workbook (a province's 60 workbooks: about 15 CPU-seconds); for a larger
 * file the cost is small beside the reading, and a waiting worker keeps what its last workbook
 * left in its heap (a 41,000-row .xlsx of 2 MB: about 100 MB) until it reads the next one or the
 * ingest ends it.
 */
export const KEEP_WORKER_FILE_MB = 4;

/** Workers waiting for a workbook (at most one per ingest lane), unreferenced: they never keep bidui running. */
const idle: Worker[] = [];
const MAX_IDLE = 2;

interface Reply {
  result?: WorkbookResult;
  userError?: { code: string; message: string; hint?: string; file?: string };
  error?: string;
}

function newWorker(): Worker {
  const worker = new Worker(WORKER_FILE, { resourceLimits: { maxOldGenerationSizeMb: WORKBOOK_HEAP_MB } });
  // A waiting worker that ends (killed) is not handed the next workbook.
  worker.once('exit', () => {
    const i = idle.indexOf(worker);
    if (i >= 0) idle.splice(i, 1);
  });
  return worker;
}

/**
 * Read a workbook on a worker thread (a workbook too large for its heap ends the worker, not
 * bidui; a worker that read a large file ends, so its memory is returned). When the compiled
 * worker is not there (tests running the TypeScript sources), the same function runs in this
 * thread. Call closeWorkbookReaders when the ingest is done.
 */
export function readWorkbook(job: WorkbookJob): Promise<WorkbookResult> {
  if (!fs.existsSync(WORKER_FILE)) {
    try {
      return Promise.resolve(readWorkbookNow(job));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const bytes = job.text !== undefined ? Buffer.byteLength(job.text) : fs.statSync(job.file).size;
  const small = bytes <= KEEP_WORKER_FILE_MB * 2 ** 20;
  return new Promise((resolve, reject) => {
    const worker = idle.pop() ?? newWorker();
    worker.ref();
    let settled = false;
    const settle = (keep: boolean, fn: () => void) => {
      if (settled) return;
      settled = true;
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (keep && idle.length < MAX_IDLE) {
        worker.unref();
        idle.push(worker);
      } else {
        void worker.terminate();
      }
      fn();
    };
    const onMessage = (m: Reply) => {
      const keep = small && m.error === undefined;
      if (m.result) settle(keep, () => resolve(m.result!));
      else if (m.userError) settle(keep, () => reject(new UserError(m.userError!.code, m.userError!.message, { ...(m.userError!.hint ? { hint: m.userError!.hint } : {}), ...(m.userError!.file ? { file: m.userError!.file } : {}) })));
      else settle(false, () => reject(new Error(m.error ?? 'workbook worker failed')));
    };
    const onError = (error: Error & { code?: string }) => {
      settle(false, () =>
        reject(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new UserError('E_XLSX_TOO_LARGE', `工作簿太大，读取时超出了内存上限（${WORKBOOK_HEAP_MB} MB）`, {
                file: job.file,
                hint: '用 Excel/WPS 把要导入的工作表另存为 CSV（UTF-8）后导入；CSV 没有大小限制。',
              })
            : error,
        ),
      );
    };
    const onExit = (code: number) => settle(false, () => reject(new Error(`workbook worker exited with code ${code}`)));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(job);
  });
}

/** End the workers waiting for a workbook (the end of an ingest). */
export async function closeWorkbookReaders(): Promise<void> {
  await Promise.all(idle.splice(0).map((w) => w.terminate()));
}
