// Part of `npm run generate`: writes the JSON Schema of the sidecar's contract-file format.
import { writeFileSync } from "node:fs";
import { contractFileSchema } from "../src/contract-file.js";

writeFileSync(
  new URL("../contract-file.schema.json", import.meta.url),
  `${JSON.stringify(contractFileSchema(), null, 2)}\n`,
);
process.stdout.write("wrote sidecar/contract-file.schema.json\n");
