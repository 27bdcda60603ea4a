/**
 * The format of the township lists as they leave the office and come back with answers: the
 * columns (report writes them, audit's feedback import reads them) and the evidence signature an
 * answer is attached to. Below both report and audit, so that neither imports the other for it.
 */
export const VERIFY_RESULT = '核实结果';
export const VERIFY_NOTE = '核实说明';

export interface Column {
  header: string;
  key: string;
  width: number;
  text?: boolean;
}

export const LIST_COLUMNS: Column[] = [
  { header: '线索编号', key: 'lead_key', width: 22, text: true },
  { header: '状态', key: 'status', width: 7 },
  { header: '优先级', key: 'priority', width: 7 },
  { header: '村', key: 'village', width: 14 },
  { header: '户编号/户号', key: 'household_key', width: 21, text: true },
  { header: '涉及规则', key: 'rules_text', width: 30 },
  { header: '涉及成员', key: 'members_text', width: 30, text: true },
  { header: '证据', key: 'evidence_text', width: 70 },
  { header: '四有提示', key: 'flags', width: 14 },
  { header: '上次核实', key: 'last_answer', width: 18 },
  { header: VERIFY_RESULT, key: 'verify_result', width: 10 },
  { header: VERIFY_NOTE, key: 'verify_note', width: 30 },
];


/**
 * What identifies a piece of evidence across runs and re-exports: the rule, the dataset, the
 * person and the values that triggered it (not the snapshot or row, which change with every
 * new export of the same record). An SQL expression over an evidence row.
 */
export const EVIDENCE_SIGNATURE = "rule || '|' || dataset || '|' || coalesce(id_number, '') || '|' || coalesce(detail, '')";
