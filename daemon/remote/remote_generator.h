// The Generator port over a remote OpenAI-compatible server (vLLM, SGLang, llama.cpp's server,
// Ollama, another `latentd --http`): index and context assembly stay local, the model runs
// there. Completions go to /v1/completions with the served model's FIM layout (fim_format.h)
// or to llama.cpp's /infill; questions to /v1/chat/completions; both stream (server-sent
// events), so cancel() closes the connection and the server stops generating. Prompts arrive
// most stable first (the Assistant builds them so), so the server's prefix cache hits.
//
// Each request runs on its own thread with the client of Debian's cpp-httplib. A connection
// that cannot be made is retried (remote_retries, exponential backoff from 200 ms); once the
// request is sent nothing is retried. A server silent for remote_timeout_ms, a connection closed
// mid-stream, or an HTTP error status ends the request with Reason::Error and a message naming
// the server. Tokens are estimated (4 bytes a token): the served model's tokenizer is not here.
#pragma once

#include <memory>

#include "server/ports.h"

namespace latent::daemon::remote {

// Asks the server for its models (GET /v1/models) to pick the model (remote_model, else the
// first) and the FIM layout (fim_template, "auto": fim_format.h's rules). Throws
// std::runtime_error naming the URL when the server cannot be reached or has no such model.
std::unique_ptr<Generator> open_remote_generator(const Options& options);

}  // namespace latent::daemon::remote
