// The JSON of latentd's HTTP API, without any I/O: request bodies of the OpenAI-compatible
// endpoints (/v1/completions, /v1/chat/completions) and of llama.cpp server's /infill turned
// into GenerationRequests, and the responses, stream chunks and errors in those APIs' shapes.
//  - OpenAI: https://platform.openai.com/docs/api-reference/completions (and chat); errors are
//    {"error": {"message", "type", "param", "code"}}.
//  - llama.cpp: tools/server/README.md, POST /infill (input_prefix, input_suffix, input_extra,
//    prompt, n_predict, stream, cache_prompt) answering {"content", "stop", "timings", ...}.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "server/ports.h"

namespace latent::daemon::http {

enum class Endpoint { Completions, ChatCompletions, Infill };

// A request the client must fix: HTTP 400 with `param` naming the field.
struct BadRequest : std::runtime_error {
  BadRequest(const std::string& message, std::string param_name)
      : std::runtime_error(message), param(std::move(param_name)) {}
  std::string param;
};

struct ParsedRequest {
  GenerationRequest generation;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage
  // /infill with n_predict 0 only fills the cache (llama.vim's ring-buffer updates): one token
  // is generated and not returned.
  bool discard_text = false;
};

// Throws BadRequest. `model` describes the served model (FIM support, context length: a
// request without max_tokens may run to the end of the context).
ParsedRequest parse_request(Endpoint endpoint, const nlohmann::json& body, const ModelDescription& model);

// The fields every response and chunk repeats.
struct ResponseIds {
  std::string id;       // "cmpl-…" / "chatcmpl-…"
  int64_t created = 0;  // Unix seconds
  std::string model;
  // Wall time from the request to its first text, and from there to the end (/infill's timings).
  double prompt_ms = 0, predicted_ms = 0;
};

std::string finish_reason(const GenerationEnd& end);  // "stop", "length" or "error"

// The whole reply of a request that did not stream.
nlohmann::json full_response(Endpoint endpoint, const ResponseIds& ids, const std::string& text, const GenerationEnd& end);
// One streamed piece (an SSE event's data); `end` is set for the last one only.
nlohmann::json stream_chunk(Endpoint endpoint, const ResponseIds& ids, const std::string& text, const GenerationEnd* end);
// OpenAI's usage-only chunk (stream_options.include_usage).
nlohmann::json usage_chunk(Endpoint endpoint, const ResponseIds& ids, const GenerationEnd& end);
nlohmann::json usage(const GenerationEnd& end);

// {"error": {...}}; `type` as OpenAI names them: invalid_request_error, authentication_error,
// rate_limit_error, server_error, not_found_error.
nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param = {},
                          const std::string& code = {});

// GET /v1/models.
nlohmann::json models_response(const ModelDescription& model, int64_t created);

}  // namespace latent::daemon::http
