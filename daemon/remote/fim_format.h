// Fill-in-the-middle prompt layouts of the code models that serving engines run, for remote
// completions through /v1/completions (which takes a plain prompt). Each model family was
// trained with its own sentinel tokens and order; the served model's name picks the layout
// (`fimTemplate` overrides it), and its end markers become stop strings, since a server does not
// always treat them as end of generation.
//   deepseek    DeepSeek-Coder, Coder-V2, V2.5/V3: <｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>
//   qwen        Qwen2.5-Coder, Qwen3-Coder:        <|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>
//   codestral   Codestral (Mistral):               [SUFFIX]S[PREFIX]P
//   starcoder2  StarCoder2 (and StarCoder):        <fim_prefix>P<fim_suffix>S<fim_middle>
//   codellama   Code Llama:                        <PRE> P <SUF>S <MID>
// Two more ways need no layout: `suffix` sends OpenAI's `suffix` field and the server lays the
// prompt out itself (latentd --http, Ollama); `infill` uses llama.cpp server's /infill. `none`
// sends the prefix alone (a model without FIM training).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latent::daemon::remote {

enum class FimMode { Template, Suffix, Infill, None };

struct FimFormat {
  std::string name;  // as the fimTemplate setting names it
  FimMode mode = FimMode::Template;
  std::string before_prefix, before_suffix, before_middle;  // Template: the sentinels
  bool suffix_first = false;   // Codestral: the suffix part comes before the prefix part
  std::vector<std::string> stop;  // end markers that may come back as text

  std::string prompt(std::string_view prefix, std::string_view suffix) const;
};

// The layout named `name` (a fimTemplate value other than "auto"), or nullopt.
std::optional<FimFormat> fim_format_named(std::string_view name);
// The layout for a served model: by what the server is (`owned_by` of /v1/models: "latent"
// takes `suffix`, "llamacpp" takes /infill), else the model family from its name
// (case-insensitive: "deepseek", "qwen…coder", "codestral", "starcoder", "codellama"), else none.
FimFormat detect_fim_format(std::string_view model_name, std::string_view owned_by);

}  // namespace latent::daemon::remote
