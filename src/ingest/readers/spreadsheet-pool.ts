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
 * Read a workbook on a worker thread of its own (its memory is returned when it ends, and a
 * workbook too large for its heap ends the worker, not bidui). When the compiled worker is not
 * there (tests running the TypeScript sources), the same function runs in this thread.
 */
export function readWorkbook(job: WorkbookJob): Promise<WorkbookResult> {
  if (!fs.existsSync(WORKER_FILE)) {
    try {
      return Promise.resolve(readWorkbookNow(job));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_FILE, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: WORKBOOK_HEAP_MB } });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.on('message', (m: { result?: WorkbookResult; userError?: { code: string; message: string; hint?: string; file?: string }; error?: string }) => {
      if (m.result) settle(() => resolve(m.result!));
      else if (m.userError) settle(() => reject(new UserError(m.userError!.code, m.userError!.message, { ...(m.userError!.hint ? { hint: m.userError!.hint } : {}), ...(m.userError!.file ? { file: m.userError!.file } : {}) })));
      else settle(() => reject(new Error(m.error ?? 'workbook worker failed')));
    });
    worker.on('error', (error: Error & { code?: string }) => {
      settle(() =>
        reject(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new UserError('E_XLSX_TOO_LARGE', `工作簿太大，读取时超出了内存上限（${WORKBOOK_HEAP_MB} MB）`, {
                file: job.file,
                hint: '用 Excel/WPS 把要导入的工作表另存为 CSV（UTF-8）后导入；CSV 没有大小限制。',
              })
            : error,
        ),
      );
    });
    worker.on('exit', (code) => settle(() => reject(new Error(`workbook worker exited with code ${code}`))));
  });
}
