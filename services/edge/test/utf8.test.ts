import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMqttUtf8 } from "../src/utf8.js";

const check = (bytes: number[]): boolean => isMqttUtf8(Uint8Array.from(bytes), 0, bytes.length);

describe("isMqttUtf8", () => {
  it("accepts well-formed UTF-8 of every length, up to U+10FFFF", () => {
    for (const text of ["", "$sys/P1/d1/image/update", "é", "€", "\u{10FFFF}", "😀", "\uFFFF"])
      assert.equal(isMqttUtf8(Buffer.from(text), 0, Buffer.byteLength(text)), true, text);
  });

  const refused: [string, number[]][] = [
    ["U+0000", [0x61, 0x00]],
    ["a lone continuation byte", [0x80]],
    ["0xFF", [0x74, 0xff]],
    ["an overlong 2-byte form (C0 80)", [0xc0, 0x80]],
    ["an overlong 3-byte form (E0 80 80)", [0xe0, 0x80, 0x80]],
    ["an overlong 4-byte form (F0 80 80 80)", [0xf0, 0x80, 0x80, 0x80]],
    ["a surrogate (ED A0 80)", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80]],
    ["a lead byte F5", [0xf5, 0x80, 0x80, 0x80]],
    ["a sequence cut short at the end", [0x61, 0xe2, 0x82]],
    ["a sequence broken by ASCII", [0xe2, 0x61, 0x82]],
  ];
  for (const [what, bytes] of refused)
    it(`refuses ${what}`, () => assert.equal(check(bytes), false));

  it("looks only between start and end", () => {
    const bytes = Buffer.from([0xff, 0x61, 0x62, 0xe2]);
    assert.equal(isMqttUtf8(bytes, 1, 3), true);
    assert.equal(isMqttUtf8(bytes, 1, 4), false);
  });
});
