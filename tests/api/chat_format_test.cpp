// Chat formats: the DeepSeek templates as they appear in GGUF metadata are recognised, and each
// format renders a conversation as its template would (expected strings written from the
// templates' definitions).
#include <gtest/gtest.h>

#include <vector>

#include "api/chat_format.h"

namespace latent::engine {
namespace {

// tokenizer.chat_template of DeepSeek-V2-Chat / Coder-V2-Instruct and of DeepSeek-V3 (abridged
// to their distinguishing parts; detection must not need more than this).
const char* kV2Template =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}"
    "{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}"
    "{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";
const char* kV3Template =
    "{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}"
    "{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' %}"
    "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}"
    "{% if add_generation_prompt %}{{'<｜Assistant｜>'}}{% endif %}";
const char* kCoderTemplate =
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{'### Instruction:\\n' + message['content'] + '\\n'}}{% else %}"
    "{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{'### Response:'}}{% endif %}";

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Sum?"}};

TEST(ChatFormat, RecognisesDeepSeekTemplates) {
  EXPECT_EQ(detect_chat_format(kV2Template), ChatFormat::deepseek_v2);
  EXPECT_EQ(detect_chat_format(kV3Template), ChatFormat::deepseek_v3);
  EXPECT_EQ(detect_chat_format(kCoderTemplate), ChatFormat::deepseek_coder);
  EXPECT_EQ(detect_chat_format(""), ChatFormat::plain);
  EXPECT_EQ(detect_chat_format("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"), ChatFormat::plain);
}

TEST(ChatFormat, RendersEachFormat) {
  const std::string eos = "<｜end▁of▁sentence｜>";
  EXPECT_EQ(render_chat(ChatFormat::deepseek_v2, kConversation, eos),
            "Be brief.\n\nUser: Hi\n\nAssistant: Hello.<｜end▁of▁sentence｜>User: Sum?\n\nAssistant:");
  EXPECT_EQ(render_chat(ChatFormat::deepseek_v3, kConversation, eos),
            "Be brief.<｜User｜>Hi<｜Assistant｜>Hello.<｜end▁of▁sentence｜><｜User｜>Sum?<｜Assistant｜>");
  EXPECT_EQ(render_chat(ChatFormat::deepseek_coder, kConversation, eos),
            "Be brief.### Instruction:\nHi\n### Response:\nHello.\n<|EOT|>\n### Instruction:\nSum?\n### Response:\n");
  EXPECT_EQ(render_chat(ChatFormat::plain, kConversation, eos),
            "Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Sum?\n\nAssistant:");
}

TEST(ChatFormat, RejectsUnknownRole) {
  std::vector<ChatMessage> bad = {{"tool", "x"}};
  EXPECT_THROW(render_chat(ChatFormat::deepseek_v2, bad, ""), Error);
}

}  // namespace
}  // namespace latent::engine
