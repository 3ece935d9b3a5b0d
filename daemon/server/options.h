// latentd's settings as the server uses them. Their names, types, ranges and descriptions, how
// editors and flags set them, and the help texts are in the settings schema (settings.h); the
// defaults are the initialisers here.
#pragma once

#include <string>
#include <vector>

namespace latent::daemon {

struct Options {
  // GGUF model file. Empty: no model; inline completions are empty and latent/ask answers with
  // the ranked sources only (latent/status says so).
  std::string model_path;
  // "auto": Vulkan when the machine has a GPU (discrete or integrated), else the CPU.
  std::string backend = "auto";
  int device = -1;              // GPU backends: device index of `latent devices`; -1 the best one
  int gpu_layers = -1;          // GPU backends: first layers on the device; -1 as many as fit
  int engine_threads = 0;       // engine worker threads; 0: all hardware threads
  // A remote engine instead of the model file: an OpenAI-compatible server's base URL
  // (http://host:port, its /v1/... endpoints below it), see daemon/remote/remote_generator.h.
  std::string remote_url;
  std::string remote_model;        // the served model's name; empty: the server's first model
  std::string remote_api_key_env;  // environment variable holding the server's API key
  // Prompt layout for remote completions: "auto" (from the model name) or a name of
  // daemon/remote/fim_format.h's table; "infill" uses llama.cpp server's /infill.
  std::string fim_template = "auto";
  int remote_connect_timeout_ms = 3000;  // per connection attempt; failed attempts are retried
  int remote_timeout_ms = 60000;         // longest wait for the server's next bytes
  int remote_retries = 2;                // more attempts after a connection error, with backoff
  // Tokens of repository context (definitions, search hits, repo map) in a completion prompt.
  int context_budget = 2048;
  // Tokens of the current file before and after the cursor in a completion prompt (whole
  // lines; completion_window.h says why the window is bounded and how it stays stable).
  int prefix_tokens = 2048;
  int suffix_tokens = 256;
  // Delay after a completion request before the engine starts; a newer request for the same
  // document within it replaces the older one without any engine work. The only debounce:
  // editors send every request at once.
  int debounce_ms = 50;
  // A completion requested while the model is still loading waits for it this long at most
  // (answered empty then); cancelling or superseding it ends the wait.
  int model_wait_ms = 30000;
  // Language ids (as the editor names them) that get completions; empty: every language.
  std::vector<std::string> enabled_languages;
  int max_lines = 12;           // a multi-line completion stops after this many lines
  int max_tokens = 96;          // most tokens generated for one completion
  int ask_max_tokens = 512;     // most tokens generated for one latent/ask answer
  int ask_sources = 8;          // sources retrieved for latent/ask
  bool index_on_startup = true; // index workspace folders when they are added
  // Worker threads for indexing, retrieval and context assembly. 0: run that work
  // synchronously on the loop thread, which makes tests deterministic.
  int workers = 2;

  bool uses_remote() const { return !remote_url.empty(); }
  bool language_enabled(const std::string& language_id) const;
};

}  // namespace latent::daemon
