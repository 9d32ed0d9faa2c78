// Validates Kubernetes objects (a JSON array in the file named by argv[2]) with npm kubernetes-models: required
// fields, types and formats of the API's OpenAPI schema, offline; the Prometheus Operator's kinds with
// @kubernetes-models/prometheus-operator. Prints one JSON array: [{ id, error }] with error null when valid.
// Run from this folder's place in the repository, so the repository's node_modules (package-lock.json) resolve.
import { readFileSync } from "node:fs";

const packages = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

const documents = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const document of documents) {
  const id = `${document.apiVersion} ${document.kind} ${document.metadata?.name}`;
  try {
    const [group, version] = document.apiVersion.includes("/") ? document.apiVersion.split("/") : ["", document.apiVersion];
    const module = group === "" ? "kubernetes-models/v1" : `${packages[group] ?? "kubernetes-models"}/${group}/${version}`;
    const models = await import(module);
    const Model = models[document.kind];
    if (typeof Model !== "function") throw new Error(`${module} has no model ${document.kind}`);
    new Model(document).validate();
    results.push({ id, error: null });
  } catch (error) {
    results.push({ id, error: String(error?.message ?? error) + (error?.errors ? " " + JSON.stringify(error.errors) : "") });
  }
}
process.stdout.write(JSON.stringify(results));
