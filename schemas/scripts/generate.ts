// `npm run generate`: writes the JSON Schemas generated from zod into schemas/json/.
import { writeFileSync } from "node:fs";
import { jsonSchemas } from "../src/json-schemas.js";

const dir = new URL("../json/", import.meta.url);
for (const [file, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(new URL(file, dir), `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote schemas/json/${file}\n`);
}
