// Validates Kubernetes objects offline against the API's schemas, with the kubernetes-models
// package: reads a multi-document YAML stream (the output of `kubectl kustomize`) on standard
// input, finds each object's model class by apiVersion and kind, and calls its validate(),
// which throws on a schema error (a wrong type, a missing required field, a bad enum value or
// format). An object whose apiVersion/kind has no model fails too. Unknown fields are not
// caught: the package's schemas allow them.
// Usage: kubectl kustomize DIR | node validate.mjs NAME
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const label = process.argv[2] ?? "stdin";

let input = "";
for await (const chunk of process.stdin) input += chunk;

// "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1.
function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
  let module;
  try {
    module = require(`kubernetes-models/${apiVersion}`);
  } catch {
    return null;
  }
  const cls = module[kind];
  return typeof cls === "function" && typeof cls.prototype?.validate === "function" ? cls : null;
}

let failures = 0;
let count = 0;
for (const doc of parseAllDocuments(input)) {
  if (doc.errors.length > 0) {
    console.error(`${label}: YAML error: ${doc.errors[0].message}`);
    failures++;
    continue;
  }
  const obj = doc.toJS();
  if (obj == null) continue;
  count++;
  const name = `${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"} (${obj.apiVersion ?? "?"})`;
  const cls = modelClass(obj.apiVersion, obj.kind);
  if (cls == null) {
    console.error(`${label}: ${name}: no schema for this apiVersion and kind`);
    failures++;
    continue;
  }
  try {
    new cls(obj).validate();
  } catch (e) {
    console.error(`${label}: ${name}: ${e.message}`);
    failures++;
  }
}
if (count === 0) {
  console.error(`${label}: no objects`);
  process.exit(1);
}
if (failures > 0) {
  console.error(`${label}: ${failures} of ${count} objects failed`);
  process.exit(1);
}
console.log(`${label}: ${count} objects valid`);
