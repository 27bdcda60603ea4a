import { loweredForTests } from '../core/test-override.js';

/**
 * Data rows one worksheet holds below its header: Excel's 1,048,576 rows less the header row. A
 * list with more continues on a next sheet. `BIDUI_SHEET_ROWS` lowers it, for tests only (a
 * million-row list is too slow for a test).
 */
export const EXCEL_DATA_ROWS = 1_048_575;
export function SHEET_DATA_ROWS(): number {
  return loweredForTests('BIDUI_SHEET_ROWS', EXCEL_DATA_ROWS);
}
