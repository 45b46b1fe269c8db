import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commands, commandsInModules } from "./index.js";

describe("the CLI's command table", () => {
  it("names exactly the commands the modules implement", async () => {
    assert.deepEqual(Object.keys(commands).sort(), (await commandsInModules()).sort());
  });
});
