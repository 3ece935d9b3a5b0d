// The extension's settings (latent.*) and what latentd receives from them. No `vscode` import:
// the node tests load this module without VS Code.
//
// Besides the extension's own settings (serverPath, languages, maxRestarts), every latent.*
// setting is one of latentd's, contributed in package.json from the daemon's settings schema
// (plugins/sync_settings.mjs generates them from `latentd --settings-schema`; CI checks they
// match). They are read from package.json here, so the extension names no setting of the daemon.
import { readFileSync } from 'fs';
import { homedir } from 'os';
import { join } from 'path';

interface Contributed {
  default?: unknown;
}
const contributed: Record<string, Contributed> = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'),
).contributes.configuration.properties;

/** The settings of the extension itself; the others are latentd's. */
export const EXTENSION_KEYS = ['serverPath', 'languages', 'maxRestarts'] as const;

/** latentd's settings (latent.<key>, sent as <key>), in package.json order. */
export const DAEMON_KEYS: string[] = Object.keys(contributed)
  .map((k) => k.replace(/^latent\./, ''))
  .filter((k) => !(EXTENSION_KEYS as readonly string[]).includes(k));

/** The `latent.*` settings as read from the configuration. */
export interface LatentSettings {
  serverPath: string;
  /** Language id -> enabled; "*" is the default for languages not listed. */
  languages: Record<string, boolean>;
  maxRestarts: number;
  /** latentd's settings that the user set (the others keep the daemon's defaults or flags). */
  daemon: Record<string, unknown>;
}

const fallback = (key: string) => contributed[`latent.${key}`]?.default;

export const DEFAULT_SETTINGS: LatentSettings = {
  serverPath: fallback('serverPath') as string,
  languages: fallback('languages') as Record<string, boolean>,
  maxRestarts: fallback('maxRestarts') as number,
  daemon: {},
};

/**
 * Reads every setting through `get`, which returns the value the user set (in any scope) or
 * undefined: the extension's settings fall back to their defaults, the daemon's are left out.
 */
export function readSettings(get: (key: string) => unknown): LatentSettings {
  const s: LatentSettings = { ...DEFAULT_SETTINGS, daemon: {} };
  for (const key of EXTENSION_KEYS) {
    const v = get(key);
    if (v !== undefined && v !== null) (s as unknown as Record<string, unknown>)[key] = v;
  }
  for (const key of DAEMON_KEYS) {
    const v = get(key);
    if (v !== undefined && v !== null) s.daemon[key] = v;
  }
  return s;
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
 * The object latentd gets as initializationOptions and as the "latent" configuration section:
 * the daemon settings the user set, by their keys. Per-language switches are applied by the
 * extension; the daemon gets `enabledLanguages` only when "*" is off, so that it skips work for
 * the rest too.
 */
export function daemonSettings(s: LatentSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { ...s.daemon };
  if (s.languages['*'] === false) {
    out.enabledLanguages = Object.keys(s.languages).filter((k) => k !== '*' && s.languages[k]);
  }
  // latentd gets the path as is; a leading "~" is the editor's to expand.
  if (typeof out.model === 'string') out.model = out.model.replace(/^~(?=$|[\\/])/, homedir());
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
