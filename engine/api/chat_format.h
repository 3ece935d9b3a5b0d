// Chat prompts for instruct models without a Jinja interpreter: the template text in GGUF
// metadata (tokenizer.chat_template) is recognised by markers that only DeepSeek's templates
// contain, and the matching format is rendered natively. An unknown or missing template falls
// back to a plain "User: ...\n\nAssistant:" format (the caller logs a warning naming it).
//
// Formats (the templates shipped in the models' tokenizer_config.json; BOS is not part of the
// rendered text, the tokenizer adds it as the model's metadata says):
//   deepseek-v2     V2-Chat, V2-Lite-Chat, Coder-V2-Instruct:
//                   system "\n\n" | "User: " u "\n\n" | "Assistant: " a EOS | ... "Assistant:"
//   deepseek-v3     V3, R1: all system prompts first (joined by "\n\n"), then
//                   "<｜User｜>" u | "<｜Assistant｜>" a "<｜end▁of▁sentence｜>" | ... "<｜Assistant｜>"
//   deepseek-coder  Coder (v1) Instruct: system | "### Instruction:\n" u "\n" |
//                   "### Response:\n" a "\n<|EOT|>\n" | ... "### Response:\n"
//   plain           system "\n\n" | "User: " u "\n\n" | "Assistant: " a "\n\n" | ... "Assistant:"
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "api/engine.h"

namespace latent::engine {

enum class ChatFormat { deepseek_v2, deepseek_v3, deepseek_coder, plain };

// The format a template's text selects; `plain` for an empty or unrecognised template.
ChatFormat detect_chat_format(std::string_view chat_template);
std::string_view chat_format_name(ChatFormat f);

// The conversation as text with the format's special tokens spelled out (to be tokenized with
// special-token parsing on), ending with the assistant's turn opened. `eos` is the model's
// end-of-sequence token text (deepseek-v2 closes assistant turns with it). Throws Error on a
// role other than system, user or assistant.
std::string render_chat(ChatFormat f, std::span<const ChatMessage> messages, std::string_view eos);

}  // namespace latent::engine
