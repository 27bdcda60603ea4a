import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import officeCrypto from 'officecrypto-tool';

/**
 * Open passwords on township workbooks: ECMA-376 agile encryption (AES-256-CBC, SHA-512,
 * 100,000 spins: what Excel and WPS write), by officecrypto-tool, whose encryptor is
 * xlsx-populate's. Checked here: LibreOffice opens its files with the password and refuses a
 * wrong one (test/encrypted-workbooks.test.ts).
 *
 * Reproducible to the byte: the library draws its salts, IVs and keys from crypto.randomBytes;
 * while it encrypts, those bytes come instead from HMAC-SHA-256 in counter mode keyed with the
 * given seed (secret, derived by the caller from the workspace's secret) and the workbook's
 * SHA-256. The same workbook under the same seed gives the same file (a re-run verifies); two
 * different workbooks never share a key or salt. Nothing else runs while it encrypts (the call
 * is synchronous), so no other caller of randomBytes sees the substitute.
 */
const nodeCrypto = createRequire(import.meta.url)('crypto') as typeof crypto;

export function encryptWorkbook(plain: Buffer, password: string, seed: string): Buffer {
  const key = crypto.createHmac('sha256', seed).update(crypto.createHash('sha256').update(plain).digest()).digest();
  let counter = 0;
  const deterministic = (size: number): Buffer => {
    const out: Buffer[] = [];
    for (let n = 0; n < size; n += 32) out.push(crypto.createHmac('sha256', key).update(`${counter++}`).digest());
    return Buffer.concat(out).subarray(0, size);
  };
  const original = nodeCrypto.randomBytes;
  (nodeCrypto as { randomBytes: unknown }).randomBytes = deterministic;
  try {
    return officeCrypto.encrypt(plain, { password });
  } finally {
    (nodeCrypto as { randomBytes: unknown }).randomBytes = original;
  }
}

/** Whether a file's bytes are an encrypted Office document (an OLE container with EncryptionInfo). */
export function isEncryptedWorkbook(bytes: Buffer): boolean {
  try {
    return officeCrypto.isEncrypted(bytes);
  } catch {
    return false;
  }
}

/** The workbook inside an encrypted file, or undefined when the password is not its password. */
export async function decryptWorkbook(bytes: Buffer, password: string): Promise<Buffer | undefined> {
  try {
    return await officeCrypto.decrypt(bytes, { password });
  } catch {
    return undefined;
  }
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789';

/**
 * A township's open password: 12 characters (no 0/O, 1/l/I, about 70 bits) derived from the
 * workspace's secret, the township and the password round (config output.passwordRound), so it
 * stays the same night after night until the office moves to the next round.
 */
export function townshipPassword(secret: Buffer, township: string, round: number): string {
  const bytes = crypto.createHmac('sha256', secret).update(`bidui township password v1|${round}|${township}`).digest();
  return Array.from(bytes.subarray(0, 12), (b) => PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]).join('');
}

/** The seed of a township workbook's encryption (see encryptWorkbook). */
export function encryptionSeed(secret: Buffer, township: string, round: number): string {
  return crypto.createHmac('sha256', secret).update(`bidui workbook encryption v1|${round}|${township}`).digest('hex');
}
