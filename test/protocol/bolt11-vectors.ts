/**
 * Loads the BOLT 11 examples from the spec text kept verbatim in test/vectors/bolt11/ (see its
 * README): each `> ### title` line followed by its invoice, valid ones before
 * "# Examples of Invalid Invoices", invalid ones after.
 */
import { readFileSync } from 'node:fs';

export interface SpecExample {
  readonly title: string;
  readonly invoice: string;
}

/** The key every example is signed with ("NB: all the following examples are signed with `priv_key`=..."). */
export const SPEC_PRIVATE_KEY = 'e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734';
/** Its public key, as the first example names it ("to me @03e7...ad"). */
export const SPEC_PUBLIC_KEY = '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad';

export function loadSpecExamples(): { valid: SpecExample[]; invalid: SpecExample[] } {
  const path = new URL('../vectors/bolt11/11-payment-encoding.examples.md', import.meta.url);
  const lines = readFileSync(path, 'utf8').split('\n');
  const valid: SpecExample[] = [];
  const invalid: SpecExample[] = [];
  let target = valid;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '# Examples of Invalid Invoices') target = invalid;
    const title = /^> #+ (.*)$/.exec(line);
    if (title === null) continue;
    let j = i + 1;
    while (j < lines.length && /^>?\s*$/.test(lines[j] as string)) j++;
    target.push({ title: title[1] as string, invoice: (lines[j] as string).replace(/^> /, '') });
  }
  return { valid, invalid };
}
