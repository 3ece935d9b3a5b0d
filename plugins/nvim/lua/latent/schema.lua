-- latentd's settings that latent.nvim passes on as `server = { ... }`, with their defaults,
-- ranges and descriptions. Generated from `latentd --settings-schema` by
-- plugins/sync_settings.mjs; do not edit (CI checks that it matches).
return {
  { key = 'model', type = 'string', default = '', flag = 'model', description = 'GGUF model (deepseek2 architecture) for completions and answers; empty: none, so completions are empty and questions are answered with the ranked sources' },
  { key = 'backend', type = 'string', default = 'auto', enum = { 'auto', 'cpu', 'vulkan' }, flag = 'backend', description = 'inference backend: auto (Vulkan when the machine has a GPU, else the CPU), cpu or vulkan' },
  { key = 'device', type = 'integer', default = -1, minimum = -1, maximum = 64, flag = 'device', description = 'GPU backends: the device index `latent devices` lists; -1: the best one (a discrete GPU, else an integrated one)' },
  { key = 'gpuLayers', type = 'integer', default = -1, minimum = -1, maximum = 100000, flag = 'gpu-layers', description = 'GPU backends: the first N layers run on the GPU, the rest on the CPU; -1: as many as fit' },
  { key = 'threads', type = 'integer', default = 0, minimum = 0, maximum = 1024, flag = 'threads', description = 'engine threads; 0: all cores' },
  { key = 'contextBudget', type = 'integer', default = 2048, minimum = 0, maximum = 1048576, flag = 'context-budget', description = 'tokens of repository context (definitions, search hits, repo map) in a completion prompt' },
  { key = 'prefixTokens', type = 'integer', default = 2048, minimum = 16, maximum = 1048576, flag = 'prefix-tokens', description = 'tokens of the current file before the cursor in a completion prompt (whole lines, starting on a 32-line grid so that typing keeps the prompt\'s cached start)' },
  { key = 'suffixTokens', type = 'integer', default = 256, minimum = 0, maximum = 1048576, flag = 'suffix-tokens', description = 'tokens of the current file after the cursor in a completion prompt (whole lines; they are evaluated again on every keystroke, so keep this small)' },
  { key = 'debounceMs', type = 'integer', default = 50, minimum = 0, maximum = 10000, flag = 'debounce-ms', description = 'milliseconds a completion request waits before the model starts; a newer request for the same file replaces it (editors send every keystroke\'s request at once)' },
  { key = 'maxLines', type = 'integer', default = 12, minimum = 1, maximum = 1000, flag = 'max-lines', description = 'most lines of a multi-line completion' },
  { key = 'maxTokens', type = 'integer', default = 96, minimum = 1, maximum = 8192, flag = 'max-tokens', description = 'most tokens generated for one completion' },
  { key = 'askSources', type = 'integer', default = 8, minimum = 1, maximum = 100, flag = 'ask-sources', description = 'repository places retrieved for a question' },
  { key = 'askMaxTokens', type = 'integer', default = 512, minimum = 1, maximum = 32768, flag = 'ask-max-tokens', description = 'most tokens of an answer to a question' },
  { key = 'indexOnStartup', type = 'boolean', default = true, flag = 'index', description = 'index workspace folders when they are added' },
}
