/**
 * Input limits (config `limits`), checked with a Chinese message naming the file before the work
 * they bound is done:
 * - maxRowsPerFile: rows below the header of one file or sheet. Default 2,000,000, above Excel's
 *   1,048,576 rows per sheet; a text file is counted as it is read, a workbook's sheet by its
 *   dimension before its rows are converted.
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

export const DEFAULT_LIMITS: InputLimits = { maxRowsPerFile: 2_000_000, maxCellChars: 32_767, maxUnpackedMB: 1024 };

/** The largest single part of a workbook the reader can hold (a JS string, about 2^29 characters). */
export const MAX_PART_BYTES = 512 * 1024 * 1024;
