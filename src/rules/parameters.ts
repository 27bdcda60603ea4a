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
