/**
 * Input limits (config `limits`), checked with a Chinese message naming the file before the work
 * they bound is done:
 * - maxRowsPerFile: rows below the header of one file or sheet. Default 50,000,000: a province's
 *   户籍 export (about 32 million people) loads with the defaults (2,000,000, the first default,
 *   refused the 3.2 million 户籍 rows of a 1,000,000-household prefecture). A text file is counted
 *   as it is read, a workbook's sheet by its dimension before its rows are converted (sheets
 *   cannot pass 1,048,576 rows anyway; maxUnpackedMB bounds a workbook's memory).
 * - maxCellChars: characters in one cell. Default 32,767, Excel's own limit per cell. A longer
 *   cell is cut to the limit and, when bidui uses its column, the row is rejected (`too_long`).
 * - maxUnpackedMB: the unpacked size of a zipped workbook's (.xlsx, .ods) parts, read from the
 *   zip's directory and checked while inflating, before the workbook reader sees it: a zip bomb
 *   (a few MB that unpack to GBs) costs nothing. Default 1024 MB; a sheet of Excel's maximum
 *   1,048,576 rows × 12 columns unpacks to about 500 MB. One part larger than 512 MB cannot be
 *   read at all (the reader holds it as one string) and is refused whatever the limit.
 */
export interface InputLimits {
  maxRowsPerFile: number;
  maxCellChars: number;
  maxUnpackedMB: number;
}

export const DEFAULT_LIMITS: InputLimits = { maxRowsPerFile: 50_000_000, maxCellChars: 32_767, maxUnpackedMB: 1024 };

/** The largest single part of a workbook the reader can hold (a JS string, about 2^29 characters). */
export const MAX_PART_BYTES = 512 * 1024 * 1024;
