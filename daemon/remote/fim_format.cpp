#include "remote/fim_format.h"

#include <algorithm>
#include <cctype>

namespace latent::daemon::remote {

namespace {

// Sentinels as the models' tokenizer configs spell them.
const FimFormat kFormats[] = {
    {"deepseek", FimMode::Template, "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", false,
     {"<｜end▁of▁sentence｜>", "<｜EOT｜>"}},
    {"qwen", FimMode::Template, "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", false,
     {"<|endoftext|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<|im_end|>"}},
    {"codestral", FimMode::Template, "[PREFIX]", "[SUFFIX]", "", true, {"</s>"}},
    {"starcoder2", FimMode::Template, "<fim_prefix>", "<fim_suffix>", "<fim_middle>", false,
     {"<|endoftext|>", "<file_sep>", "<fim_prefix>"}},
    {"codellama", FimMode::Template, "<PRE> ", " <SUF>", " <MID>", false, {" <EOT>", "<EOT>"}},
    {"suffix", FimMode::Suffix, "", "", "", false, {}},
    {"infill", FimMode::Infill, "", "", "", false, {}},
    {"none", FimMode::None, "", "", "", false, {}},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string FimFormat::prompt(std::string_view prefix, std::string_view suffix) const {
  switch (mode) {
    case FimMode::Template:
      if (suffix_first) return before_suffix + std::string(suffix) + before_prefix + std::string(prefix) + before_middle;
      return before_prefix + std::string(prefix) + before_suffix + std::string(suffix) + before_middle;
    default: return std::string(prefix);
  }
}

std::optional<FimFormat> fim_format_named(std::string_view name) {
  for (const auto& f : kFormats)
    if (f.name == name) return f;
  return std::nullopt;
}

FimFormat detect_fim_format(std::string_view model_name, std::string_view owned_by) {
  std::string m = lower(model_name);
  auto has = [&](const char* s) { return m.find(s) != std::string::npos; };
  // The server's own FIM first: it knows its model's layout.
  const char* family = owned_by == "latent"                                          ? "suffix"
                       : owned_by == "llamacpp"                                      ? "infill"
                       : has("deepseek")                                             ? "deepseek"
                       : has("qwen") && has("coder")                                 ? "qwen"
                       : has("codestral")                                            ? "codestral"
                       : has("starcoder")                                            ? "starcoder2"
                       : has("codellama") || has("code-llama") || has("code_llama") ? "codellama"
                                                                                     : "none";
  return *fim_format_named(family);
}

}  // namespace latent::daemon::remote
