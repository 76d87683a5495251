// Validates Grafana dashboards against Grafana's published dashboard schema:
// the Dashboard type of @grafana/schema, turned into JSON Schema by
// ts-json-schema-generator (check_schema.py prepares both), checked with ajv.
//
//   node check_schema.cjs OPEN.json STRICT.json DASHBOARD.json... [--self-test]
//
// OPEN (unknown properties allowed) must accept every dashboard: types,
// required properties, enums. STRICT (no unknown property) is applied to the
// dashboard without its panels and to each panel (as Panel or RowPanel):
// every unknown property must be one of ALLOWED, with its reason.
// Exit 0 when all pass, 1 otherwise. Needs NODE_PATH with ajv.
"use strict";
const fs = require("fs");
const Ajv = require("ajv").default || require("ajv");

// Properties Grafana reads that the Dashboard type does not declare.
const ALLOWED = [
  [/^$/, /^__(inputs|requires|elements)$/, "the export envelope Grafana's Import reads"],
  [/^\/annotations\/list\/\d+$/, /^(expr|step|titleFormat|textFormat|tagKeys|useValueForTime)$/,
   "the Prometheus datasource's annotation query (the type declares the datasource-independent part)"],
  [/^\/templating\/list\/\d+$/, /^definition$/, "the query editor's text of a query variable"],
];

function load(path) { return JSON.parse(fs.readFileSync(path, "utf8")); }

function compile(schemaPath) {
  const ajv = new Ajv({allErrors: true, strict: false});
  const schema = load(schemaPath);
  ajv.addSchema(schema, "dashboard");
  return {
    dashboard: ajv.compile({$ref: "dashboard#/definitions/Dashboard"}),
    panel: ajv.compile({$ref: "dashboard#/definitions/Panel"}),
    row: ajv.compile({$ref: "dashboard#/definitions/RowPanel"}),
  };
}

function describe(errors, prefix = "") {
  return errors.map(e => `${prefix}${e.instancePath || "/"}: ${e.message}` +
                         (e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : "") +
                         (e.params && e.params.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : ""));
}

// Problems of one dashboard document.
function check(doc, open, strict) {
  const problems = [];
  if (!open.dashboard(doc)) problems.push(...describe(open.dashboard.errors));
  const top = Object.assign({}, doc, {panels: []});
  const strictErrors = [];
  if (!strict.dashboard(top)) strictErrors.push(...strict.dashboard.errors.map(e => [e, ""]));
  (doc.panels || []).forEach((p, i) => {
    const v = p && p.type === "row" ? strict.row : strict.panel;
    if (!v(p)) strictErrors.push(...v.errors.map(e => [e, `/panels/${i}`]));
  });
  for (const [e, prefix] of strictErrors) {
    const prop = e.params && e.params.additionalProperty;
    const at = prefix + e.instancePath;
    if (prop && ALLOWED.some(([where, name]) => where.test(at) && name.test(prop))) continue;
    problems.push(...describe([e], prefix));
  }
  return [...new Set(problems)];
}

function selfTest(doc, open, strict) {
  const mutations = [
    ["graphTooltip as text", d => { d.graphTooltip = "shared"; }, "/graphTooltip"],
    ["no schemaVersion", d => { delete d.schemaVersion; }, "schemaVersion"],
    ["unknown top-level property", d => { d.colour = "red"; }, "colour"],
    ["gridPos width as text", d => { d.panels[1].gridPos.w = "12"; }, "/panels/1/gridPos/w"],
    ["unknown panel property", d => { d.panels[1].sparkline = true; }, "sparkline"],
    ["threshold step without colour", d => {
      const p = d.panels.find(x => x.fieldConfig && x.fieldConfig.defaults.thresholds);
      delete p.fieldConfig.defaults.thresholds.steps[0].color; }, "color"],
    ["bad variable type", d => { d.templating.list[1].type = "sql"; }, "/templating/list/1/type"],
  ];
  let failed = 0;
  const base = check(doc, open, strict);
  console.log(`self-test baseline: ${base.length ? "FAILED " + base.join("; ") : "ok"}`);
  if (base.length) failed++;
  for (const [name, mutate, needle] of mutations) {
    const d = JSON.parse(JSON.stringify(doc));
    mutate(d);
    const problems = check(d, open, strict);
    const ok = problems.some(p => p.includes(needle));
    console.log(`self-test ${name}: ${ok ? "ok" : "FAILED: " + JSON.stringify(problems)}`);
    if (!ok) failed++;
  }
  return failed;
}

function main() {
  const args = process.argv.slice(2);
  const self = args.includes("--self-test");
  const [openPath, strictPath, ...docs] = args.filter(a => a !== "--self-test");
  const open = compile(openPath), strict = compile(strictPath);
  let failed = 0;
  if (self) return selfTest(load(docs[0]), open, strict) ? 1 : 0;
  for (const path of docs) {
    const problems = check(load(path), open, strict);
    console.log(`${path}: ${problems.length ? "INVALID" : "valid against the Grafana dashboard schema"}`);
    for (const p of problems) console.log(`  ${p}`);
    if (problems.length) failed++;
  }
  return failed ? 1 : 0;
}

process.exit(main());
