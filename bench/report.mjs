// Table rows and formatting for the benchmark report.

export const fmt = {
  int: (n) => n.toLocaleString("en-US"),
  ms: (n) => `${n.toFixed(1)} ms`,
  ratio: (n) => n.toFixed(2),
  mib: (n) => `${n.toFixed(1)} MiB`,
  pct: (n) => `${n.toFixed(2)} %`,
  bytes: (n) => `${n.toLocaleString("en-US")} (${(n / 2 ** 20).toFixed(1)} MiB)`,
};

/** An informational row. */
export function row(label, value) {
  return { label, value, target: "", status: "" };
}

/**
 * A row checked against `value <= max`; when `applies` is false the target is shown but not judged.
 * `format` renders the value (a ratio by default), `unit` follows `max` in the target column.
 */
export function targetRow(
  label,
  value,
  max,
  { applies = true, note = "", format = fmt.ratio, unit = "" } = {},
) {
  const target = `<= ${max}${unit}${note ? ` ${note}` : ""}`;
  const status = applies ? (value <= max ? "PASS" : "MISS") : "-";
  return { label, value: format(value), target, status };
}

export function printTable(title, rows) {
  const header = { label: "metric", value: "value", target: "target", status: "status" };
  const all = [header, ...rows];
  const width = (key) => Math.max(...all.map((r) => r[key].length));
  const widths = { label: width("label"), value: width("value"), target: width("target") };
  const line = (r) =>
    `  ${r.label.padEnd(widths.label)}  ${r.value.padStart(widths.value)}  ${r.target.padEnd(widths.target)}  ${r.status}`.trimEnd();
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`  ${"-".repeat(widths.label + widths.value + widths.target + 12)}`);
  for (const r of rows) console.log(line(r));
}

export function countStatuses(rows) {
  return {
    pass: rows.filter((r) => r.status === "PASS").length,
    miss: rows.filter((r) => r.status === "MISS").length,
  };
}
