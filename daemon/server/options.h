// latentd's settings, with their defaults, and how they are read from the client:
// initializationOptions and the "latent" section of workspace/configuration carry the same
// camelCase keys (editors expose them as latent.<key>):
//   model, backend, device, gpuLayers, threads, contextBudget, debounceMs, enabledLanguages, maxLines, maxTokens,
//   askMaxTokens, askSources, indexOnStartup
// ("modelPath" and "languages" are accepted as aliases of model and enabledLanguages; backend
// "auto" means the daemon's choice.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace latent::daemon {

struct Options {
  // GGUF model file. Empty: no model; inline completions are empty and latent/ask answers with
  // the ranked sources only (latent/status says so).
  std::string model_path;
  std::string backend = "cpu";  // "cpu" or "vulkan"
  int device = -1;              // GPU backends: device index of `latent devices`; -1 the best one
  int gpu_layers = -1;          // GPU backends: first layers on the device; -1 as many as fit
  int engine_threads = 0;       // engine worker threads; 0: all hardware threads
  // Tokens of repository context (definitions, search hits, repo map) in a completion prompt.
  int32_t context_budget = 2048;
  // Delay after a completion request before the engine starts; a newer request for the same
  // document within it replaces the older one without any engine work.
  int32_t debounce_ms = 50;
  // Language ids (as the editor names them) that get completions; empty: every language.
  std::vector<std::string> enabled_languages;
  int32_t max_lines = 12;       // a multi-line completion stops after this many lines
  int32_t max_tokens = 96;      // most tokens generated for one completion
  int32_t ask_max_tokens = 512; // most tokens generated for one latent/ask answer
  int32_t ask_sources = 8;      // sources retrieved for latent/ask
  bool index_on_startup = true; // index workspace folders when they are added
  // Worker threads for indexing, retrieval and context assembly. 0: run that work
  // synchronously on the loop thread, which makes tests deterministic.
  int workers = 2;

  bool language_enabled(const std::string& language_id) const;
};

// Applies the keys present in `settings` (a JSON object; null is ignored). A key of the wrong
// type or value is skipped and reported; unknown keys are reported too. Returns the reports,
// each naming the key and what was expected.
std::vector<std::string> apply_settings(const nlohmann::json& settings, Options& options);

}  // namespace latent::daemon
