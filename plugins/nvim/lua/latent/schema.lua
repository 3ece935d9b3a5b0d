-- latentd's settings that latent.nvim passes on as `server = { ... }`, with their defaults,
-- ranges and descriptions. Generated from `latentd --settings-schema` by
-- plugins/sync_settings.mjs; do not edit (CI checks that it matches).
return {
  { key = 'model', type = 'string', default = '', flag = 'model', description = 'GGUF model (deepseek2 architecture) for completions and answers; empty: none, so completions are empty and questions are answered with the ranked sources' },
  { key = 'backend', type = 'string', default = 'auto', enum = { 'auto', 'cpu', 'vulkan' }, flag = 'backend', description = 'inference backend: auto (Vulkan when the machine has a GPU, else the CPU), cpu or vulkan' },
  { key = 'device', type = 'integer', default = -1, minimum = -1, maximum = 64, flag = 'device', description = 'GPU backends: the device index `latent devices` lists; -1: the best one (a discrete GPU, else an integrated one)' },
  { key = 'gpuLayers', type = 'integer', default = -1, minimum = -1, maximum = 100000, flag = 'gpu-layers', description = 'GPU backends: the first N layers run on the GPU, the rest on the CPU; -1: as many as fit' },
  { key = 'threads', type = 'integer', default = 0, minimum = 0, maximum = 1024, flag = 'threads', description = 'engine threads; 0: all cores' },
  { key = 'remote', type = 'string', default = '', flag = 'remote', description = 'an OpenAI-compatible server (vLLM, SGLang, llama.cpp\'s server, Ollama, another latentd --http) that runs the model instead of the model file, e.g. http://gpu-box:8000; empty: none' },
  { key = 'remoteModel', type = 'string', default = '', flag = 'remote-model', description = 'the remote server\'s model name; empty: the first one its /v1/models lists' },
  { key = 'remoteApiKeyEnv', type = 'string', default = '', flag = 'remote-api-key-env', description = 'environment variable of latentd holding the remote server\'s API key (sent as Authorization: Bearer); empty: none' },
  { key = 'fimTemplate', type = 'string', default = 'auto', enum = { 'auto', 'deepseek', 'qwen', 'codestral', 'starcoder2', 'codellama', 'suffix', 'infill', 'none' }, flag = 'fim-template', description = 'remote completions\' fill-in-the-middle layout: auto (from the model name), deepseek, qwen, codestral, starcoder2, codellama, suffix (the server\'s own, OpenAI\'s suffix field), infill (llama.cpp\'s /infill) or none (the prefix alone)' },
  { key = 'remoteConnectTimeoutMs', type = 'integer', default = 3000, minimum = 100, maximum = 600000, flag = 'remote-connect-timeout-ms', description = 'milliseconds one connection attempt to the remote server may take' },
  { key = 'remoteTimeoutMs', type = 'integer', default = 60000, minimum = 100, maximum = 3600000, flag = 'remote-timeout-ms', description = 'milliseconds to wait for the remote server\'s next bytes before the request fails' },
  { key = 'remoteRetries', type = 'integer', default = 2, minimum = 0, maximum = 10, flag = 'remote-retries', description = 'further attempts after a connection error, with exponential backoff' },
  { key = 'contextBudget', type = 'integer', default = 2048, minimum = 0, maximum = 1048576, flag = 'context-budget', description = 'tokens of repository context (definitions, search hits, repo map) in a completion prompt' },
  { key = 'debounceMs', type = 'integer', default = 50, minimum = 0, maximum = 10000, flag = 'debounce-ms', description = 'milliseconds a completion request waits before the model starts; a newer request for the same file replaces it (editors send every keystroke\'s request at once)' },
  { key = 'maxLines', type = 'integer', default = 12, minimum = 1, maximum = 1000, flag = 'max-lines', description = 'most lines of a multi-line completion' },
  { key = 'maxTokens', type = 'integer', default = 96, minimum = 1, maximum = 8192, flag = 'max-tokens', description = 'most tokens generated for one completion' },
  { key = 'askSources', type = 'integer', default = 8, minimum = 1, maximum = 100, flag = 'ask-sources', description = 'repository places retrieved for a question' },
  { key = 'askMaxTokens', type = 'integer', default = 512, minimum = 1, maximum = 32768, flag = 'ask-max-tokens', description = 'most tokens of an answer to a question' },
  { key = 'indexOnStartup', type = 'boolean', default = true, flag = 'index', description = 'index workspace folders when they are added' },
}
