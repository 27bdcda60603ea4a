import yauzl from 'yauzl';
import { UserError } from '../../core/errors.js';
import { MAX_PART_BYTES } from '../limits.js';

const MB = 1024 * 1024;

/**
 * The unpacked size of a zipped workbook (.xlsx, .xlsm, .ods), checked before the workbook
 * reader inflates it: first the sizes the zip's directory declares (free: a zip bomb of a few MB
 * that unpacks to GBs is refused here), then the parts are inflated in a stream and discarded,
 * with yauzl stopping at the first part larger than it declared (a zip that lies about its
 * sizes). Throws E_TOO_LARGE naming the file; E_XLSX when the zip itself is broken.
 */
export async function checkZipSize(file: string, maxUnpackedMB: number): Promise<void> {
  const limit = maxUnpackedMB * MB;
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, autoClose: true }, (e, z) => (e ? reject(e) : resolve(z))));
  } catch {
    throw new UserError('E_XLSX', '无法读取工作簿（文件已损坏或不完整）', { file, hint: '重新导出或重新复制该文件；仍不行时用 Excel/WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。' });
  }
  const tooLarge = (bytes: number, part?: string) => new UserError('E_TOO_LARGE',
    part
      ? `工作簿中的一个部分（${part}）解压后有 ${Math.round(bytes / MB)} MB，超过能读取的上限（${MAX_PART_BYTES / MB} MB）`
      : `工作簿解压后有 ${Math.round(bytes / MB)} MB，超过上限（limits.maxUnpackedMB = ${maxUnpackedMB} MB）`,
    {
      file,
      hint: part
        ? '一个工作表太大，无法作为工作簿读取：用 Excel/WPS 打开后另存为 CSV（UTF-8），或把数据分到几个文件中。'
        : '如果这确实是正常的大文件，在配置中调大 "limits": { "maxUnpackedMB": … }，或另存为 CSV（UTF-8）；来历不明的文件可能是恶意构造的压缩包，不要打开。',
    });
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  }).catch(() => {
    throw new UserError('E_XLSX', '无法读取工作簿（文件已损坏或不完整）', { file, hint: '重新导出或重新复制该文件。' });
  });
  let total = 0;
  for (const e of entries) {
    if (e.uncompressedSize > MAX_PART_BYTES) throw tooLarge(e.uncompressedSize, e.fileName);
    total += e.uncompressedSize;
  }
  if (total > limit) throw tooLarge(total);
  // The declared sizes hold: inflate and discard (yauzl fails a part that inflates beyond them).
  const again = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, autoClose: true }, (e, z) => (e ? reject(e) : resolve(z))));
  await new Promise<void>((resolve, reject) => {
    again.on('entry', (entry: yauzl.Entry) => {
      again.openReadStream(entry, (error, stream) => {
        if (error || !stream) return reject(error ?? new Error('no stream'));
        stream.on('error', reject);
        stream.on('end', () => again.readEntry());
        stream.resume();
      });
    });
    again.on('end', () => resolve());
    again.on('error', reject);
    again.readEntry();
  }).catch((error: Error) => {
    if (/too many bytes|uncompressedSize|expected/i.test(error.message)) {
      throw new UserError('E_TOO_LARGE', '工作簿中的一个部分解压后比文件声明的大小更大（文件已损坏，或是恶意构造的压缩包）', {
        file, hint: '重新导出或重新复制该文件；来历不明的文件不要打开。',
      });
    }
    throw new UserError('E_XLSX', '无法读取工作簿（文件已损坏或不完整）', { file, hint: '重新导出或重新复制该文件；仍不行时用 Excel/WPS 打开后另存为 .xlsx 或 CSV（UTF-8）。' });
  });
}
