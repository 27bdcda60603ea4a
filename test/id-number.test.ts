import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECK_CHARS, PROVINCE_CODES, checkChar, idProblem, normaliseId } from '../src/ingest/id-number.js';
import { sqlMap, withConnection } from './helpers.js';

const AS_OF = '2020-06-30';

/** Valid IDs: real province, real birth date not after AS_OF, any sequence, correct check char. */
const validId = fc
  .record({
    province: fc.constantFrom(...PROVINCE_CODES),
    rest: fc.integer({ min: 0, max: 9999 }),
    birth: fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date(`${AS_OF}T00:00:00Z`), noInvalidDate: true }),
    seq: fc.integer({ min: 0, max: 999 }),
  })
  .map(({ province, rest, birth, seq }) => {
    const body = `${province}${String(rest).padStart(4, '0')}${birth.toISOString().slice(0, 10).replace(/-/g, '')}${String(seq).padStart(3, '0')}`;
    return body + checkChar(body);
  });

// Every ASCII character normalisation deletes is here: damaged IDs made only of ASCII take their
// own path in SQL (regexp_replace instead of translate), which must agree with the JS twin too.
const ALPHABET = [
  ...'0123456789Xx', '０', '１', '９', 'Ｘ', 'ｘ', ' ', '\t', '\n', '\r', '\v', '\f', '`', '\u00A0', '\u3000', "'", '"', '‘', '’', 'E', '+', '.', '-', 'a', '号',
  // the ="…" wrapper, format characters, a trailing .0
  '="', '=', '\u200B', '\uFEFF', '\u00AD', '\u202D', '.0', '#N/A',
];
const messyString = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 22 }).map((a) => a.join(''));

describe('resident ID numbers (GB 11643-1999)', () => {
  it('accepts the worked example from the standard', () => {
    expect(idProblem('11010519491231002X', AS_OF)).toBeNull();
    expect(checkChar('11010519491231002')).toBe('X');
  });

  it('names the first problem in DOMAIN.md order', () => {
    const cases: [string, string | null][] = [
      ['', 'missing'],
      ['5.20102E+17', 'excel'],
      ['5.2E17', 'excel'],
      ['1101051949123100', 'length'],
      ['11010519491231002Y', 'chars'],
      ['99010519491231002X', 'region'],
      ['11010519490231002X', 'birth_date'],
      ['11010520300101002X', 'birth_date'],
      ['110105194912310021', 'check_digit'],
    ];
    for (const [id, problem] of cases) expect([id, idProblem(id, AS_OF)]).toEqual([id, problem]);
  });

  it('passes every generated valid ID, in JS and in SQL', async () => {
    const ids = fc.sample(validId, { numRuns: 3000, seed: 42 });
    for (const id of ids) expect(idProblem(id, AS_OF)).toBeNull();
    await withConnection(async (conn) => {
      const problems = await sqlMap(conn, `bidui_id_problem(s, DATE '${AS_OF}')`, ids);
      expect(problems.filter((p) => p !== null)).toEqual([]);
    });
  });

  it('fails every single substitution and adjacent transposition of a valid ID', () => {
    fc.assert(
      fc.property(validId, (id) => {
        const chars = [...id];
        for (let i = 0; i < 18; i++) {
          for (const c of i === 17 ? CHECK_CHARS : '0123456789') {
            if (c === chars[i]) continue;
            const mutated = [...chars];
            mutated[i] = c;
            expect(idProblem(mutated.join(''), AS_OF)).not.toBeNull();
          }
          if (i < 17 && chars[i] !== chars[i + 1]) {
            const swapped = [...chars];
            [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
            expect(idProblem(swapped.join(''), AS_OF)).not.toBeNull();
          }
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('upgrades 15-digit IDs to the same 18-digit ID', async () => {
    const born19xx = fc.sample(validId.filter((id) => id.slice(6, 8) === '19'), { numRuns: 1000, seed: 3 });
    const short = born19xx.map((id) => id.slice(0, 6) + id.slice(8, 17));
    expect(short.map(normaliseId)).toEqual(born19xx);
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, 'bidui_norm_id(s)', short)).toEqual(born19xx);
    });
  });

  it('recovers the ID noise of real exports', () => {
    const id = '11010519491231002X';
    for (const noisy of [
      ` ${id} `, '11010519491231002x', "'11010519491231002X", '１１０１０５１９４９１２３１００２Ｘ', '110105 19491231 002X', `\t${id}\u3000`, `"${id}"`, '110105491231002',
      `="${id}"`, ` ="${id}"`, `\u200B${id}\u2060`, `${id.slice(0, 9)}\u00AD${id.slice(9)}`, '110105491231002.0', `\uFEFF="${id}"`,
    ]) {
      expect([noisy, normaliseId(noisy)]).toEqual([noisy, id]);
    }
  });

  it('normalisation is idempotent', () => {
    fc.assert(fc.property(messyString, (s) => normaliseId(normaliseId(s)) === normaliseId(s)), { numRuns: 2000, seed: 11 });
  });

  it('the SQL macros agree with the JS twin on messy strings', async () => {
    const inputs = [...fc.sample(messyString, { numRuns: 3000, seed: 5 }), ...fc.sample(validId, { numRuns: 500, seed: 6 })];
    const normalised = inputs.map(normaliseId);
    await withConnection(async (conn) => {
      expect(await sqlMap(conn, 'bidui_norm_id(s)', inputs)).toEqual(normalised);
      expect(await sqlMap(conn, `bidui_id_problem(bidui_norm_id(s), DATE '${AS_OF}')`, inputs)).toEqual(
        normalised.map((n) => idProblem(n, AS_OF)),
      );
      expect(await sqlMap(conn, 'bidui_norm_id(bidui_norm_id(s))', inputs)).toEqual(normalised);
    });
  });
});
