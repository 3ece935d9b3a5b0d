// The extension's settings (latent.*) and what latentd receives from them. No `vscode` import:
// the node tests load this module without VS Code.
import { homedir } from 'os';

/** The `latent.*` settings as read from the configuration. */
export interface LatentSettings {
  serverPath: string;
  modelPath: string;
  backend: string;
  /** GPU device index (`latent devices`); -1: the daemon's choice. */
  device: number;
  /** Layers on the GPU, the rest on the CPU; -1: as many as fit. */
  gpuLayers: number;
  contextBudget: number;
  debounceMs: number;
  /** Language id -> enabled; "*" is the default for languages not listed. */
  languages: Record<string, boolean>;
  maxRestarts: number;
}

export const DEFAULT_SETTINGS: LatentSettings = {
  serverPath: '',
  modelPath: '',
  backend: 'auto',
  device: -1,
  gpuLayers: -1,
  contextBudget: 0,
  debounceMs: 75,
  languages: { '*': true, plaintext: false, markdown: false, scminput: false },
  maxRestarts: 3,
};

/** Reads every setting through `get` (a WorkspaceConfiguration's get, or a plain object). */
export function readSettings(get: <T>(key: string) => T | undefined): LatentSettings {
  const s = { ...DEFAULT_SETTINGS } as Record<string, unknown>;
  for (const key of Object.keys(DEFAULT_SETTINGS)) {
    const v = get(key);
    if (v !== undefined && v !== null) s[key] = v;
  }
  return s as unknown as LatentSettings;
}

/** Whether completions are on for `languageId`: its own entry, else "*", else on. */
export function isLanguageEnabled(languages: Record<string, boolean>, languageId: string): boolean {
  if (Object.prototype.hasOwnProperty.call(languages, languageId)) return languages[languageId] !== false;
  if (Object.prototype.hasOwnProperty.call(languages, '*')) return languages['*'] !== false;
  return true;
}

/** `languages` with `languageId` switched on or off, for the enable/disable commands. */
export function withLanguage(languages: Record<string, boolean>, languageId: string, enabled: boolean): Record<string, boolean> {
  return { ...languages, [languageId]: enabled };
}

/**
 * The object latentd gets as initializationOptions and as the "latent" configuration section,
 * with the daemon's key names (daemon/server/options.h). Empty strings and zeros mean "the
 * daemon's default" and are left out (so do -1 for device and gpuLayers). Per-language switches are applied by the extension; the
 * daemon gets `enabledLanguages` only when "*" is off, so that it skips work for the rest too.
 */
export function daemonSettings(s: LatentSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { debounceMs: s.debounceMs };
  if (s.languages['*'] === false) {
    out.enabledLanguages = Object.keys(s.languages).filter((k) => k !== '*' && s.languages[k]);
  }
  // latentd gets the path as is; a leading "~" is the editor's to expand.
  if (s.modelPath) out.model = s.modelPath.replace(/^~(?=$|[\\/])/, homedir());
  if (s.backend && s.backend !== 'auto') out.backend = s.backend;
  if (s.device >= 0) out.device = s.device;
  if (s.gpuLayers >= 0) out.gpuLayers = s.gpuLayers;
  if (s.contextBudget > 0) out.contextBudget = s.contextBudget;
  return out;
}

/** A workspace/configuration item (LSP ConfigurationItem). */
export interface ConfigurationItem {
  scopeUri?: string;
  section?: string;
}

/**
 * Answers workspace/configuration: "latent" gets daemonSettings, "latent.<key>" one of its
 * fields, any other section null (the spec's answer for an unknown section).
 */
export function answerConfiguration(items: ConfigurationItem[], settingsFor: (scopeUri?: string) => LatentSettings): unknown[] {
  return items.map((item) => {
    const section = item.section ?? '';
    const d = daemonSettings(settingsFor(item.scopeUri));
    if (section === 'latent') return d;
    if (section.startsWith('latent.')) return d[section.slice('latent.'.length)] ?? null;
    return null;
  });
}
