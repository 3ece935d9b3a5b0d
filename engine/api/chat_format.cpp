#include "api/chat_format.h"

namespace latent::engine {

namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

enum class Role { system, user, assistant };

Role role_of(const ChatMessage& m, size_t index) {
  if (m.role == "system") return Role::system;
  if (m.role == "user") return Role::user;
  if (m.role == "assistant") return Role::assistant;
  throw Error("chat message " + std::to_string(index) + " has role '" + m.role +
              "'; use system, user or assistant");
}

}  // namespace

ChatFormat detect_chat_format(std::string_view t) {
  if (contains(t, "<｜User｜>") && contains(t, "<｜Assistant｜>") && contains(t, "<｜end▁of▁sentence｜>"))
    return ChatFormat::deepseek_v3;
  if (contains(t, "'Assistant: ' + message['content'] + eos_token") ||
      (contains(t, "'User: ' + message['content']") && contains(t, "'Assistant:'")))
    return ChatFormat::deepseek_v2;
  if (contains(t, "### Instruction:") && contains(t, "<|EOT|>")) return ChatFormat::deepseek_coder;
  return ChatFormat::plain;
}

std::string_view chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::deepseek_v2: return "deepseek-v2";
    case ChatFormat::deepseek_v3: return "deepseek-v3";
    case ChatFormat::deepseek_coder: return "deepseek-coder";
    case ChatFormat::plain: return "plain";
  }
  return "plain";
}

std::string render_chat(ChatFormat f, std::span<const ChatMessage> messages, std::string_view eos) {
  std::string out;
  if (f == ChatFormat::deepseek_v3) {
    // V3's template gathers every system message in front of the conversation.
    for (size_t i = 0; i < messages.size(); ++i) {
      if (role_of(messages[i], i) != Role::system) continue;
      if (!out.empty()) out += "\n\n";
      out += messages[i].content;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    Role role = role_of(m, i);
    switch (f) {
      case ChatFormat::deepseek_v3:
        if (role == Role::user) out += "<｜User｜>" + m.content;
        if (role == Role::assistant) out += "<｜Assistant｜>" + m.content + "<｜end▁of▁sentence｜>";
        break;
      case ChatFormat::deepseek_coder:
        if (role == Role::system) out += m.content;
        if (role == Role::user) out += "### Instruction:\n" + m.content + "\n";
        if (role == Role::assistant) out += "### Response:\n" + m.content + "\n<|EOT|>\n";
        break;
      case ChatFormat::deepseek_v2:
      case ChatFormat::plain:
        if (role == Role::system) out += m.content + "\n\n";
        if (role == Role::user) out += "User: " + m.content + "\n\n";
        if (role == Role::assistant) {
          out += "Assistant: " + m.content;
          if (f == ChatFormat::deepseek_v2)
            out += eos;
          else
            out += "\n\n";
        }
        break;
    }
  }
  switch (f) {
    case ChatFormat::deepseek_v3: out += "<｜Assistant｜>"; break;
    case ChatFormat::deepseek_coder: out += "### Response:\n"; break;
    case ChatFormat::deepseek_v2:
    case ChatFormat::plain: out += "Assistant:"; break;
  }
  return out;
}

}  // namespace latent::engine
