// Re-encodes every text of the reference JSON files with Hugging Face tokenizers' official Node binding and
// compares the ids with the ones reference.py wrote. Usage (tokenizers installed with npm in any folder):
//   NODE_PATH=/tmp/scratch/node_modules node tools/qwen_vl/check_tokens.js tests/Grid.Policy.Tests/TestData/Qwen
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const path = require('path');

const root = process.argv[2];
const IMAGE_PAD = '<|image_pad|>';

async function main() {
  let checked = 0;
  let failed = 0;
  const compare = (what, expected, actual) => {
    checked++;
    if (JSON.stringify(expected) !== JSON.stringify(actual)) {
      failed++;
      console.log(`MISMATCH ${what}\n  python: ${JSON.stringify(expected)}\n  node:   ${JSON.stringify(actual)}`);
    }
  };
  const encode = async (tokenizer, text) => (await tokenizer.encode(text, null, { addSpecialTokens: true })).getIds();

  for (const [family, checkpoint] of [['qwen2_vl', 'qwen2_vl_tiny'], ['qwen2_5_vl', 'qwen2_5_vl_tiny']]) {
    const tokenizer = Tokenizer.fromFile(path.join(root, checkpoint, 'tokenizer.json'));
    const reference = JSON.parse(fs.readFileSync(path.join(root, 'reference', `${family}.json`), 'utf8'));
    for (const c of reference.cases) {
      let prompt = c.prompt_text;
      if (c.image_grid_thw) {
        const [t, h, w] = c.image_grid_thw;
        prompt = prompt.replace(IMAGE_PAD, IMAGE_PAD.repeat((t * h * w) / 4));
      }
      const promptIds = await encode(tokenizer, prompt);
      const completionIds = await encode(tokenizer, c.completion);
      compare(`${family}/${c.name} prompt`, c.input_ids.slice(0, c.completion_start), promptIds);
      compare(`${family}/${c.name} completion`, c.completion_ids, completionIds);
      compare(`${family}/${c.name} input_ids`, c.input_ids, promptIds.concat(completionIds));
    }
    const cases = JSON.parse(fs.readFileSync(path.join(root, 'reference', 'tokenizer_cases.json'), 'utf8'));
    for (const [i, c] of cases.entries()) {
      compare(`${checkpoint} tokenizer case ${i} ${JSON.stringify(c.text)}`, c.ids, await encode(tokenizer, c.text));
    }
  }
  console.log(`${checked - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
