/**
 * A small PromQL reader for tests: which series names, label names and functions a query
 * refers to. It does not check syntax (`promtool check rules` does); it finds the names so a
 * test can compare them with the metric contract. Grafana variables are allowed where Grafana
 * substitutes them in our queries: inside label values and range brackets.
 */

export interface Selector {
  /** The series name, or undefined for a selector written as `{...}` only. */
  readonly metric: string | undefined;
  /** Names of the labels matched in its braces. */
  readonly labels: readonly string[];
}

export interface PromqlRefs {
  readonly selectors: readonly Selector[];
  /** Labels named in by/without/on/ignoring/group_left/group_right lists. */
  readonly grouping: readonly string[];
  readonly functions: readonly string[];
}

const AGGREGATIONS = new Set([
  "avg",
  "bottomk",
  "count",
  "count_values",
  "group",
  "max",
  "min",
  "quantile",
  "stddev",
  "stdvar",
  "sum",
  "topk",
]);

export const FUNCTIONS = new Set([
  ...AGGREGATIONS,
  "abs",
  "absent",
  "absent_over_time",
  "avg_over_time",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "count_over_time",
  "delta",
  "deriv",
  "floor",
  "histogram_quantile",
  "idelta",
  "increase",
  "irate",
  "label_join",
  "label_replace",
  "last_over_time",
  "max_over_time",
  "min_over_time",
  "predict_linear",
  "present_over_time",
  "quantile_over_time",
  "rate",
  "resets",
  "round",
  "scalar",
  "sort",
  "sort_desc",
  "sum_over_time",
  "time",
  "timestamp",
  "vector",
]);

const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"]);

type Token =
  | { readonly kind: "ident"; readonly text: string }
  | { readonly kind: "matchers"; readonly labels: readonly string[] }
  | { readonly kind: "punct"; readonly text: string }
  | { readonly kind: "other" };

function readString(expr: string, start: number): number {
  const quote = expr[start];
  let i = start + 1;
  while (i < expr.length && expr[i] !== quote) i += expr[i] === "\\" && quote !== "`" ? 2 : 1;
  if (i >= expr.length) throw new Error(`unterminated string at ${start} in: ${expr}`);
  return i + 1;
}

/** Label names of a `{...}` block starting at `start`; returns them and the index after `}`. */
function readMatchers(expr: string, start: number): { labels: string[]; end: number } {
  const labels: string[] = [];
  let i = start + 1;
  for (;;) {
    while (/[\s,]/.test(expr[i] ?? "")) i++;
    if (expr[i] === "}") return { labels, end: i + 1 };
    if (expr[i] === '"' || expr[i] === "'") {
      i = readString(expr, i); // a quoted series name (PromQL 3)
      continue;
    }
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(expr.slice(i));
    if (name === null) throw new Error(`bad label matcher at ${i} in: ${expr}`);
    labels.push(name[0]);
    i += name[0].length;
    while (/\s/.test(expr[i] ?? "")) i++;
    const op = /^(=~|!~|!=|=)/.exec(expr.slice(i));
    if (op === null) throw new Error(`no matcher operator after ${name[0]} in: ${expr}`);
    i += op[0].length;
    while (/\s/.test(expr[i] ?? "")) i++;
    if (expr[i] !== '"' && expr[i] !== "'" && expr[i] !== "`") {
      throw new Error(`label ${name[0]} is not matched against a string in: ${expr}`);
    }
    i = readString(expr, i);
  }
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] ?? "";
    const rest = expr.slice(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      const nl = expr.indexOf("\n", i);
      i = nl < 0 ? expr.length : nl;
    } else if (c === '"' || c === "'" || c === "`") {
      i = readString(expr, i);
      tokens.push({ kind: "other" });
    } else if (c === "[") {
      const end = expr.indexOf("]", i);
      if (end < 0) throw new Error(`unterminated range at ${i} in: ${expr}`);
      i = end + 1;
      tokens.push({ kind: "other" });
    } else if (c === "{") {
      const { labels, end } = readMatchers(expr, i);
      i = end;
      tokens.push({ kind: "matchers", labels });
    } else if (/^[0-9.]/.test(c)) {
      const num = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)((ms|s|m|h|d|w|y)[0-9]*)*/.exec(rest);
      if (num === null) throw new Error(`bad number at ${i} in: ${expr}`);
      i += num[0].length;
      tokens.push({ kind: "other" });
    } else if (/^[a-zA-Z_:]/.test(c)) {
      const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest);
      const text = id?.[0] ?? c;
      i += text.length;
      tokens.push({ kind: "ident", text });
    } else if (c === "$") {
      throw new Error(`a Grafana variable outside a label value or a range at ${i} in: ${expr}`);
    } else {
      const op = /^(==|!=|<=|>=|=~|!~|[-+*/%^<>(),@])/.exec(rest);
      if (op === null) throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in: ${expr}`);
      i += op[0].length;
      tokens.push({ kind: "punct", text: op[0] });
    }
  }
  return tokens;
}

/** Series, label and function names a PromQL expression refers to. */
export function promqlRefs(expr: string): PromqlRefs {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const functions: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (t?.kind === "matchers") {
      selectors.push({ metric: undefined, labels: t.labels });
      continue;
    }
    if (t?.kind !== "ident") continue;
    if (GROUPING.has(t.text)) {
      if (next?.kind !== "punct" || next.text !== "(") continue; // group_left without labels
      let j = i + 2;
      for (; j < tokens.length; j++) {
        const u = tokens[j];
        if (u?.kind === "punct" && u.text === ")") break;
        if (u?.kind === "ident") grouping.push(u.text);
      }
      i = j;
    } else if (KEYWORDS.has(t.text)) {
      continue;
    } else if (
      (next?.kind === "punct" && next.text === "(") ||
      (AGGREGATIONS.has(t.text) && next?.kind === "ident" && GROUPING.has(next.text))
    ) {
      functions.push(t.text);
    } else if (next?.kind === "matchers") {
      selectors.push({ metric: t.text, labels: next.labels });
      i++;
    } else {
      selectors.push({ metric: t.text, labels: [] });
    }
  }
  return { selectors, grouping, functions };
}
