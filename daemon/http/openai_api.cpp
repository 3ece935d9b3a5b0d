#include "http/openai_api.h"

#include <cmath>
#include <limits>

namespace latent::daemon::http {

using nlohmann::json;

namespace {

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const json& body, const char* name, bool required) {
  const json* v = field(body, name);
  if (!v) {
    if (required) throw BadRequest(std::string("'") + name + "' is required", name);
    return {};
  }
  if (!v->is_string()) throw BadRequest(std::string("'") + name + "' must be a string", name);
  return v->get<std::string>();
}

double number_field(const json& body, const char* name, double fallback, double min, double max) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_number()) throw BadRequest(std::string("'") + name + "' must be a number", name);
  double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max)
    throw BadRequest(std::string("'") + name + "' must be between " + std::to_string(min) + " and " + std::to_string(max), name);
  return d;
}

// max_tokens and its aliases; absent or negative (llama.cpp's -1): up to the context's end.
int32_t token_limit(const json& body, std::initializer_list<const char*> names, int32_t fallback, bool zero_allowed) {
  for (const char* name : names) {
    const json* v = field(body, name);
    if (!v) continue;
    if (!v->is_number_integer()) throw BadRequest(std::string("'") + name + "' must be an integer", name);
    int64_t n = v->get<int64_t>();
    if (n < 0) return fallback;
    if (n == 0 && !zero_allowed) throw BadRequest(std::string("'") + name + "' must be at least 1", name);
    return static_cast<int32_t>(std::min<int64_t>(n, std::numeric_limits<int32_t>::max()));
  }
  return fallback;
}

std::vector<std::string> stop_field(const json& body) {
  const json* v = field(body, "stop");
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  std::vector<std::string> out;
  if (v->is_array()) {
    for (const auto& s : *v) {
      if (!s.is_string()) throw BadRequest("'stop' must be a string or an array of strings", "stop");
      if (!s.get_ref<const std::string&>().empty()) out.push_back(s.get<std::string>());
    }
    return out;
  }
  throw BadRequest("'stop' must be a string or an array of strings", "stop");
}

// Options this server does not implement: refusing them beats answering something else.
void reject_unsupported(const json& body) {
  if (const json* n = field(body, "n"); n && !(n->is_number_integer() && n->get<int64_t>() == 1))
    throw BadRequest("only n = 1 is supported", "n");
  if (const json* b = field(body, "best_of"); b && !(b->is_number_integer() && b->get<int64_t>() == 1))
    throw BadRequest("only best_of = 1 is supported", "best_of");
  if (const json* e = field(body, "echo"); e && e->is_boolean() && e->get<bool>())
    throw BadRequest("echo is not supported", "echo");
  if (const json* l = field(body, "logprobs"); l && !(l->is_boolean() && !l->get<bool>()))
    throw BadRequest("logprobs are not supported", "logprobs");
}

void sampling_fields(const json& body, GenerationRequest& g, double default_temperature) {
  g.temperature = static_cast<float>(number_field(body, "temperature", default_temperature, 0, 2));
  g.top_p = static_cast<float>(number_field(body, "top_p", 1, std::numeric_limits<double>::min(), 1));
  if (const json* seed = field(body, "seed")) {
    if (!seed->is_number_integer()) throw BadRequest("'seed' must be an integer", "seed");
    g.seed = static_cast<uint64_t>(seed->get<int64_t>());
  }
  g.stop = stop_field(body);
}

// Chat content: a string, or OpenAI's array of parts of which only text parts are accepted.
std::string message_content(const json& content, size_t index) {
  std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw BadRequest(where + " must be a string or an array of text parts", where);
  std::string out;
  for (const auto& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      throw BadRequest(where + ": only text parts are supported", where);
    out += part["text"].get<std::string>();
  }
  return out;
}

int32_t default_limit(const ModelDescription& model) { return model.context_length > 0 ? model.context_length : 4096; }

void require_fim(const ModelDescription& model, const char* param) {
  if (!model.fim)
    throw BadRequest("the model " + model.name + " has no fill-in-the-middle tokens; send no '" + param +
                         "', or serve a DeepSeek-Coder model",
                     param);
}

}  // namespace

ParsedRequest parse_request(Endpoint endpoint, const json& body, const ModelDescription& model) {
  if (!body.is_object()) throw BadRequest("the request body must be a JSON object", "");
  ParsedRequest p;
  GenerationRequest& g = p.generation;
  if (const json* s = field(body, "stream")) {
    if (!s->is_boolean()) throw BadRequest("'stream' must be a boolean", "stream");
    p.stream = s->get<bool>();
  }
  if (const json* so = field(body, "stream_options"); so && so->is_object())
    p.include_usage = so->value("include_usage", false);
  switch (endpoint) {
    case Endpoint::Completions: {
      reject_unsupported(body);
      const json* prompt = field(body, "prompt");
      if (prompt && prompt->is_array() && prompt->size() == 1) prompt = &(*prompt)[0];
      if (!prompt || !prompt->is_string())
        throw BadRequest("'prompt' must be a string (or an array of one string)", "prompt");
      std::string suffix = string_field(body, "suffix", false);
      if (field(body, "suffix")) {
        require_fim(model, "suffix");
        g.kind = GenerationRequest::Kind::Fim;
        g.prefix = prompt->get<std::string>();
        g.suffix = std::move(suffix);
      } else {
        g.kind = GenerationRequest::Kind::Text;
        g.text = prompt->get<std::string>();
        if (g.text.empty()) throw BadRequest("'prompt' is empty", "prompt");
      }
      g.max_tokens = token_limit(body, {"max_tokens"}, 16, false);  // OpenAI's default
      g.interactive = true;
      sampling_fields(body, g, 1.0);
      break;
    }
    case Endpoint::ChatCompletions: {
      reject_unsupported(body);
      const json* messages = field(body, "messages");
      if (!messages || !messages->is_array() || messages->empty())
        throw BadRequest("'messages' must be a non-empty array", "messages");
      g.kind = GenerationRequest::Kind::Chat;
      for (size_t i = 0; i < messages->size(); ++i) {
        const json& m = (*messages)[i];
        std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
          throw BadRequest(where + " must be an object with a 'role'", where + ".role");
        std::string role = m["role"].get<std::string>();
        if (role == "developer") role = "system";
        if (role != "system" && role != "user" && role != "assistant")
          throw BadRequest(where + ".role must be system, developer, user or assistant", where + ".role");
        g.messages.emplace_back(role, message_content(m.value("content", json()), i));
      }
      g.max_tokens = token_limit(body, {"max_completion_tokens", "max_tokens"}, default_limit(model), false);
      g.interactive = false;
      sampling_fields(body, g, 1.0);
      break;
    }
    case Endpoint::Infill: {
      require_fim(model, "input_prefix");
      g.kind = GenerationRequest::Kind::Fim;
      // llama.cpp puts the extra chunks first, then the prefix; `prompt` is the part of the
      // middle already typed (llama.vim: the current line up to the cursor), so it continues
      // the prefix.
      if (const json* extra = field(body, "input_extra")) {
        if (!extra->is_array()) throw BadRequest("'input_extra' must be an array of {filename, text}", "input_extra");
        for (const auto& chunk : *extra) {
          if (!chunk.is_object() || !chunk.contains("text") || !chunk["text"].is_string())
            throw BadRequest("'input_extra' chunks must be objects with a string 'text'", "input_extra");
          g.prefix += chunk["text"].get<std::string>();
        }
      }
      g.prefix += string_field(body, "input_prefix", false);
      g.prefix += string_field(body, "prompt", false);
      g.suffix = string_field(body, "input_suffix", false);
      int32_t n = token_limit(body, {"n_predict", "max_tokens"}, default_limit(model), true);
      p.discard_text = n == 0;
      g.max_tokens = n == 0 ? 1 : n;
      g.interactive = true;
      sampling_fields(body, g, 0.0);  // greedy: editor completions, stable for the cache
      break;
    }
  }
  return p;
}

std::string finish_reason(const GenerationEnd& end) {
  switch (end.reason) {
    case GenerationEnd::Reason::Length: return "length";
    case GenerationEnd::Reason::Error: return "error";
    default: return "stop";
  }
}

json usage(const GenerationEnd& end) {
  return {{"prompt_tokens", end.prompt_tokens},
          {"completion_tokens", end.generated_tokens},
          {"total_tokens", end.prompt_tokens + end.generated_tokens},
          {"prompt_tokens_details", {{"cached_tokens", end.cached_tokens}}}};
}

namespace {

json header(const char* object, const ResponseIds& ids) {
  return {{"id", ids.id}, {"object", object}, {"created", ids.created}, {"model", ids.model}};
}

json infill_body(const ResponseIds& ids, const std::string& text, const GenerationEnd* end) {
  json j = {{"content", text}, {"stop", end != nullptr}, {"model", ids.model}};
  if (end) {
    j["tokens_predicted"] = end->generated_tokens;
    j["tokens_evaluated"] = end->prompt_tokens;
    j["tokens_cached"] = end->cached_tokens;
    j["truncated"] = false;
    j["stop_type"] = end->reason == GenerationEnd::Reason::Length ? "limit" : "eos";
    j["timings"] = {{"prompt_n", end->prompt_tokens - end->cached_tokens},
                    {"prompt_ms", ids.prompt_ms},
                    {"cache_n", end->cached_tokens},
                    {"predicted_n", end->generated_tokens},
                    {"predicted_ms", ids.predicted_ms}};
  }
  return j;
}

}  // namespace

json full_response(Endpoint endpoint, const ResponseIds& ids, const std::string& text, const GenerationEnd& end) {
  switch (endpoint) {
    case Endpoint::Completions: {
      json j = header("text_completion", ids);
      j["choices"] = json::array(
          {{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason(end)}}});
      j["usage"] = usage(end);
      return j;
    }
    case Endpoint::ChatCompletions: {
      json j = header("chat.completion", ids);
      j["choices"] = json::array({{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", text}}},
                                   {"logprobs", nullptr},
                                   {"finish_reason", finish_reason(end)}}});
      j["usage"] = usage(end);
      return j;
    }
    case Endpoint::Infill: return infill_body(ids, text, &end);
  }
  return {};
}

json stream_chunk(Endpoint endpoint, const ResponseIds& ids, const std::string& text, const GenerationEnd* end) {
  json reason = end ? json(finish_reason(*end)) : json(nullptr);
  switch (endpoint) {
    case Endpoint::Completions: {
      json j = header("text_completion", ids);
      j["choices"] = json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", reason}}});
      return j;
    }
    case Endpoint::ChatCompletions: {
      json j = header("chat.completion.chunk", ids);
      json delta = json::object();
      if (!end) delta = {{"role", "assistant"}, {"content", text}};
      j["choices"] = json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", reason}}});
      return j;
    }
    case Endpoint::Infill: return infill_body(ids, text, end);
  }
  return {};
}

json usage_chunk(Endpoint endpoint, const ResponseIds& ids, const GenerationEnd& end) {
  json j = header(endpoint == Endpoint::ChatCompletions ? "chat.completion.chunk" : "text_completion", ids);
  j["choices"] = json::array();
  j["usage"] = usage(end);
  return j;
}

json error_body(const std::string& message, const std::string& type, const std::string& param, const std::string& code) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {{"error", {{"message", message}, {"type", type}, {"param", or_null(param)}, {"code", or_null(code)}}}};
}

json models_response(const ModelDescription& model, int64_t created) {
  json m = {{"id", model.name}, {"object", "model"}, {"created", created}, {"owned_by", "latent"}};
  m["meta"] = {{"n_ctx_train", model.context_length}, {"fim", model.fim}, {"chat_format", model.chat_format}};
  return {{"object", "list"}, {"data", json::array({m})}};
}

}  // namespace latent::daemon::http
