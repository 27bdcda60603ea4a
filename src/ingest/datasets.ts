import { stripFormatChars } from './values.js';

/**
 * The data contract of DOMAIN.md as data: each dataset, its canonical fields, the header aliases
 * departments use, which fields are required, and how each is typed. The ingest SQL, the header
 * matcher, the config validator, the fixture generator and the README table all read this.
 */
export type FieldType = 'id' | 'name' | 'text' | 'place' | 'date' | 'number' | 'enum';

export interface FieldDef {
  readonly name: string;
  /** Chinese label shown to users (errors, lead lists). */
  readonly zh: string;
  readonly aliases: readonly string[];
  readonly required: boolean;
  readonly type: FieldType;
  /** For enums: canonical value → accepted spellings (matched after width folding and trimming). */
  readonly values?: Readonly<Record<string, readonly string[]>>;
  /** Enums: a bracketed note after the value is ignored (已脱贫(享受政策) = 已脱贫). */
  readonly notes?: boolean;
  /** A code (户编号, 户号): a trailing `.0` left by a number cell is removed. */
  readonly code?: boolean;
  /**
   * Roster only: a field of the household, which 花名册 write on the head's row (or merge over
   * the members): empty or unreadable on a member's row, it is taken from the household.
   */
  readonly household?: boolean;
}

export interface DatasetDef {
  readonly name: DatasetName;
  readonly zh: string;
  readonly department: string;
  /** Optional datasets: a rule needing one that is absent is NotExecuted, never zero leads. */
  readonly optional: boolean;
  readonly fields: readonly FieldDef[];
}

export const DATASET_NAMES = [
  'roster', 'hukou', 'vehicle', 'dibao', 'disability', 'housing_safety', 'commercial_housing',
  'illness', 'market_entity', 'public_servant', 'dropout', 'monitoring', 'medical_expense',
] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

const f = (
  name: string, zh: string, type: FieldType, required: boolean, aliases: readonly string[],
  values?: Record<string, readonly string[]>, flags: { notes?: boolean; code?: boolean; household?: boolean } = {},
): FieldDef => ({ name, zh, type, required, aliases, ...(values ? { values } : {}), ...flags });
const HOUSEHOLD = { household: true };
const CODE = { code: true };

/** The national system's code-table wordings of the roster status (DOMAIN.md). */
const ROSTER_STATUS = {
  未脱贫: ['未脱贫', '未脱贫户', '贫困户', '贫困'],
  已脱贫: ['已脱贫', '脱贫', '脱贫户', '已脱贫户', '稳定脱贫', '稳定脱贫户', '脱贫享受政策户', '脱贫不享受政策户'],
  返贫: ['返贫', '返贫户'],
};

/** 防止返贫动态监测's three kinds of monitored households (监测对象类型). */
const MONITOR_TYPE = {
  脱贫不稳定户: ['脱贫不稳定户', '脱贫不稳定', '脱贫不稳定人口'],
  边缘易致贫户: ['边缘易致贫户', '边缘易致贫', '边缘户', '边缘易致贫人口'],
  突发严重困难户: ['突发严重困难户', '突发严重困难', '突发困难户'],
};

export const DATASETS: readonly DatasetDef[] = [
  {
    name: 'roster', zh: '建档立卡', department: '扶贫办', optional: false,
    fields: [
      f('household_id', '户编号', 'text', true, ['户编号', '户码', '家庭编号'], undefined, CODE),
      f('id_number', '证件号码', 'id', true, ['证件号码', '身份证号', '身份证号码', '公民身份号码']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('relation', '与户主关系', 'text', false, ['与户主关系']),
      f('township', '乡镇', 'place', true, ['乡镇', '乡(镇)', '镇'], undefined, HOUSEHOLD),
      f('village', '行政村', 'place', true, ['行政村', '村', '村(社区)'], undefined, HOUSEHOLD),
      f('status', '脱贫状态', 'enum', true, ['脱贫状态', '贫困户状态'], ROSTER_STATUS, { ...HOUSEHOLD, notes: true }),
      f('identified_on', '识别时间', 'date', true, ['识别时间', '识别年度', '纳入时间'], undefined, HOUSEHOLD),
      f('exited_on', '脱贫时间', 'date', false, ['脱贫时间', '脱贫年度'], undefined, HOUSEHOLD),
      f('income_per_capita', '人均纯收入', 'number', false, ['人均纯收入', '家庭人均纯收入'], undefined, HOUSEHOLD),
    ],
  },
  {
    name: 'hukou', zh: '户籍人口', department: '公安', optional: false,
    fields: [
      f('id_number', '公民身份号码', 'id', true, ['公民身份号码', '身份证号']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('hukou_id', '户号', 'text', true, ['户号'], undefined, CODE),
      f('relation', '与户主关系', 'text', false, ['与户主关系']),
      f('township', '乡镇', 'place', true, ['乡镇', '乡镇(街道)']),
      f('village', '村(居)委会', 'place', true, ['村(居)委会', '行政村']),
      f('status', '人口状态', 'enum', true, ['人口状态'], {
        正常: ['正常', '在册'],
        死亡: ['死亡', '已死亡'],
        迁出: ['迁出', '已迁出'],
      }),
      f('status_on', '注销日期', 'date', false, ['注销日期', '变动日期']),
    ],
  },
  {
    name: 'vehicle', zh: '机动车', department: '公安', optional: false,
    fields: [
      f('id_number', '所有人证件号码', 'id', true, ['所有人证件号码', '身份证明号码', '证件号码']),
      f('name', '机动车所有人', 'name', false, ['机动车所有人', '所有人']),
      f('plate', '号牌号码', 'text', true, ['号牌号码']),
      f('vehicle_type', '车辆类型', 'text', true, ['车辆类型']),
      f('registered_on', '初次登记日期', 'date', true, ['初次登记日期', '注册日期']),
      f('status', '机动车状态', 'text', false, ['机动车状态']),
      f('deregistered_on', '注销日期', 'date', false, ['注销日期']),
    ],
  },
  {
    name: 'dibao', zh: '低保特困', department: '民政', optional: false,
    fields: [
      f('id_number', '身份证号', 'id', true, ['身份证号', '保障对象身份证号']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('head_id_number', '户主身份证号', 'id', false, ['户主身份证号']),
      f('township', '乡镇', 'place', true, ['乡镇(街道)', '乡镇']),
      f('village', '村(社区)', 'place', false, ['村(社区)']),
      f('assistance_type', '救助类型', 'enum', true, ['救助类型', '保障类别'], {
        农村低保: ['农村低保', '农村最低生活保障'],
        城市低保: ['城市低保', '城市最低生活保障', '城镇低保'],
        特困供养: ['特困供养', '特困人员供养', '特困人员', '农村特困供养', '城市特困供养'],
      }),
      f('started_on', '开始日期', 'date', true, ['开始日期', '批准日期']),
      f('ended_on', '终止日期', 'date', false, ['终止日期', '停保日期']),
    ],
  },
  {
    name: 'disability', zh: '残疾人', department: '残联', optional: false,
    fields: [
      f('id_number', '身份证号', 'id', true, ['身份证号']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('disability_type', '残疾类别', 'text', false, ['残疾类别']),
      f('grade', '残疾等级', 'enum', true, ['残疾等级'], {
        1: ['一级', '1', '1级', '一'],
        2: ['二级', '2', '2级', '二'],
        3: ['三级', '3', '3级', '三'],
        4: ['四级', '4', '4级', '四'],
      }),
      f('certified_on', '发证日期', 'date', false, ['发证日期']),
      f('township', '乡镇', 'place', false, ['乡镇']),
      f('village', '村', 'place', false, ['村']),
    ],
  },
  {
    name: 'housing_safety', zh: '危房鉴定', department: '住建', optional: false,
    fields: [
      f('id_number', '户主身份证号', 'id', true, ['户主身份证号', '产权人身份证号', '身份证号']),
      f('name', '户主姓名', 'name', true, ['户主姓名', '姓名']),
      f('township', '乡镇', 'place', true, ['乡镇']),
      f('village', '村', 'place', true, ['村']),
      f('grade', '鉴定等级', 'enum', true, ['鉴定等级', '危险等级'], {
        A: ['A', 'A级'], B: ['B', 'B级'], C: ['C', 'C级'], D: ['D', 'D级'],
      }),
      f('assessed_on', '鉴定日期', 'date', true, ['鉴定日期']),
      f('renovation_status', '改造状态', 'enum', false, ['改造状态'], {
        未改造: ['未改造'], 改造中: ['改造中'], 已改造: ['已竣工', '已改造', '竣工', '已完成'],
      }),
      f('renovated_on', '竣工日期', 'date', false, ['竣工日期', '验收日期']),
    ],
  },
  {
    name: 'commercial_housing', zh: '商品房', department: '住建', optional: false,
    fields: [
      f('id_number', '买受人证件号码', 'id', true, ['买受人证件号码', '购房人身份证号']),
      f('name', '买受人', 'name', true, ['买受人', '购房人']),
      f('project', '项目名称', 'text', false, ['项目名称']),
      f('contract_on', '合同备案日期', 'date', true, ['合同备案日期', '网签日期']),
      f('area', '建筑面积', 'number', false, ['建筑面积']),
    ],
  },
  {
    name: 'illness', zh: '大病慢病', department: '卫健', optional: false,
    fields: [
      f('id_number', '身份证号', 'id', true, ['身份证号']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('disease', '病种', 'text', false, ['病种', '疾病名称']),
      f('category', '类别', 'enum', true, ['类别'], { 大病: ['大病'], 慢病: ['慢病', '慢性病'] }),
      f('diagnosed_on', '确诊日期', 'date', true, ['确诊日期']),
      f('out_of_pocket', '个人自付金额', 'number', false, ['个人自付金额', '自付费用']),
    ],
  },
  {
    name: 'market_entity', zh: '市场主体', department: '市场监管', optional: false,
    fields: [
      f('id_number', '法定代表人证件号码', 'id', true, ['法定代表人证件号码', '经营者证件号码', '投资人证件号码']),
      f('name', '法定代表人', 'name', true, ['法定代表人', '经营者姓名']),
      f('entity_name', '主体名称', 'text', true, ['主体名称', '企业名称', '字号名称']),
      f('entity_type', '主体类型', 'text', true, ['主体类型', '企业类型']),
      f('established_on', '成立日期', 'date', true, ['成立日期', '注册日期']),
      f('status', '登记状态', 'text', false, ['登记状态']),
      f('closed_on', '注销日期', 'date', false, ['注销日期', '吊销日期']),
    ],
  },
  {
    name: 'public_servant', zh: '财政供养人员', department: '财政/人社', optional: true,
    fields: [
      f('id_number', '身份证号', 'id', true, ['身份证号']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('employer', '单位名称', 'text', false, ['单位名称']),
      f('hired_on', '入职日期', 'date', true, ['入职日期', '参加工作时间']),
      f('left_on', '离职日期', 'date', false, ['离职日期', '退休日期']),
    ],
  },
  {
    name: 'dropout', zh: '辍学学生', department: '教育', optional: true,
    fields: [
      f('id_number', '学生身份证号', 'id', true, ['学生身份证号', '身份证号']),
      f('name', '学生姓名', 'name', true, ['学生姓名', '姓名']),
      f('school', '学校', 'text', false, ['学校']),
      f('dropped_on', '辍学日期', 'date', true, ['辍学日期']),
      f('returned_on', '劝返日期', 'date', false, ['劝返日期', '复学日期']),
    ],
  },
  {
    // 防止返贫动态监测: the households under monitoring, one row per member (the national
    // monitoring system's export). Household values are written on every member's row.
    name: 'monitoring', zh: '监测对象', department: '乡村振兴（农业农村）', optional: true,
    fields: [
      f('household_id', '户编号', 'text', true, ['户编号', '监测户编号', '户码', '家庭编号'], undefined, CODE),
      f('id_number', '证件号码', 'id', true, ['证件号码', '身份证号', '身份证号码', '公民身份号码']),
      f('name', '姓名', 'name', true, ['姓名']),
      f('relation', '与户主关系', 'text', false, ['与户主关系']),
      f('township', '乡镇', 'place', true, ['乡镇', '乡(镇)', '镇']),
      f('village', '行政村', 'place', true, ['行政村', '村', '村(社区)']),
      f('monitor_type', '监测类型', 'enum', true, ['监测类型', '监测对象类型', '监测对象类别'], MONITOR_TYPE, { notes: true }),
      f('included_on', '纳入时间', 'date', true, ['纳入时间', '纳入监测时间', '识别时间']),
      f('cleared_on', '风险消除时间', 'date', false, ['风险消除时间', '消除风险时间', '风险消除日期']),
      f('risk_type', '风险类型', 'text', false, ['风险类型', '主要风险类型', '致贫返贫风险']),
      f('income_per_capita', '人均纯收入', 'number', false, ['人均纯收入', '家庭人均纯收入']),
    ],
  },
  {
    name: 'medical_expense', zh: '医保结算', department: '医保', optional: true,
    fields: [
      f('id_number', '身份证号', 'id', true, ['身份证号', '证件号码', '公民身份号码', '参保人身份证号']),
      f('name', '姓名', 'name', true, ['姓名', '参保人姓名']),
      f('settlement_id', '结算单号', 'text', false, ['结算单号', '结算流水号', '结算ID', '结算编号', '单据号'], undefined, CODE),
      f('settled_on', '结算日期', 'date', true, ['结算日期', '结算时间', '出院结算日期']),
      f('total_cost', '医疗总费用', 'number', false, ['医疗总费用', '医疗费用总额', '总费用']),
      f('out_of_pocket', '个人自付', 'number', true, ['个人自付', '个人自付金额', '个人负担', '个人负担金额', '自付费用']),
    ],
  },
];


const byName = new Map(DATASETS.map((d) => [d.name, d]));

export function datasetDef(name: DatasetName): DatasetDef {
  const def = byName.get(name);
  if (!def) throw new Error(`unknown dataset ${name}`);
  return def;
}

export function isDatasetName(name: string): name is DatasetName {
  return byName.has(name as DatasetName);
}

/** Header normalisation: format characters removed, NFKC (full-width → half-width), all whitespace removed. */
export function normaliseHeader(header: string): string {
  return stripFormatChars(header).normalize('NFKC').replace(/[\s\u3000]+/g, '');
}

/** The dataset's ID field that identifies a row's person (every dataset has `id_number`). */
export function personIdField(def: DatasetDef): FieldDef {
  return def.fields.find((fd) => fd.name === 'id_number')!;
}

/** The DuckDB table holding a dataset's loaded rows. */
export function dataTable(name: DatasetName): string {
  return `ds_${name}`;
}
