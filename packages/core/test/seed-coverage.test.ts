import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { allSeedExamples } from "./fixtures/seeds.js";

// packages/core/dist/test → the repository → its sibling shared/seeds
const seedsDir = fileURLToPath(new URL("../../../../../shared/seeds/", import.meta.url));

/** JSON texts in a seed: every balanced {…} or […] opened alone on its line. */
const jsonBlocks = (text: string): string[] => {
  const blocks: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]?.trimStart() ?? "";
    if (
      first.trimEnd() !== "{" &&
      first.trimEnd() !== "[" &&
      !/^"[\w$]+":\s*\{$/.test(first.trimEnd())
    )
      continue;
    let depth = 0;
    let inString = false;
    let block = "";
    let j = i;
    for (; j < lines.length; j++) {
      const line = lines[j] as string;
      block += `${line}\n`;
      for (let k = 0; k < line.length; k++) {
        const c = line[k];
        if (inString) {
          if (c === "\\") k++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") depth--;
      }
      if (depth <= 0) break;
    }
    if (depth === 0) {
      blocks.push(block);
      i = j;
    }
  }
  return blocks;
};

/** Parses a seed's JSON, forgiving what prose-embedded examples get wrong. */
const parseLenient = (block: string): unknown => {
  const cleaned = block.replace(/,(\s*[}\]])/g, "$1");
  try {
    return JSON.parse(cleaned);
  } catch {
    return JSON.parse(`{${cleaned}}`); // a `"name": {…}` snippet
  }
};

describe("seed examples", { skip: !existsSync(seedsDir) && "../shared/seeds not present" }, () => {
  it("every JSON example in the seeds is one of the test fixtures", () => {
    let count = 0;
    for (const file of readdirSync(seedsDir).sort()) {
      const text = readFileSync(`${seedsDir}${file}`, "utf8");
      for (const block of jsonBlocks(text)) {
        const example = parseLenient(block);
        count++;
        const found = allSeedExamples.some((fixture) => {
          try {
            assert.deepStrictEqual(fixture, example);
            return true;
          } catch {
            return false;
          }
        });
        assert.ok(found, `${file}: no fixture equals this example:\n${block}`);
      }
    }
    assert.equal(count, allSeedExamples.length, "as many examples in the seeds as fixtures");
  });
});
