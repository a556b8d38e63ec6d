import { MAX_SOURCE_BYTES, readRegularFile } from '../host/read-file';
import { parseArgs } from './args';
import { typeName } from '../btf/layout';
import type { Btf } from '../btf/btf';
import { type BpfMap, type BpfObject, type BpfReloc, openObject, type SourceLocation } from '../object';
import { analyzeArgCtx } from '../object/arg-ctx';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readWithoutDwarf } from './input';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function typeText(btf: Btf | undefined, id: number | undefined): string | null {
  if (!btf || id === undefined) return null;
  try {
    return typeName(btf, id);
  } catch {
    return `[${id}]`;
  }
}

function sourceJson(s: SourceLocation | undefined): Json {
  return s ? { file: s.file, line: s.line, column: s.column } : null;
}

function mapJson(obj: BpfObject, m: BpfMap): { [k: string]: Json } {
  return {
    name: m.kernelName,
    c_name: m.name,
    kind: m.kind,
    type: m.type,
    type_id: m.typeId,
    bytes_key: m.keySize,
    bytes_value: m.valueSize,
    max_entries: m.maxEntries,
    flags: m.flags,
    numa_node: m.numaNode,
    pinning: m.pinning,
    map_extra: m.mapExtra <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m.mapExtra) : m.mapExtra.toString(),
    key_type: typeText(obj.btf, m.keyTypeId),
    value_type: typeText(obj.btf, m.valueTypeId),
    inner_map: m.innerMap ? mapJson(obj, m.innerMap) : null,
    initial_slots: m.initialSlots ? m.initialSlots.map((s) => ({ index: s.index, target: s.target })) : null,
    section: m.section,
    ...(m.structOpsType
      ? {
          struct_ops_type: m.structOpsType,
          struct_ops_progs: (m.structOpsProgs ?? []).map((p) => ({ member: p.member, program: p.program })),
        }
      : {}),
    source: sourceJson(m.source),
  };
}

function relocJson(r: BpfReloc): Json {
  return {
    insn: r.insn,
    kind: r.kind,
    name: r.name,
    ...(r.mapIndex !== undefined ? { map_index: r.mapIndex } : {}),
    ...(r.offset !== undefined ? { offset: r.offset } : {}),
  };
}

/** The `inspect --json` document (bpftool's field names where bpftool has them). */
export function inspectJson(obj: BpfObject): { [k: string]: Json } {
  return {
    file: obj.file,
    name: obj.name,
    byte_order: obj.littleEndian ? 'little' : 'big',
    license: obj.license,
    kern_version: obj.kernVersion,
    programs: obj.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.progType,
      type_id: p.progTypeId,
      expected_attach_type: p.expectedAttachType,
      expected_attach_type_id: p.expectedAttachTypeId,
      attach_to: p.attachTo ?? null,
      sec_def: p.secDef ?? null,
      insns: p.insnCount,
      insn_offset: p.insnOffset,
      sleepable: p.sleepable,
      autoload: p.autoload,
      prog_flags: p.progFlags,
      linkage: p.linkage,
      subprograms: [...p.subprograms],
      source: sourceJson(p.source),
      relocations: p.relocs.map(relocJson),
    })),
    functions: obj.functions.map((f) => ({
      name: f.name,
      section: f.section,
      insn_offset: f.insnOffset,
      insns: f.insnCount,
      linkage: f.linkage,
      entry: f.isEntry,
      btf_id: f.btfFuncId ?? null,
      callees: [...f.callees],
      source: sourceJson(f.source),
      relocations: f.relocs.map(relocJson),
    })),
    maps: obj.maps.map((m) => mapJson(obj, m)),
    externs: obj.externs.map((e) => ({
      name: e.name,
      kind: e.kind,
      weak: e.weak,
      btf_id: e.btfId,
      type: typeText(obj.btf, e.typeId),
      ...(e.kind === 'kconfig' ? { offset: e.offset ?? 0, size: e.size ?? 0 } : {}),
      ...(e.kind === 'ksym' ? { typeless: e.typeless ?? false } : {}),
    })),
    diagnostics: obj.diagnostics.map((d) => ({
      severity: d.severity,
      message: d.message,
      map: d.map ?? null,
      field: d.field ?? null,
      program: d.program ?? null,
      section: d.section ?? null,
      source: sourceJson(d.source),
    })),
    source_files: [...obj.sourceFiles],
    arg_ctx: analyzeArgCtx(obj).map((a) => ({
      subprog: a.subprog,
      arg: a.arg,
      arg_index: a.argIndex,
      declared_type: a.declaredType,
      callers: a.callers.map((c) => ({ program: c.program, type: c.progType, ctx_type: c.ctxType, direct: c.direct, action: c.action })),
    })),
  };
}

function flagsText(n: number): string {
  return n ? `0x${n.toString(16)}` : '0';
}

/** Human summary: sections, programs, maps, externs, diagnostics. */
export function inspectText(obj: BpfObject): string {
  const out: string[] = [];
  out.push(
    `${obj.file}: BPF object '${obj.name}', ${obj.littleEndian ? 'little' : 'big'}-endian, license '${obj.license}'${obj.btf ? ', BTF' : ', no BTF'}${obj.ext ? ' + BTF.ext' : ''}`,
  );
  const secs = obj.elf.sections.filter(
    (s) => s.name && s.size > 0 && !s.name.startsWith('.rel') && s.name !== '.strtab' && s.name !== '.symtab',
  );
  out.push(`sections: ${secs.map((s) => `${s.name} (${s.size})`).join(', ')}`);
  out.push(`programs (${obj.programs.length}):`);
  for (const p of obj.programs) {
    const attach = p.expectedAttachType ? ` attach ${p.expectedAttachType}` : '';
    const to = p.attachTo ? ` to ${p.attachTo}` : '';
    const flags = `${p.sleepable ? ' sleepable' : ''}${p.autoload ? '' : ' no-autoload'}`;
    const subs = p.subprograms.length ? ` calls ${p.subprograms.join(', ')}` : '';
    const src = p.source ? `  ${p.source.file}:${p.source.line}` : '';
    out.push(`  ${p.name}  SEC("${p.section}")  ${p.progType}${attach}${to}${flags}  ${p.insnCount} insns${subs}${src}`);
  }
  const subs = obj.functions.filter((f) => !f.isEntry);
  if (subs.length) {
    out.push(`subprograms (${subs.length}):`);
    for (const f of subs)
      out.push(`  ${f.name}  ${f.linkage}  ${f.insnCount} insns${f.source ? `  ${f.source.file}:${f.source.line}` : ''}`);
  }
  out.push(`maps (${obj.maps.length}):`);
  const mapLine = (m: BpfMap, indent: string): void => {
    const kname = m.kernelName !== m.name ? ` (kernel name ${m.kernelName})` : '';
    const kv = [typeText(obj.btf, m.keyTypeId), typeText(obj.btf, m.valueTypeId)];
    const types = kv[0] || kv[1] ? `  key ${kv[0] ?? '-'} value ${kv[1] ?? '-'}` : '';
    const pin = m.pinning === 'by_name' ? '  pinned by name' : '';
    out.push(
      `${indent}${m.name}${kname}  ${m.type}  key ${m.keySize}B value ${m.valueSize}B max_entries ${m.maxEntries} flags ${flagsText(m.flags)}${pin}${types}  [${m.kind}]`,
    );
    if (m.innerMap) mapLine(m.innerMap, indent + '  inner: ');
    for (const s of m.initialSlots ?? []) out.push(`${indent}  [${s.index}] = ${s.target}`);
    for (const p of m.structOpsProgs ?? []) out.push(`${indent}  .${p.member} = ${p.program}`);
  };
  for (const m of obj.maps) mapLine(m, '  ');
  if (obj.externs.length) {
    out.push(`externs (${obj.externs.length}):`);
    for (const e of obj.externs) {
      const where = e.kind === 'kconfig' ? `  .kconfig+${e.offset} (${e.size}B)` : '';
      out.push(`  ${e.name}  ${e.kind}${e.weak ? ' weak' : ''}  ${typeText(obj.btf, e.typeId) ?? ''}${where}`);
    }
  }
  const argCtx = analyzeArgCtx(obj);
  if (argCtx.length) {
    out.push(`__arg_ctx arguments (${argCtx.length}):`);
    for (const a of argCtx) {
      const seen = a.callers.map((c) => `${c.program} (${c.progType}) → ${c.ctxType ?? 'no named context'}`).join(', ');
      out.push(`  ${a.subprog}(${a.declaredType}${a.arg}) arg #${a.argIndex}: ${seen || 'no program calls it'}`);
    }
  }
  if (obj.diagnostics.length) {
    out.push(`diagnostics (${obj.diagnostics.length}):`);
    for (const d of obj.diagnostics)
      out.push(`  ${d.source ? `${d.source.file}:${d.source.line}:${d.source.column}: ` : ''}${d.severity}: ${d.message}`);
  }
  return out.join('\n') + '\n';
}

/** `bpf-lens inspect OBJ [--json]`. */
export const inspectCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing OBJ');
    const file = positionals[0];
    const readSource = (p: string): string | undefined => {
      // whatever line_info names: only a regular file, never blocking on a FIFO or a device
      try {
        return readRegularFile(p, MAX_SOURCE_BYTES).toString('utf8');
      } catch {
        return undefined;
      }
    };
    const obj = openObject(readWithoutDwarf(file), file, { readSource });
    io.out(values.json ? JSON.stringify(inspectJson(obj), null, 2) + '\n' : inspectText(obj));
    return 0;
  },
};
