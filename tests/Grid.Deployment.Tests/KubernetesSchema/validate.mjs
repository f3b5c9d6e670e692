// Validates Kubernetes objects (a multi-document YAML stream on stdin, e.g. `kubectl kustomize infra/k8s`) against the
// Kubernetes API's JSON schemas shipped in the npm package kubernetes-models: required fields, types, formats, enums.
// Prints one line per object ("ok Kind/name" or "invalid Kind/name: ...") and exits 1 if any object is invalid or of a
// kind the package does not know.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const documents = parseAllDocuments(readFileSync(0, "utf8")).map((d) => d.toJS()).filter((o) => o);
let failures = 0;
for (const object of documents) {
  const name = `${object.kind}/${object.metadata?.name}`;
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [null, object.apiVersion];
  const module = group ? `kubernetes-models/${group}/${version}/${object.kind}` : `kubernetes-models/${version}/${object.kind}`;
  let Model;
  try {
    Model = (await import(module))[object.kind];
  } catch (error) {
    console.log(`invalid ${name}: no schema for ${object.apiVersion} ${object.kind} (${error.message})`);
    failures++;
    continue;
  }

  try {
    new Model(object).validate();
    console.log(`ok ${name}`);
  } catch (error) {
    console.log(`invalid ${name}: ${error.message}`);
    failures++;
  }
}

console.log(`${documents.length - failures} of ${documents.length} objects valid`);
process.exit(failures === 0 && documents.length > 0 ? 0 : 1);
