#!/usr/bin/env node
// Offline schema validation of Kubernetes manifests (no API server needed).
//
//   node tools/lint/k8s-validate.js FILE... ("-" or /dev/stdin reads standard input)
//
// Every YAML document is validated against the JSON schema of its apiVersion/kind from the npm
// package kubernetes-models (4.5.1: Kubernetes 1.27 OpenAPI, compiled ajv validators), or, for the
// custom resources the examples use, from its companion packages (CRD_PACKAGES below). Like
// kubeconform without -strict, unknown fields are NOT rejected; wrong types, missing required
// fields and bad enum/format values are. A kind without a schema (a CRD) is a failure, so a typo
// in `kind` cannot slip through as "skipped".
//
// Prints one line per object ("ok   apps/v1 StatefulSet iterd" or "FAIL ... : reason"), then
// "N passed, N failed"; exits 0 only when every object passed (and at least one was checked),
// 1 on an invalid object or a YAML syntax error, 2 on a usage error.
"use strict";

const fs = require("fs");

// Resolve the npm packages from this directory's node_modules whatever the caller's cwd.
function requireLocal(name) {
  return require(require.resolve(name, { paths: [__dirname] }));
}

let YAML;
try {
  YAML = requireLocal("yaml");
  requireLocal("kubernetes-models/v1");
} catch (error) {
  console.error(
    "k8s-validate: npm packages missing (" + error.message.split("\n")[0] + "); run " +
      "`npm ci --prefix " + __dirname + "` or tools/lint/validate_k8s.sh");
  process.exit(2);
}

// Custom resources with schemas: API group -> the npm package generated from its CRDs (pinned in
// package.json, built on the same @kubernetes-models/base as kubernetes-models 4.5.1).
// deploy/k8s/examples/cert-manager.yaml (cert-manager 1.11 CRDs) and prometheus.yaml
// (prometheus-operator 0.65 CRDs) use them.
const CRD_PACKAGES = {
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

// "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1 (the core group),
// "cert-manager.io/v1" -> @kubernetes-models/cert-manager/cert-manager.io/v1.
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) {
    return { error: "apiVersion " + JSON.stringify(apiVersion) + " is not GROUP/VERSION" };
  }
  const crdPackage = CRD_PACKAGES[apiVersion.split("/")[0]];
  let group;
  try {
    group = requireLocal((crdPackage || "kubernetes-models") + "/" + apiVersion);
  } catch (error) {
    return { error: "no schemas for apiVersion " + apiVersion };
  }
  const model = group[kind];
  if (typeof model !== "function" || typeof model.prototype.validate !== "function") {
    return { error: "no schema for kind " + JSON.stringify(kind) + " in " + apiVersion };
  }
  return { model };
}

function describe(object) {
  const name = object && object.metadata && object.metadata.name;
  return [object && object.apiVersion, object && object.kind, name].map(String).join(" ");
}

// ajv's message names the path inside the object ("data/spec/replicas must be integer").
function validateObject(object) {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    return "document is not a mapping";
  }
  const { model, error } = modelFor(object.apiVersion, object.kind);
  if (error) return error;
  if (!object.metadata || typeof object.metadata.name !== "string" || !object.metadata.name) {
    return "metadata.name is missing";
  }
  try {
    new model(object).validate();
  } catch (validationError) {
    return String(validationError.message || validationError).replace(/\s+/g, " ");
  }
  return null;
}

function main(argv) {
  const files = argv.slice(2);
  if (files.length === 0) {
    console.error("usage: k8s-validate.js FILE... (- for standard input)");
    return 2;
  }
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const label = file === "-" ? "<stdin>" : file;
    let text;
    try {
      text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
    } catch (error) {
      console.log("FAIL " + label + ": cannot read: " + error.message);
      failed++;
      continue;
    }
    const documents = YAML.parseAllDocuments(text);
    documents.forEach((document, index) => {
      const where = label + " document " + (index + 1);
      if (document.errors && document.errors.length > 0) {
        console.log("FAIL " + where + ": YAML: " + document.errors[0].message.split("\n")[0]);
        failed++;
        return;
      }
      const object = document.toJS();
      if (object === null || object === undefined) return;  // An empty document ("---" at the end).
      // A List (kubectl get -o yaml) holds the objects to check.
      const objects =
        object.kind === "List" && Array.isArray(object.items) ? object.items : [object];
      for (const item of objects) {
        const problem = validateObject(item);
        if (problem === null) {
          console.log("ok   " + describe(item));
          passed++;
        } else {
          console.log("FAIL " + describe(item) + " (" + where + "): " + problem);
          failed++;
        }
      }
    });
  }
  console.log(passed + " passed, " + failed + " failed");
  if (passed + failed === 0) {
    console.log("k8s-validate: no objects found in " + files.join(", "));
    return 1;
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv);
