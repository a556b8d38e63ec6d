/**
 * Checks every parameter a client sends before the agent acts on it: a wrong type or value is
 * JSON-RPC's invalid params (-32602) naming the field, never a throw deep inside a load.
 */
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc';
import type {
  AgentLoadParams,
  AttachParams,
  DetachParams,
  MapDeleteParams,
  MapDumpParams,
  MapRefParams,
  MapUpdateParams,
  ObserveParams,
  ProgStatsParams,
  TargetBtfParams,
  TestRunParams,
  UnloadParams,
} from '../../../protocol/agent';

type Check = (v: unknown) => string | undefined;

const invalid = (msg: string) => new ResponseError(ErrorCodes.InvalidParams, `invalid params: ${msg}`);
const show = (v: unknown) =>
  typeof v === 'string'
    ? JSON.stringify(v.slice(0, 80))
    : typeof v === 'object'
      ? Array.isArray(v)
        ? 'an array'
        : v === null
          ? 'null'
          : 'an object'
      : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
        ? String(v)
        : typeof v;

const str: Check = (v) => (typeof v === 'string' && !v.includes('\0') ? undefined : 'a string (without NUL)');
const base64: Check = (v) => (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) ? undefined : 'base64 text');
const int =
  (lo: number, hi: number): Check =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi ? undefined : `an integer ${lo}..${hi}`;
const oneOf =
  (...xs: string[]): Check =>
  (v) =>
    typeof v === 'string' && xs.includes(v) ? undefined : `one of ${xs.join(', ')}`;
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
const absPath: Check = (v) =>
  typeof v === 'string' && v.startsWith('/') && !v.includes('\0') && v.length < 4096 ? undefined : 'an absolute path';
const strings: Check = (v) => (Array.isArray(v) && v.every((x) => str(x) === undefined) ? undefined : 'an array of strings');
const stringMap: Check = (v) =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.entries(v).every(([k, x]) => k !== '__proto__' && str(x) === undefined)
    ? undefined
    : 'an object of VAR: "VALUE" strings';

/** `p` as T when it is an object whose fields pass `shape` (required ones marked with `!`). */
function checked<T>(method: string, p: unknown, shape: Record<string, Check>): T {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw invalid(`${method} takes an object, not ${show(p)}`);
  const o = p as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(k in shape) && !(`${k}!` in shape)) throw invalid(`${method} has no parameter ${JSON.stringify(k.slice(0, 80))}`);
  for (const [key, check] of Object.entries(shape)) {
    const name = key.replace(/!$/, '');
    const v = o[name];
    if (v === undefined) {
      if (key.endsWith('!')) throw invalid(`${method} needs ${name}`);
      continue;
    }
    const want = check(v);
    if (want) throw invalid(`${method}: ${name} must be ${want}, not ${show(v)}`);
  }
  return o as T;
}

export const loadParams = (p: unknown) =>
  checked<AgentLoadParams>('load', p, {
    'name!': str,
    'object!': base64,
    logLevel: int(0, 7),
    noAutoload: strings,
    set: stringMap,
    pinProgramsDir: absPath,
    argCtxFallback: oneOf('auto', 'always', 'never'),
    btf: base64,
    btfName: str,
  });

export const unloadParams = (p: unknown) =>
  checked<UnloadParams>('unload', p, { 'handle!': int(1, Number.MAX_SAFE_INTEGER), unpinMaps: bool });

export const testRunParams = (p: unknown) =>
  checked<TestRunParams>('testRun', p, {
    'handle!': int(1, Number.MAX_SAFE_INTEGER),
    'program!': str,
    data: base64,
    ctx: base64,
    repeat: int(0, 0xffffffff),
  });

export const progStatsParams = (p: unknown) => checked<ProgStatsParams>('progStats', p ?? {}, { enable: bool, disable: bool });
const handle = int(1, Number.MAX_SAFE_INTEGER);

export const attachParams = (p: unknown) =>
  checked<AttachParams>('attach', p, {
    'handle!': handle,
    places: stringMap,
    programs: strings,
    skip: strings,
    pinDir: absPath,
  });

export const observeParams = (p: unknown) =>
  checked<ObserveParams>('observe', p, {
    'handle!': handle,
    maps: strings,
    printk: bool,
    maxQueued: int(1, 1 << 24),
    perfPages: (v) =>
      Number.isSafeInteger(v) && (v as number) > 0 && (v as number) <= 1024 && ((v as number) & ((v as number) - 1)) === 0
        ? undefined
        : 'a power of 2 up to 1024',
  });

export const observeStopParams = (p: unknown) => checked<{ handle: number }>('observeStop', p, { 'handle!': handle });

export const detachParams = (p: unknown) => checked<DetachParams>('detach', p, { 'handle!': handle, programs: strings });

const mapRefShape = { id: int(1, 0xffffffff), pinned: absPath };
/** Exactly one of id and pinned. */
function oneMap<T extends MapRefParams>(method: string, p: T): T {
  if ((p.id === undefined) === (p.pinned === undefined)) throw invalid(`${method} needs one of id and pinned`);
  return p;
}
/** Map keys and values as text: bounded so one request cannot hold the agent's memory. */
const mapText: Check = (v) => (typeof v === 'string' && !v.includes('\0') && v.length <= 1 << 20 ? undefined : 'a string of at most 1 MiB');

export const mapDumpParams = (p: unknown) =>
  oneMap(
    'mapDump',
    checked<MapDumpParams>('mapDump', p, {
      ...mapRefShape,
      json: bool,
      pretty: bool,
      maxElements: int(0, Number.MAX_SAFE_INTEGER),
      preview: int(0, 1000),
      keyFilter: (v) => (typeof v === 'string' && v.length <= 1024 ? undefined : 'a string of at most 1024 characters'),
      noText: bool,
    }),
  );
export const mapUpdateParams = (p: unknown) =>
  oneMap(
    'mapUpdate',
    checked<MapUpdateParams>('mapUpdate', p, { ...mapRefShape, key: mapText, 'value!': mapText, flag: oneOf('any', 'noexist', 'exist') }),
  );
export const mapDeleteParams = (p: unknown) =>
  oneMap('mapDelete', checked<MapDeleteParams>('mapDelete', p, { ...mapRefShape, 'key!': mapText }));

export const targetBtfParams = (p: unknown) =>
  checked<TargetBtfParams>('targetBtf', p ?? {}, {
    knownHash: (v) => (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? undefined : 'a sha256 in hex'),
  });
