import { describe, expect, it } from 'vitest';
import { addDays } from '../src/fixtures/dates.js';
import { checkChar } from '../src/ingest/id-number.js';
import { type Row, type Tables, explain, keysOf, newId, runRules } from './rule-harness.js';

/**
 * One table per rule: literal rows with the rule's positives and the traps of the fixtures issue
 * (boundary days included), run through the real match on a fresh store. On failure the message
 * shows the rule's SQL and the rows.
 */
const D = '2020-06-30';
const nameOf = (id: string) => `人${id.slice(-5)}`;
const adult = () => newId('1980-05-05');
const bornYearsBefore = (years: number, extraDays = 0) => newId(addDays(`${Number(D.slice(0, 4)) - years}${D.slice(4)}`, extraDays));

const hk = (id: string, hukouId: string, extra: Row = {}): Row => ({
  id_number: id, name: nameOf(id), hukou_id: hukouId, relation: '户主', township: '舞阳镇', village: '顺城社区', status: '正常', status_on: null, ...extra,
});
const rr = (householdId: string, id: string, extra: Row = {}): Row => ({
  household_id: householdId, id_number: id, name: nameOf(id), relation: '户主', township: '舞阳镇', village: '顺城社区',
  status: '未脱贫', identified_on: '2015-06-01', exited_on: null, income_per_capita: 2000, ...extra,
});
const exited = (householdId: string, id: string, extra: Row = {}) => rr(householdId, id, { status: '已脱贫', exited_on: '2018-11-01', income_per_capita: 6000, ...extra });
const dibao = (id: string, type: string, started: string, ended: string | null): Row => ({ id_number: id, name: nameOf(id), township: '舞阳镇', village: '顺城社区', assistance_type: type, started_on: started, ended_on: ended });
const house = (id: string, grade: string, assessed: string, status: string | null, renovated: string | null): Row => ({ id_number: id, name: nameOf(id), township: '舞阳镇', village: '顺城社区', grade, assessed_on: assessed, renovation_status: status, renovated_on: renovated });
const illness = (id: string, category: string, diagnosed: string): Row => ({ id_number: id, name: nameOf(id), disease: '恶性肿瘤', category, diagnosed_on: diagnosed });
const disability = (id: string, grade: string, certified: string | null): Row => ({ id_number: id, name: nameOf(id), disability_type: '肢体', grade, certified_on: certified });
const dropout = (id: string, dropped: string, returned: string | null): Row => ({ id_number: id, name: nameOf(id), school: '二中', dropped_on: dropped, returned_on: returned });
const car = (id: string, type: string, registered: string, deregistered: string | null = null): Row => ({ id_number: id, name: nameOf(id), plate: `贵H${id.slice(-5)}`, vehicle_type: type, registered_on: registered, deregistered_on: deregistered });
const flat = (id: string, contract: string): Row => ({ id_number: id, name: nameOf(id), project: '锦绣花园', contract_on: contract, area: 98.5 });
const servant = (id: string, hired: string, left: string | null = null): Row => ({ id_number: id, name: nameOf(id), employer: '县政府', hired_on: hired, left_on: left });
const entity = (id: string, type: string, established: string, closed: string | null = null): Row => ({ id_number: id, name: nameOf(id), entity_name: '某店', entity_type: type, established_on: established, closed_on: closed });
/** The same ID with one digit of the sequence changed: invalid (check digit). */
const typo = (id: string, pos = 15) => id.slice(0, pos) + String((Number(id[pos]) + 3) % 10) + id.slice(pos + 1);

async function expectRule(rule: string, tables: Tables, expected: string[], rules: Record<string, unknown> = {}, asOf = D) {
  const run = await runRules(tables, asOf, rules);
  expect(keysOf(run, rule), explain(rule, tables)).toEqual([...expected].sort());
  return run;
}

describe('漏评 rules', () => {
  it('L1: 农村低保 or 特困供养 active on D, household outside the roster', async () => {
    const [a, b, c, d, e, f, g, h, i, p] = Array.from({ length: 10 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R1', g!)],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2'), hk(c!, 'H3'), hk(d!, 'H4'), hk(e!, 'H5'), hk(f!, 'H6'), hk(g!, 'H6', { relation: '子' }), hk(h!, 'H8'), hk(i!, 'H9')],
      dibao: [
        dibao(a!, '农村低保', '2019-01-01', null), // positive
        dibao(b!, '城市低保', '2019-01-01', null), // 城市低保 does not count
        dibao(c!, '农村低保', '2016-01-01', '2019-12-31'), // ended before D
        dibao(d!, '农村低保', '2020-08-01', null), // starts after D
        dibao(e!, '特困供养', '2018-01-01', '2020-07-01'), // ends after D: active
        dibao(f!, '农村低保', '2019-01-01', null), // 户籍 household has a roster member (Q5, not 漏评)
        dibao(h!, '农村低保', '2018-01-01', D), // ended on D
        dibao(i!, '农村低保', D, null), // started on D
        dibao(p!, '农村低保', '2019-01-01', null), // no 户籍 record: the person alone
        dibao(typo(a!), '农村低保', '2019-01-01', null), // invalid ID never joins
      ],
    };
    await expectRule('L1', tables, ['H1', 'H5', 'H9', p!]);
  });

  it('L2: C/D house not renovated on D', async () => {
    const [a, b, c, d, e, f] = Array.from({ length: 6 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R0', adult())],
      hukou: [a, b, c, d, e, f].map((x, k) => hk(x!, `H${k + 1}`)),
      housing_safety: [
        house(a!, 'C', '2019-03-01', '未改造', null), // positive
        house(b!, 'D', '2018-03-01', '已改造', '2019-05-01'), // renovated before D
        house(c!, 'C', '2019-03-01', '已改造', '2020-08-01'), // renovation completed after D: still dangerous on D
        house(d!, 'B', '2019-03-01', '未改造', null), // B grade
        house(e!, 'D', '2020-07-01', '未改造', null), // assessed after D
        house(f!, 'C', '2018-03-01', '改造中', '2019-05-01'), // a date, but the status says not done
      ],
    };
    await expectRule('L2', tables, ['H1', 'H3', 'H6']);
  });

  it('L3: 大病 diagnosed within 730 days before D, both ends included', async () => {
    const [a, b, c, d, e] = Array.from({ length: 5 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R0', adult())],
      hukou: [a, b, c, d, e].map((x, k) => hk(x!, `H${k + 1}`)),
      illness: [illness(a!, '大病', addDays(D, -730)), illness(b!, '大病', addDays(D, -731)), illness(c!, '慢病', addDays(D, -10)), illness(d!, '大病', addDays(D, 1)), illness(e!, '大病', D)],
    };
    await expectRule('L3', tables, ['H1', 'H5']);
  });

  it('L4: disability grade 1 or 2', async () => {
    const [a, b, c, d, e] = Array.from({ length: 5 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R0', adult())],
      hukou: [a, b, c, d, e].map((x, k) => hk(x!, `H${k + 1}`)),
      disability: [disability(a!, '1', '2010-01-01'), disability(b!, '2', null), disability(c!, '3', '2010-01-01'), disability(d!, '4', '2010-01-01'), disability(e!, '1', addDays(D, 5))],
    };
    await expectRule('L4', tables, ['H1', 'H2']);
  });

  it('L5: a dropout aged 6–15 on D not returned on D', async () => {
    const c15 = bornYearsBefore(15); // 15th birthday on D
    const c16 = bornYearsBefore(16); // 16 on D
    const c6 = bornYearsBefore(6);
    const c5 = bornYearsBefore(6, 1); // turns 6 the day after D
    const cr = bornYearsBefore(10);
    const cl = bornYearsBefore(10, 7);
    const cf = bornYearsBefore(11);
    const tables: Tables = {
      roster: [rr('R0', adult())],
      hukou: [c15, c16, c6, c5, cr, cl, cf].map((x, k) => hk(x, `H${k + 1}`)),
      dropout: [
        dropout(c15, '2020-03-01', null), dropout(c16, '2020-03-01', null), dropout(c6, '2020-03-01', null), dropout(c5, '2020-03-01', null),
        dropout(cr, '2019-09-01', '2020-01-10'), // returned before D
        dropout(cl, '2019-09-01', '2020-09-01'), // returned after D: still out on D
        dropout(cf, addDays(D, 3), null), // dropped after D
      ],
    };
    await expectRule('L5', tables, ['H1', 'H3', 'H6']);
  });

  it('L6: every living member of the 户籍 household is 60 or over on D', async () => {
    const o60 = bornYearsBefore(60);
    const o75 = bornYearsBefore(75);
    const y59 = bornYearsBefore(60, 1);
    const o70a = bornYearsBefore(70);
    const y30a = bornYearsBefore(30);
    const o70b = bornYearsBefore(70);
    const y30b = bornYearsBefore(30);
    const o70c = bornYearsBefore(70);
    const y30c = bornYearsBefore(30);
    const o80 = bornYearsBefore(80);
    const tables: Tables = {
      roster: [rr('R5', o80)],
      hukou: [
        hk(o60, 'H1'), hk(o75, 'H1', { relation: '配偶' }), // both 60+
        hk(y59, 'H2'), // one day short of 60
        hk(o70a, 'H3'), hk(y30a, 'H3', { relation: '子' }), // a young member
        hk(o70b, 'H4'), hk(y30b, 'H4', { relation: '子', status: '死亡', status_on: '2019-01-01' }), // the young one died before D
        hk(o80, 'H5'), // in the roster
        hk(o70c, 'H6'), hk(y30c, 'H6', { relation: '子', status: '迁出', status_on: addDays(D, 10) }), // moves out after D: still there on D
      ],
    };
    await expectRule('L6', tables, ['H1', 'H4']);
  });

  it('L7: a 户籍 household in a configured remote village; NotExecuted without the list', async () => {
    const [a, b, c] = Array.from({ length: 3 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R3', c!)],
      hukou: [hk(a!, 'H1', { township: '尚寨土家族乡', village: '尚寨村' }), hk(b!, 'H2', { township: '尚寨土家族乡', village: '雅石村' }), hk(c!, 'H3', { township: '尚寨土家族乡', village: '尚寨村' })],
    };
    await expectRule('L7', tables, ['H1'], { remoteVillages: ['尚寨土家族乡/尚寨村'] });
    const run = await runRules(tables, D);
    const l7 = run.result.rules.find((r) => r.id === 'L7')!;
    expect([l7.outcome, l7.reason]).toEqual(['NotExecuted', expect.stringContaining('remoteVillages')]);
  });
});

describe('错评 rules (四有 strictly before identification)', () => {
  it('C1: a passenger car registered before and not deregistered by identification', async () => {
    const m = Array.from({ length: 8 }, adult);
    const idf = '2015-06-01';
    const tables: Tables = {
      roster: m.map((x, k) => rr(`R${k + 1}`, x, k === 7 ? { identified_on: '2021-01-01' } : {})).concat([rr('R9', typo(m[0]!))]),
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
      vehicle: [
        car(m[0]!, '小型轿车', '2014-03-01'), // positive
        car(m[1]!, '轻型普通货车', '2014-03-01'), // truck
        car(m[2]!, '小型轿车', '2016-03-01'), // after identification
        car(m[3]!, '小型普通客车', '2013-01-01', idf), // deregistered on the identification day
        car(m[4]!, '小型越野客车', '2013-01-01', addDays(idf, 1)), // deregistered after: held at identification
        car(m[5]!, '小型轿车', idf), // registered on the identification day: not strictly before
        car(m[6]!, '普通二轮摩托车', '2012-01-01'), // motorcycle
        car(m[7]!, '小型轿车', '2014-03-01'), // household identified after D does not exist
      ],
    };
    await expectRule('C1', tables, ['R1', 'R5']);
  });

  it('C2: a commercial-housing contract before identification', async () => {
    const m = Array.from({ length: 3 }, adult);
    const tables: Tables = {
      roster: m.map((x, k) => rr(`R${k + 1}`, x)),
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
      commercial_housing: [flat(m[0]!, '2015-05-31'), flat(m[1]!, '2015-06-01'), flat(m[2]!, '2017-01-01')],
    };
    await expectRule('C2', tables, ['R1']);
  });

  it('C3: a public servant hired before and not left by identification; NotExecuted without the list', async () => {
    const m = Array.from({ length: 4 }, adult);
    const tables: Tables = {
      roster: m.map((x, k) => rr(`R${k + 1}`, x)),
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
      public_servant: [servant(m[0]!, '2005-09-01'), servant(m[1]!, '2005-09-01', '2014-12-31'), servant(m[2]!, '2005-09-01', '2015-06-01'), servant(m[3]!, '2016-09-01')],
    };
    await expectRule('C3', tables, ['R1']);
    const { public_servant: _omit, ...without } = tables;
    const run = await runRules(without, D);
    const c3 = run.result.rules.find((r) => r.id === 'C3')!;
    expect([c3.outcome, c3.leads]).toEqual(['NotExecuted', 0]);
    expect(c3.reason).toMatch(/public_servant/);
  });

  it('C4: a market entity (not a cooperative) established before and open at identification', async () => {
    const m = Array.from({ length: 5 }, adult);
    const tables: Tables = {
      roster: m.map((x, k) => rr(`R${k + 1}`, x)),
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
      market_entity: [
        entity(m[0]!, '个体工商户', '2013-01-01'),
        entity(m[1]!, '农民专业合作社', '2013-01-01'),
        entity(m[2]!, '个体工商户', '2016-01-01'),
        entity(m[3]!, '有限责任公司', '2012-01-01', '2015-01-01'),
        entity(m[4]!, '有限责任公司', '2012-01-01', '2016-01-01'),
      ],
    };
    await expectRule('C4', tables, ['R1', 'R5']);
  });
});

describe('错退 rules (exited on D)', () => {
  it('T1: a C/D house not renovated on D; 返贫 and later exits are not exited', async () => {
    const m = Array.from({ length: 5 }, adult);
    const tables: Tables = {
      roster: [exited('R1', m[0]!), exited('R2', m[1]!, { status: '返贫' }), exited('R3', m[2]!, { exited_on: addDays(D, 30) }), exited('R4', m[3]!), rr('R5', m[4]!)],
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
      housing_safety: [house(m[0]!, 'C', '2018-03-01', '未改造', null), house(m[1]!, 'D', '2018-03-01', '未改造', null), house(m[2]!, 'D', '2018-03-01', '未改造', null), house(m[3]!, 'C', '2018-03-01', '已竣工', '2019-01-01'), house(m[4]!, 'D', '2018-03-01', '未改造', null)],
    };
    await expectRule('T1', tables, ['R1']);
  });

  it('T2: a member aged 6–15 out of school on D', async () => {
    const heads = Array.from({ length: 3 }, adult);
    const kids = [bornYearsBefore(12), bornYearsBefore(16), bornYearsBefore(12)];
    const tables: Tables = {
      roster: heads.flatMap((h, k) => [exited(`R${k + 1}`, h), exited(`R${k + 1}`, kids[k]!, { relation: '子' })]),
      hukou: heads.flatMap((h, k) => [hk(h, `H${k + 1}`), hk(kids[k]!, `H${k + 1}`, { relation: '子' })]),
      dropout: [dropout(kids[0]!, '2020-03-01', null), dropout(kids[1]!, '2020-03-01', null), dropout(kids[2]!, '2019-09-01', '2019-12-01')],
    };
    await expectRule('T2', tables, ['R1']);
  });

  it('T3: 大病 diagnosed from 365 days before the exit to D', async () => {
    const m = Array.from({ length: 4 }, adult);
    const exit = '2018-11-01';
    const tables: Tables = {
      roster: m.map((x, k) => exited(`R${k + 1}`, x, { exited_on: exit })),
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
      illness: [illness(m[0]!, '大病', addDays(exit, -365)), illness(m[1]!, '大病', addDays(exit, -366)), illness(m[2]!, '慢病', '2019-01-01'), illness(m[3]!, '大病', addDays(D, 1))],
    };
    await expectRule('T3', tables, ['R1']);
  });

  it('T4: income strictly below the exit year standard; no standard, no verdict', async () => {
    const m = Array.from({ length: 5 }, adult);
    const tables: Tables = {
      roster: [
        exited('R1', m[0]!, { exited_on: '2018-11-01', income_per_capita: 3534.99 }),
        exited('R2', m[1]!, { exited_on: '2018-11-01', income_per_capita: 3535 }),
        exited('R3', m[2]!, { exited_on: '2013-11-01', identified_on: '2013-01-01', income_per_capita: 100 }),
        exited('R4', m[3]!, { exited_on: '2018-11-01', income_per_capita: null }),
        exited('R5', m[4]!, { status: '返贫', exited_on: '2018-11-01', income_per_capita: 100 }),
      ],
      hukou: m.map((x, k) => hk(x, `H${k + 1}`)),
    };
    const run = await expectRule('T4', tables, ['R1']);
    expect(run.evidence.find((e) => e.rule === 'T4')!.detail).toBe('人均纯收入 3534.99 元，低于 2018 年标准 3535.00 元');
    // The standards table is per deployment (seed 002 uses 7000 in Jiangsu).
    await expectRule('T4', tables, ['R1', 'R2'], { incomeStandards: { 2018: 7000 } });
  });
});

describe('信息核对 rules', () => {
  it('Q1: invalid IDs, with the reason, in households that exist on D', async () => {
    const [a, b, c] = Array.from({ length: 3 }, adult) as string[];
    const baby = newId('2020-09-01');
    const tables: Tables = {
      roster: [rr('R1', a!), rr('R1', typo(a!, 16), { relation: '子' }), rr('R2', b!), rr('R2', '5.22625E+17', { relation: '妻' }), rr('R3', c!), rr('R4', typo(c!), { identified_on: '2021-01-01' }), rr('R5', baby)],
      hukou: [hk(a!, 'H1')],
    };
    const run = await expectRule('Q1', tables, ['R1', 'R2', 'R5']);
    const details = Object.fromEntries(run.evidence.filter((e) => e.rule === 'Q1').map((e) => [e.household_key, e.detail]));
    expect(details).toEqual({ R1: '证件号码校验位错误', R2: '证件号码被 Excel 当作数字保存过，后几位已丢失，无法恢复', R5: '证件号码中的出生日期无效或晚于比对日期' });
  });

  it('Q2: one ID in two households that exist on D', async () => {
    const [x, y, h1, h2, h3, h4] = Array.from({ length: 6 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R1', h1!), rr('R1', x!, { relation: '女' }), rr('R2', h2!), rr('R2', x!, { relation: '妻' }), rr('R3', h3!), rr('R3', y!, { relation: '女' }), rr('R4', h4!, { identified_on: '2021-01-01' }), rr('R4', y!, { relation: '妻', identified_on: '2021-01-01' })],
      hukou: [hk(h1!, 'H1')],
    };
    await expectRule('Q2', tables, ['R1', 'R2']);
  });

  it('Q3: a member recorded dead in 户籍 on or before D', async () => {
    const m = Array.from({ length: 4 }, adult);
    const tables: Tables = {
      roster: m.map((x, k) => rr(`R${k + 1}`, x)),
      hukou: [hk(m[0]!, 'H1', { status: '死亡', status_on: D }), hk(m[1]!, 'H2', { status: '死亡', status_on: addDays(D, 1) }), hk(m[2]!, 'H3', { status: '死亡', status_on: null }), hk(m[3]!, 'H4', { status: '迁出', status_on: '2019-01-01' })],
    };
    await expectRule('Q3', tables, ['R1']);
  });

  it('Q4: roster name differs from the 户籍 name of the same ID', async () => {
    const [a, b] = Array.from({ length: 2 }, adult) as string[];
    const tables: Tables = { roster: [rr('R1', a!, { name: '张三' }), rr('R2', b!, { name: '李四' })], hukou: [hk(a!, 'H1', { name: '张叁' }), hk(b!, 'H2', { name: '李四' })] };
    await expectRule('Q4', tables, ['R1']);
  });

  it("Q5: a living member of the head's 户籍 household in no roster household", async () => {
    const p = Array.from({ length: 14 }, adult);
    const tables: Tables = {
      roster: [
        rr('R1', p[0]!), rr('R1', p[1]!, { relation: '妻' }), // p[2] left out
        rr('R2', p[3]!), rr('R2', p[4]!, { relation: '妻' }),
        rr('R3', p[5]!), // p[6] moved out before D
        rr('R4', p[7]!), rr('R5', p[8]!), // p[8] lives in R4's 户籍 household but is in R5
        rr('R6', typo(p[9]!)), // the head's ID is invalid: no head
        rr('R7', p[11]!), // a baby born after D is not living on D
      ],
      hukou: [
        hk(p[0]!, 'H1'), hk(p[1]!, 'H1', { relation: '妻' }), hk(p[2]!, 'H1', { relation: '子' }),
        hk(p[3]!, 'H2'), hk(p[4]!, 'H2', { relation: '妻' }),
        hk(p[5]!, 'H3'), hk(p[6]!, 'H3', { relation: '子', status: '迁出', status_on: '2019-05-01' }),
        hk(p[7]!, 'H4'), hk(p[8]!, 'H4', { relation: '子' }),
        hk(p[9]!, 'H6'), hk(p[10]!, 'H6', { relation: '子' }),
        hk(p[11]!, 'H7'), hk(newId('2020-12-01'), 'H7', { relation: '子' }),
      ],
    };
    const run = await expectRule('Q5', tables, ['R1']);
    expect(run.evidence.filter((e) => e.rule === 'Q5').map((e) => e.id_number)).toEqual([p[2]]);
  });

  it('Q6: suggests the one 户籍 ID of the same name and township one edit away', async () => {
    const [a, b, c, d] = Array.from({ length: 4 }, adult) as string[];
    const aTypo = typo(a!);
    // Two candidates one edit from b's typo: b itself and another valid ID of the same name.
    const bTypo = typo(b!);
    const twin = bTypo.slice(0, 17) + checkChar(bTypo.slice(0, 17));
    const cTypo = typo(c!);
    const dSwap = d!.slice(0, 14) + d![15] + d![14] + d!.slice(16);
    const tables: Tables = {
      roster: [rr('R1', aTypo, { name: nameOf(a!) }), rr('R2', bTypo, { name: nameOf(b!) }), rr('R3', cTypo, { name: nameOf(c!) }), rr('R4', dSwap, { name: nameOf(d!) })],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2'), hk(twin, 'H9', { name: nameOf(b!) }), hk(c!, 'H3', { township: '蕉溪镇' }), hk(d!, 'H4')],
    };
    expect(d![14]).not.toBe(d![15]);
    const run = await expectRule('Q6', tables, ['R1', 'R4']);
    expect(run.evidence.find((e) => e.rule === 'Q6' && e.household_key === 'R1')!.detail).toContain(a!);
    expect(keysOf(run, 'Q1')).toEqual(['R1', 'R2', 'R3', 'R4']);
  });
});

describe('leads', () => {
  it('one lead per household and category, keyed by those two and the workspace\'s secret, with 四有 flags on 漏评', async () => {
    const [a, b] = Array.from({ length: 2 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R1', adult())],
      hukou: [hk(a!, 'H1'), hk(b!, 'H1', { relation: '妻' })],
      dibao: [dibao(a!, '农村低保', '2019-01-01', null)],
      disability: [disability(b!, '1', '2010-01-01')],
      vehicle: [car(b!, '小型轿车', '2019-01-01')],
    };
    const first = await runRules(tables, D);
    const l = first.leads.filter((x) => x.category === '漏评');
    expect(l.map((x) => [x.household_key, x.rules, x.rule_count, x.members, x.flags])).toEqual([['H1', 'L1,L4', 2, 2, '有小汽车']]);
    // The same household and category in another workspace (another secret): another key, so
    // keys cannot be linked across workspaces or recomputed from a household key. Within one
    // workspace the key is stable (test/nightly-ops.test.ts).
    const again = await runRules({ ...tables, hukou: [...tables.hukou!].reverse(), dibao: [dibao(b!, '特困供养', '2018-01-01', null)] }, D);
    expect(again.leads.find((x) => x.category === '漏评')!.lead_key).not.toBe(l[0]!.lead_key);
    expect(String(l[0]!.lead_key)).toMatch(/^L-[0-9a-f]{16}$/);
  });

  it('ranks leads with more and graver rules first', async () => {
    const [a, b] = Array.from({ length: 2 }, adult) as string[];
    const tables: Tables = {
      roster: [rr('R1', a!), rr('R2', b!)],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2')],
      vehicle: [car(a!, '小型轿车', '2014-01-01')],
      public_servant: [servant(a!, '2010-01-01')],
      market_entity: [entity(b!, '个体工商户', '2013-01-01')],
    };
    const run = await runRules(tables, D);
    const byKey = Object.fromEntries(run.leads.map((x) => [x.household_key, Number(x.priority)]));
    expect(byKey.R1).toBeGreaterThan(byKey.R2!);
  });
});

describe('监测预警 rules (防止返贫监测)', () => {
  const mon = (householdId: string, id: string, included: string, cleared: string | null, extra: Row = {}): Row => ({
    household_id: householdId, id_number: id, name: nameOf(id), relation: '户主', township: '青溪镇', village: '铺田村',
    monitor_type: '边缘易致贫户', included_on: included, cleared_on: cleared, risk_type: '因病', income_per_capita: 7000, ...extra,
  });
  const paid = (id: string, settled: string, yuan: number): Row => ({ id_number: id, name: nameOf(id), settled_on: settled, total_cost: yuan * 3, out_of_pocket: yuan });
  // Lines with ruralIncomeReference 10000: 脱贫户 and 监测户 5000, others 10000.
  const ref = { ruralIncomeReference: 10000 };

  it('M1 and M2: out-of-pocket cost over the 365 days up to D against the lines', async () => {
    const [a, b, c, d, e, f, g, h] = Array.from({ length: 8 }, adult) as string[];
    const tables: Tables = {
      roster: [exited('R1', a!), exited('R2', b!), rr('R3', c!)],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2'), hk(c!, 'H3'), hk(d!, 'H4'), hk(e!, 'H5'), hk(f!, 'H6'), hk(g!, 'H7'), hk(h!, 'H8')],
      monitoring: [mon('J1', d!, '2020-04-01', null)],
      medical_expense: [
        paid(a!, addDays(D, -365), 2000), paid(a!, D, 3000), // 脱贫户: exactly 5000 within the window (both ends)
        paid(b!, addDays(D, -366), 4000), paid(b!, '2020-05-01', 4999.99), // the older one is outside: 4999.99
        paid(c!, '2020-05-01', 9000), // 未脱贫 roster household: neither watched nor other
        paid(d!, '2020-05-01', 5000), // monitored: M1 on its monitoring household
        paid(e!, '2020-05-01', 10000), // other rural resident at the line: M2
        paid(f!, '2020-05-01', 9999.99), // just under
        paid(g!, addDays(D, 1), 20000), // settled after D
        { ...paid(h!, '2020-05-01', 6000), settlement_id: 'JS001' }, { ...paid(h!, '2020-05-01', 6000), settlement_id: 'JS001' }, // exported twice: 6000 once
      ],
    };
    const run = await expectRule('M1', tables, ['J1', 'R1'], ref);
    expect(keysOf(run, 'M2')).toEqual(['H5']);
    // Without its 结算单号 the repeated row counts twice (nothing tells it from a second settlement).
    const unnumbered = { ...tables, medical_expense: tables.medical_expense!.map((r) => ({ ...r, settlement_id: null })) };
    expect(keysOf(await runRules(unnumbered, D, ref), 'M2')).toEqual(['H5', 'H8']);
    // An absolute line instead of the share.
    await expectRule('M1', tables, ['J1', 'R1', 'R2'], { ...ref, medicalCostAmountWatched: 4999 });
    // Without the settlements the rules are not evaluated, never zero leads.
    const none = await runRules({ roster: tables.roster, hukou: tables.hukou }, D, ref);
    for (const id of ['M1', 'M2']) expect(none.result.rules.find((r) => r.id === id)!.outcome).toBe('NotExecuted');
  });

  it('M3: a 脱贫户 not monitored newly receiving 农村低保 or 特困供养 (90 days up to D, both ends)', async () => {
    const [a, b, c, d, e] = Array.from({ length: 5 }, adult) as string[];
    const tables: Tables = {
      roster: [exited('R1', a!), exited('R2', b!), exited('R3', c!), exited('R4', d!), rr('R5', e!)],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2'), hk(c!, 'H3'), hk(d!, 'H4'), hk(e!, 'H5')],
      monitoring: [mon('R4', d!, '2020-03-01', null, { monitor_type: '脱贫不稳定户' })],
      dibao: [
        dibao(a!, '特困供养', addDays(D, -90), null), // positive (day 90)
        dibao(b!, '农村低保', addDays(D, -91), null), // 91 days ago
        dibao(c!, '城市低保', addDays(D, -10), null), // 城市低保
        dibao(d!, '农村低保', addDays(D, -10), null), // already monitored
        dibao(e!, '农村低保', addDays(D, -10), null), // not exited
      ],
    };
    await expectRule('M3', tables, ['R1']);
  });

  it('M4: a watched member newly certified grade 1–2, or a house newly assessed C/D and not renovated on D', async () => {
    const [a, b, c, d, e, f] = Array.from({ length: 6 }, adult) as string[];
    const tables: Tables = {
      roster: [exited('R1', a!), exited('R2', b!), exited('R3', c!)],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2'), hk(c!, 'H3'), hk(d!, 'H4'), hk(e!, 'H5'), hk(f!, 'H6')],
      monitoring: [mon('J4', d!, '2020-01-01', null), mon('J5', e!, '2020-01-01', null), mon('J6', f!, '2019-01-01', '2020-01-01')],
      disability: [disability(d!, '1', addDays(D, -90)), disability(e!, '3', addDays(D, -5)), disability(a!, '2', addDays(D, -91)), disability(f!, '1', addDays(D, -5))],
      housing_safety: [
        house(b!, 'D', addDays(D, -30), '未改造', null), // positive
        house(c!, 'C', addDays(D, -60), '已改造', addDays(D, -1)), // renovated by D
      ],
    };
    // J6 is cleared: not watched any more (its disability is M5's matter only through T1–T3/M1).
    await expectRule('M4', tables, ['J4', 'R2']);
  });

  it('M5: a cleared household whose T1–T3 or M1 condition still holds on D', async () => {
    const [a, b, c, d, e, f, g] = Array.from({ length: 7 }, adult) as string[];
    const cleared = '2020-03-01';
    const tables: Tables = {
      roster: [rr('R0', adult())],
      hukou: [a, b, c, d, e, f, g].map((x, k) => hk(x!, `H${k + 1}`)),
      monitoring: [
        mon('J1', a!, '2019-06-01', cleared), mon('J2', b!, '2019-06-01', cleared), mon('J3', c!, '2019-06-01', cleared),
        mon('J4', d!, '2019-06-01', cleared), mon('J5', e!, '2019-06-01', cleared), mon('J6', f!, '2019-06-01', addDays(D, 1)),
        mon('J7', g!, '2020-04-01', cleared), // taken in again after the clearance: monitored
      ],
      housing_safety: [house(a!, 'C', '2019-05-01', '未改造', null), house(d!, 'D', '2019-05-01', '已改造', '2020-02-01'), house(f!, 'D', '2019-05-01', '未改造', null), house(g!, 'C', '2019-05-01', '未改造', null)],
      illness: [illness(b!, '大病', addDays(cleared, -365)), illness(e!, '大病', addDays(cleared, -366))],
      medical_expense: [paid(c!, '2020-05-01', 5000)],
    };
    // J4: renovated before the clearance; J5: 大病 too long before it; J6: cleared after D and J7
    // taken in again after it (both still monitored).
    await expectRule('M5', tables, ['J1', 'J2', 'J3'], ref);
  });

  it('M6: a 脱贫户 not monitored below the line of D\'s year; NotExecuted for a year not in the table', async () => {
    const [a, b, c, d] = Array.from({ length: 4 }, adult) as string[];
    const tables: Tables = {
      roster: [exited('R1', a!, { income_per_capita: 5999.99 }), exited('R2', b!, { income_per_capita: 6000 }), exited('R3', c!, { income_per_capita: 3000 }), rr('R4', d!, { income_per_capita: 1000 })],
      hukou: [hk(a!, 'H1'), hk(b!, 'H2'), hk(c!, 'H3'), hk(d!, 'H4')],
      monitoring: [mon('J9', c!, '2020-03-01', null, { monitor_type: '脱贫不稳定户' })], // R3's member is monitored (another 户编号)
    };
    await expectRule('M6', tables, ['R1']);
    await expectRule('M6', tables, ['R1', 'R2'], { monitoringLines: { 2020: 6500 } });
    const later = await runRules(tables, '2023-06-30');
    const m6 = later.result.rules.find((r) => r.id === 'M6')!;
    expect([m6.outcome, m6.reason]).toEqual(['NotExecuted', expect.stringContaining('2023')]);
    // Without the monitoring list, "not monitored" cannot be known: M3 and M6 are not evaluated.
    const unknown = await runRules({ roster: tables.roster, hukou: tables.hukou }, D);
    for (const id of ['M3', 'M6']) expect([id, unknown.result.rules.find((r) => r.id === id)!.outcome]).toEqual([id, 'NotExecuted']);
  });
});
