import { z } from 'zod';

/**
 * Every threshold of the rule catalogue, with its default from DOMAIN.md. Rules name the
 * parameters they use in their headers; config `rules` overrides them. Shared thresholds (the
 * dropout age range used by L5 and T2, the dangerous grades used by L2 and T1) live here once so
 * two rules can never disagree about a default.
 */
export const PARAMETERS = {
  ruralAssistanceTypes: {
    zh: '计入漏评的救助类型',
    schema: z.array(z.string().min(1)).min(1),
    default: ['农村低保', '特困供养'],
  },
  dangerousHouseGrades: {
    zh: '危房等级',
    schema: z.array(z.enum(['A', 'B', 'C', 'D'])).min(1),
    default: ['C', 'D'],
  },
  illnessWindowDays: {
    zh: '大病确诊回溯天数（漏评）',
    schema: z.number().int().min(0).max(36500),
    default: 730,
  },
  severeDisabilityMaxGrade: {
    zh: '重度残疾的最低等级（1–4，含）',
    schema: z.number().int().min(1).max(4),
    default: 2,
  },
  dropoutMinAge: { zh: '辍学学生最小年龄', schema: z.number().int().min(0).max(30), default: 6 },
  dropoutMaxAge: { zh: '辍学学生最大年龄', schema: z.number().int().min(0).max(30), default: 15 },
  elderlyAge: { zh: '老人户年龄下限', schema: z.number().int().min(0).max(120), default: 60 },
  remoteVillages: {
    zh: '居住偏远的村（"乡镇/村"）',
    schema: z.array(z.string().regex(/^[^/]+\/[^/]+$/, '应写成 "乡镇/村"')),
    default: [] as string[],
  },
  passengerCarTypes: {
    zh: '计入错评的小汽车类型',
    schema: z.array(z.string().min(1)).min(1),
    default: ['小型轿车', '微型轿车', '小型普通客车', '微型普通客车', '小型越野客车'],
  },
  excludedEntityTypes: {
    zh: '不计入错评的市场主体类型',
    schema: z.array(z.string().min(1)),
    default: ['农民专业合作社'],
  },
  exitIllnessLookbackDays: {
    zh: '大病确诊回溯天数（错退，自脱贫时间起）',
    schema: z.number().int().min(0).max(36500),
    default: 365,
  },
  incomeStandards: {
    zh: '各年度脱贫收入标准（元/人/年）',
    schema: z.record(z.string().regex(/^[0-9]{4}$/, '键应为四位年份'), z.number().positive()),
    default: { 2014: 2800, 2015: 2855, 2016: 3000, 2017: 3335, 2018: 3535, 2019: 3747, 2020: 4000 } as Record<
      string,
      number
    >,
  },
  // ---- 监测预警 (防止返贫动态监测; issue 16)
  ruralIncomeReference: {
    zh: '农村居民人均可支配收入参考值（元/年，上年度，本省）',
    schema: z.number().int().min(1).max(1_000_000),
    // National figure for 2024 (国家统计局《2024年国民经济和社会发展统计公报》: 农村居民人均可支配收入
    // 23119 元). Counties use their province's previous-year figure: set it in config.
    default: 23119,
  },
  medicalCostPercentWatched: {
    zh: '脱贫户、监测户医疗自付费用预警线（占参考值的百分比）',
    schema: z.number().int().min(1).max(1000),
    default: 50,
  },
  medicalCostPercentOthers: {
    zh: '一般农户医疗自付费用预警线（占参考值的百分比）',
    schema: z.number().int().min(1).max(1000),
    default: 100,
  },
  medicalCostAmountWatched: {
    zh: '脱贫户、监测户医疗自付费用预警线（元，填 0 则按百分比）',
    schema: z.number().int().min(0).max(10_000_000),
    default: 0,
  },
  medicalCostAmountOthers: {
    zh: '一般农户医疗自付费用预警线（元，填 0 则按百分比）',
    schema: z.number().int().min(0).max(10_000_000),
    default: 0,
  },
  medicalWindowDays: {
    zh: '医疗自付费用累计天数（截至比对日）',
    schema: z.number().int().min(1).max(3650),
    default: 365,
  },
  riskEventWindowDays: {
    zh: '新发风险的回溯天数（新纳入低保特困、新认定重度残疾、新鉴定危房）',
    schema: z.number().int().min(1).max(3650),
    default: 90,
  },
  monitoringLines: {
    zh: '各年度防止返贫监测范围（人均纯收入，元/人/年）',
    schema: z.record(z.string().regex(/^[0-9]{4}$/, '键应为四位年份'), z.number().positive()),
    // 2020: 国务院扶贫开发领导小组《关于建立防止返贫监测和帮扶机制的指导意见》 (about 1.5 × the
    // 4000-yuan standard); 2021: 中央农办等《关于健全防止返贫动态监测和帮扶机制的指导意见》 (6000 元).
    // Later years are set by each province: add them in config.
    default: { 2020: 6000, 2021: 6000 } as Record<string, number>,
    /** The rule reads the line of the as-of date's year: a year not in the table leaves it NotExecuted. */
    yearOfAsOf: true,
  },
} as const;

export type ParameterName = keyof typeof PARAMETERS;
export type ParameterValues = { [K in ParameterName]: (typeof PARAMETERS)[K]['default'] };

export const PARAMETER_NAMES = Object.keys(PARAMETERS) as ParameterName[];

export function defaultParameters(): ParameterValues {
  return structuredClone(
    Object.fromEntries(PARAMETER_NAMES.map((k) => [k, PARAMETERS[k].default])),
  ) as ParameterValues;
}

/** zod schema of config `rules`: every parameter optional, unknown keys rejected. */
export const rulesConfigSchema = z
  .object(
    Object.fromEntries(PARAMETER_NAMES.map((k) => [k, PARAMETERS[k].schema.optional()])) as {
      [K in ParameterName]: z.ZodOptional<(typeof PARAMETERS)[K]['schema']>;
    },
  )
  .strict();
