/**
 * The families of verifier rejections: how to recognise each in the log's error lines (as
 * 6.1 to 6.18 word them), what it means, how it is usually fixed, and which register or
 * instruction the related locations should be traced from.
 */
import { poisonedCall } from './poison';

/** What to trace back from for related locations. */
export type TraceKind =
  /** The register named by the message (capture group `reg`): where it got its value. */
  | 'reg'
  /** The register named by the message: where its variable offset came from. */
  | 'offset'
  /** A reference (`alloc_insn=`): where it was acquired. */
  | 'ref'
  /** The loop that made the walk long or endless: its back-edge. */
  | 'loop'
  /** The global function called at the failing instruction: its definition. */
  | 'callee'
  /** The calls on the path (stack size across frames). */
  | 'calls'
  /** The stack bytes read: the last write into them. */
  | 'stack'
  /** Only the failing instruction. */
  | 'none';

export interface VerifierFamily {
  readonly id: string;
  readonly title: string;
  /** Tried against each error line; named groups `reg`, `off`, `size`, `what`, `insn` feed the text and the trace. */
  readonly match: readonly RegExp[];
  readonly trace: TraceKind;
  readonly explanation: (g: Record<string, string | undefined>) => string;
  readonly hint: string;
}

const R = (g: Record<string, string | undefined>) => (g.reg ? `R${g.reg}` : 'the register');

export const VERIFIER_FAMILIES: readonly VerifierFamily[] = [
  {
    id: 'null_map_value',
    title: 'map value may be NULL',
    trace: 'reg',
    match: [/^R(?<reg>\d+) invalid mem access '(?<what>map_value_or_null)'/],
    explanation: (g) =>
      `${R(g)} holds the result of a map lookup, which is NULL when the key is not in the map; the verifier refuses to dereference it until the program has checked it against NULL on this path.`,
    hint: 'Check the pointer before using it: `v = bpf_map_lookup_elem(&map, &key); if (!v) return 0;` — the check must be on every path that reaches the access.',
  },
  {
    id: 'null_pointer',
    title: 'pointer may be NULL',
    trace: 'reg',
    match: [
      /^R(?<reg>\d+) invalid mem access '(?<what>\w+_or_null)'/,
      /^Possibly NULL pointer passed to (helper|trusted) arg(?<arg>\d+)/,
      /^R(?<reg>\d+) type=(?<what>\w+_or_null) expected=/,
    ],
    explanation: (g) =>
      `${R(g)} is a ${g.what ?? 'pointer'} value: a helper or kfunc returned a pointer that can be NULL (a socket lookup, ringbuf reserve, bpf_obj_new, a kptr), and it is used without a NULL check on this path.`,
    hint: 'Test it first: `if (!p) return ...;`. After the check the verifier knows the non-NULL type (`sock`, `ringbuf_mem`, …).',
  },
  {
    id: 'packet_bounds',
    title: 'packet access not proven in bounds',
    trace: 'reg',
    match: [
      /^invalid access to packet, off=(?<off>-?\d+) size=(?<size>\d+), R(?<reg>\d+)/,
      /^R(?<reg>\d+) offset is outside of the packet/,
      /^invalid access to packet/,
    ],
    explanation: (g) =>
      `The program reads or writes packet bytes${g.off ? ` ${g.off}..${Number(g.off) + Number(g.size ?? 0) - 1}` : ''} through ${R(g)}, but on this path it has only proven a smaller range against data_end (the \`r=\` in the pointer's state is how many bytes are known to be safe).`,
    hint: 'Compare against data_end before the access, covering the whole access: `if ((void *)(hdr + 1) > data_end) return XDP_DROP;` — and compare the same pointer (or one derived from it) that you dereference.',
  },
  {
    id: 'map_value_bounds',
    title: 'access outside the map value',
    trace: 'offset',
    match: [
      /^invalid access to map value, value_size=(?<size>\d+) off=(?<off>-?\d+) size=\d+/,
      /^R(?<reg>\d+) (min|max) value is outside of the allowed memory range/,
    ],
    explanation: (g) =>
      `An access ${g.off !== undefined ? `at offset ${g.off} ` : ''}goes past the map value${g.size ? ` (value_size=${g.size})` : ''}: the verifier checks every constant and variable offset against the value's size.`,
    hint: 'Index within the value type (check array indexes against the array length) or make the value type large enough; use `sizeof` of the value struct, not of a pointer.',
  },
  {
    id: 'unbounded_access',
    title: 'variable offset not bounded',
    trace: 'offset',
    match: [
      /^R(?<reg>\d+) unbounded memory access/,
      /^math between (?<what>\w+) pointer and register with unbounded min value is not allowed/,
      /^R(?<reg>\d+) min value is negative, either use unsigned index/,
      /^R(?<reg>\d+) (?:max|min) value is outside of the (?:allowed memory range|array range)/,
      /^R(?<reg>\d+) unbounded memory access, use 'var &= const' or 'if \(var < const\)'/,
      /^variable (?:stack|ctx|flow_keys) access var_off=/,
    ],
    explanation: (g) =>
      `${R(g)} points into memory at a variable offset, and on this path nothing bounded that offset: the value it came from can be anything up to its type's maximum, so the access could land outside the object.`,
    hint: 'Bound the index right before the access with a check the verifier can see: `if (idx >= ARRAY_LEN) return 0;` or `idx &= ARRAY_LEN - 1;` (for a power of two). Clang may reorder or widen a check made earlier; do it on the variable that is used.',
  },
  {
    id: 'uninit_register',
    title: 'register read before it was written',
    trace: 'reg',
    match: [/^R(?<reg>\d+) !read_ok/],
    explanation: (g) =>
      `${R(g)} is read but holds nothing on this path: at entry only R1 (the context) and R10 (the frame pointer) are set, and every helper or function call scratches R1-R5.`,
    hint: 'Usually a value that was live across a call in R1-R5, a function without a return value on some path, or hand-written assembly: keep values in R6-R9 across calls, and return a value on every path.',
  },
  {
    id: 'uninit_stack',
    title: 'stack read before it was written',
    trace: 'stack',
    match: [
      /^invalid (?:indirect )?read from stack (?:R(?<reg>\d+) )?off (?<off>-?\d+)\+(?<add>-?\d+) size (?<size>\d+)/,
      /^invalid (?:indirect )?read from stack (?:R(?<reg>\d+) )?var_off/,
      /^invalid size of register fill/,
    ],
    explanation: () =>
      'Stack bytes are read (by the program or by a helper through a pointer) that were never written on this path. Without CAP_PERFMON the verifier refuses uninitialised stack reads, because they could leak kernel memory.',
    hint: 'Initialise the whole variable before passing its address, e.g. `struct key k = {};` or `__builtin_memset(&k, 0, sizeof(k));` — padding holes count too.',
  },
  {
    id: 'infinite_loop',
    title: 'infinite loop',
    trace: 'loop',
    match: [/^infinite loop detected at insn (?<insn>\d+)/],
    explanation: () =>
      'The verifier came back to the same instruction with exactly the same state: the loop cannot make progress on this path, so it would never end.',
    hint: 'Make the loop condition depend on something that changes every iteration (a counter with a constant bound), or use bpf_loop() / bpf_for() for loops whose count the verifier cannot see.',
  },
  {
    id: 'back_edge',
    title: 'loop not allowed',
    trace: 'loop',
    match: [/^back-edge from insn (?<from>\d+) to (?<insn>\d+)/],
    explanation: () =>
      "The program jumps backwards (a loop), and this kernel or this loader's privileges do not allow loops (bounded loops need Linux 5.3 and CAP_BPF).",
    hint: 'Unroll the loop (`#pragma unroll` with a constant bound), or use bpf_loop() on kernels that have it.',
  },
  {
    id: 'too_large',
    title: 'too many instructions to verify',
    trace: 'loop',
    match: [/^BPF program is too large\. Processed (?<n>\d+) insn/, /^The sequence of (?<n>\d+) jumps is too complex/, /^complexity limit/],
    explanation: (g) =>
      `The verifier walks every path instruction by instruction and gives up after ${g.n ?? '1000000'} steps: a loop with many iterations (each one walked again) or many independent branches (paths multiply) exhausted the budget.`,
    hint: 'Shrink the walk: lower the loop bound, use bpf_loop()/bpf_for() (the body is verified once), move work into a global (non-static) function that is verified on its own, or help pruning by keeping loop state small (avoid values that differ each iteration when not needed).',
  },
  {
    id: 'helper_prog_type',
    title: 'helper not available to this program type',
    trace: 'none',
    match: [
      /^program of this type cannot use helper (?<what>\S+)/,
      /^unknown func (?<what>\S+)/,
      /^helper call is not allowed in probe/,
      /^(?<what>\S+) is not allowed in (?:this|sleepable) prog/,
    ],
    explanation: (g) =>
      `${g.what ? `The helper ${g.what.replace(/#\d+$/, '')}` : 'This helper'} is not offered to this program type (or this kernel): each program type has its own set of helpers.`,
    hint: 'Use a helper the program type offers (see `bpftool feature probe` for the list per type), change the program type (SEC name), or move the work to a program type that may call it.',
  },
  {
    id: 'poisoned_call',
    title: 'a call put where this kernel lacks something is reached',
    trace: 'none',
    match: [/^invalid func unknown#(?<what>\d+)/],
    explanation: (g) =>
      `The loader wrote an invalid call (unknown#${g.what}) in place of ${poisonedCall(Number(g.what))?.replace(/ is reachable.*$/, '') ?? 'something this kernel lacks'}, as libbpf does, so that the program loads as long as no path reaches it; this path does. The first line of the error names what it was.`,
    hint: 'Make the path dead on kernels without it: test bpf_core_field_exists() / bpf_core_type_exists() (or read an older ___flavor of the struct) before a CO-RE access, bpf_ksym_exists() before a weak kfunc call; a map that is not created must not be used.',
  },
  {
    id: 'gpl_only',
    title: 'GPL-only function from a non-GPL program',
    trace: 'none',
    match: [
      /^cannot call GPL-restricted function from non-GPL compatible program/,
      /^cannot call kernel function from non-GPL compatible program/,
    ],
    explanation: () =>
      "The called helper or kernel function is GPL-only, and the program's license (the `license` section) is not GPL-compatible.",
    hint: 'Declare a GPL-compatible license: `char LICENSE[] SEC("license") = "GPL";` (or "Dual BSD/GPL"), if that is right for your program.',
  },
  {
    id: 'kfunc_prog_type',
    title: 'kfunc not available to this program type',
    trace: 'none',
    match: [
      /^calling kernel function (?<what>\S+) is not allowed/,
      /^kernel function (?<what>\S+) (?:args#\d+ )?is not allowed/,
      /^cannot call kernel function/,
    ],
    explanation: (g) =>
      `The kernel function ${g.what ?? ''} is not registered for this program type: each kfunc set is registered for specific program types.`.replace(
        '  ',
        ' ',
      ),
    hint: 'Call it from a program type it is registered for, or use a helper/kfunc this program type offers (XDP has bpf_dynptr_from_xdp, tc bpf_dynptr_from_skb).',
  },
  {
    id: 'unreleased_reference',
    title: 'reference not released',
    trace: 'ref',
    match: [
      /^Unreleased reference id=(?<id>\d+) alloc_insn=(?<insn>\d+)/,
      /^BPF_EXIT instruction (?:in main prog )?would lead to reference leak/,
      /^function calls are not allowed while holding a lock/,
    ],
    explanation: (g) =>
      `Something acquired${g.insn ? ` at instruction ${g.insn}` : ''} (a ringbuf reservation, a socket from a lookup, a task or cgroup from a kfunc, an object from bpf_obj_new) is still held when the program exits on this path; the verifier makes every acquire be released on every path.`,
    hint: 'Release it on every path, including early returns: bpf_ringbuf_submit()/bpf_ringbuf_discard() for a reservation, bpf_sk_release() for a socket, the matching *_release() kfunc for an acquired pointer.',
  },
  {
    id: 'helper_arg_type',
    title: 'wrong argument type for a helper or kfunc',
    trace: 'reg',
    match: [
      /^R(?<reg>\d+) type=(?<what>\w+) expected=(?<exp>.*)/,
      /^arg#(?<arg>\d+) (?:pointer type|reference type|arg#\d+ )/,
      /^arg#(?<arg>\d+) expected pointer to (?!ctx)/,
      /^(?:R\d+ )?(?:arg#\d+ )?expected an? (?:initialized|uninitialized) (?:dynptr|iter)/,
      /^release kernel function \S+ expects/,
      /^R(?<reg>\d+) must be (?:referenced|a rcu pointer|known constant)/,
    ],
    explanation: (g) =>
      `${R(g)} is passed to a helper or kfunc${g.what ? ` as ${g.what}` : ''}, but the argument must be ${g.exp ? `one of: ${g.exp.replace(/_$/, '…')}` : 'of another type'}. Numbers cannot stand in for pointers: the verifier tracks where every pointer came from.`,
    hint: 'Pass a pointer of the kind the helper expects, e.g. the address of a stack variable for a map key (`&key`), not its value; kfunc pointer arguments must come from the right source (trusted, referenced, or the context).',
  },
  {
    id: 'misaligned',
    title: 'misaligned access',
    trace: 'none',
    match: [/^misaligned (?<what>stack|packet|value|context|access)? ?access off/, /^misaligned (?:stack|packet|value|context) access/],
    explanation: () =>
      'The access is not aligned to its size. The stack (and, with BPF_F_STRICT_ALIGNMENT or on architectures without efficient unaligned access, packets and map values) must be accessed at offsets that are a multiple of the access size.',
    hint: 'Align the variable or the offset (`__attribute__((aligned(8)))`, keep 8-byte fields at multiples of 8), or copy the bytes with __builtin_memcpy / bpf_probe_read_kernel.',
  },
  {
    id: 'div_by_zero',
    title: 'division by the constant zero',
    trace: 'none',
    match: [/^div by zero/],
    explanation: () =>
      'A division or modulo by the immediate 0. (Division by a register that happens to be zero is defined in BPF — the result is 0 — and is accepted; only the constant 0 in the instruction is refused.)',
    hint: 'Remove the constant division by zero (often from a macro or a configuration constant that is 0).',
  },
  {
    id: 'stack_too_deep',
    title: 'stack too large',
    trace: 'calls',
    match: [
      /^combined stack size of (?<n>\d+) calls is (?<size>\d+)\. Too large/,
      /^the call stack of (?<n>\d+) frames is too deep/,
      /^invalid (?:write|read) to stack R\d+ off=(?<off>-\d+) size/,
      /^stack size (?<size>\d+)/,
    ],
    explanation: (g) =>
      `${g.size ? `The stacks of the ${g.n ?? ''} nested frames add up to ${g.size} bytes` : 'The calls nest too deeply or use too much stack'}: BPF has 512 bytes of stack for all frames of a call chain together (and at most 8 frames).`.replace(
        '  ',
        ' ',
      ),
    hint: 'Move large buffers into a per-CPU array map (a one-element BPF_MAP_TYPE_PERCPU_ARRAY as scratch space), shrink locals, or inline the small functions that hold big arrays.',
  },
  {
    id: 'ctx_access',
    title: 'invalid context access',
    trace: 'none',
    match: [
      /^invalid bpf_context access off=(?<off>\d+) size=(?<size>\d+)/,
      /^dereference of modified ctx ptr R(?<reg>\d+)/,
      /^invalid (?:write|read) to ctx/,
    ],
    explanation: (g) =>
      `The context field at offset ${g.off ?? '?'} (size ${g.size ?? '?'}) may not be accessed this way by this program type: each type allows reading some fields, writing fewer, and only at their exact offset and size.`,
    hint: 'Use only fields the program type allows (e.g. XDP may read xdp_md fields but not write them), access them with their declared size, and read them directly from the context pointer (not through a copied or offset pointer).',
  },
  {
    id: 'global_func_arg',
    title: 'global function argument not accepted',
    trace: 'callee',
    match: [
      /^arg#(?<arg>\d+) expect(?:s|ed) pointer to ctx/,
      /^Caller passes invalid args into func#(?<func>\d+)/,
      /^arg#(?<arg>\d+) reference type\('(?<what>\w+) /,
      /^R(?<reg>\d+) invalid (?:mem access|argument) .* global func/,
    ],
    explanation: (g) =>
      `A global (non-static) function is verified once on its own, assuming only what its BTF argument types say; here ${g.arg !== undefined ? `argument ${g.arg}` : 'an argument'} given at the call does not match what the function declares (\`__arg_ctx\` arguments need the program's context, pointer arguments need memory of the declared size).`,
    hint: "Pass what the declaration says (the ctx itself for `__arg_ctx`), or make the function `static` so it is verified with the caller's actual values.",
  },
  {
    id: 'global_func_return',
    title: 'global function not verifiable on its own',
    trace: 'callee',
    match: [
      /^Global function (?<what>\S+)\(\) doesn't return scalar/,
      /^Validating \S+ func#\d+\.\.\. failed/,
      /^global function .* (?:is|has) not (?:supported|allowed)/,
    ],
    explanation: (g) =>
      `${g.what ? `The global function ${g.what}()` : 'A global function'} is verified once on its own and may return only a scalar (an integer); the verifier cannot track a pointer returned from it.`,
    hint: "Return an integer (or write the pointer's target through an argument), or make the function `static` (`static __noinline`) so it is verified in each caller's context.",
  },
  {
    id: 'scalar_deref',
    title: 'number used as a pointer',
    trace: 'reg',
    match: [/^R(?<reg>\d+) invalid mem access '(?<what>scalar|inv)'/],
    explanation: (g) =>
      `${R(g)} holds a plain number (a value read from memory, a map, or arithmetic), and the program dereferences it. The verifier only lets a program dereference pointers it has seen created (context, map values, packet, stack, BTF pointers).`,
    hint: 'To read kernel memory at an address you hold as a number use bpf_probe_read_kernel() (or BTF-typed pointers with BPF_CORE_READ); do not store pointers in maps and load them back.',
  },
  {
    id: 'return_value',
    title: 'return value out of range',
    trace: 'reg',
    match: [
      /^At program exit the register R(?<reg>\d+) has (?<what>.*) should have been in (?<exp>.*)/,
      /^At (?:subprogram|callback return|async callback) the register R(?<reg>\d+) has/,
      /^R(?<reg>0) leaks addr as return value/,
    ],
    explanation: (g) =>
      `The program returns a value (${g.what ?? 'R0'}) outside what this program type allows${g.exp ? ` (${g.exp})` : ''}: for example cgroup programs return 0 (deny) or 1 (allow).`,
    hint: 'Return only the allowed verdicts for this hook; check every return statement, including error paths.',
  },
  {
    id: 'map_type_helper',
    title: 'map of the wrong type for the helper',
    trace: 'reg',
    match: [/^cannot pass map_type (?<what>\d+) into func (?<fn>\S+)/, /^map_type (?<what>\d+) is not (?:allowed|supported)/],
    explanation: (g) =>
      `${g.fn ? `${g.fn.replace(/#\d+$/, '')}()` : 'The helper'} does not accept a map of type ${g.what ?? '?'}: helpers are tied to map types (ringbuf helpers want a BPF_MAP_TYPE_RINGBUF, perf_event_output a PERF_EVENT_ARRAY, tail calls a PROG_ARRAY).`,
    hint: "Pass a map of the type the helper needs, or use the helper that goes with your map's type.",
  },
  {
    id: 'read_only',
    title: 'write to read-only memory',
    trace: 'none',
    match: [/^write into map forbidden/, /^cannot write into (?<what>\w+)/, /^R(?<reg>\d+) cannot write into (?<what>\w+)/],
    explanation: () =>
      'The program writes into memory the verifier knows is read-only: a frozen map such as `.rodata` (const volatile globals), a map created with BPF_F_RDONLY_PROG, or read-only helper memory.',
    hint: 'Keep runtime state in `.data`/`.bss` globals or a map; `const volatile` variables are set by the loader before load (bpf-lens load --set NAME=VALUE) and are read-only afterwards.',
  },
];

/** The family of the first error line one of them recognises (the kernel prints the specific reason first). */
export function matchFamily(
  errors: readonly string[],
): { family: VerifierFamily; line: string; groups: Record<string, string | undefined> } | undefined {
  for (const line of errors) {
    for (const f of VERIFIER_FAMILIES) {
      for (const re of f.match) {
        const m = re.exec(line);
        if (m) return { family: f, line, groups: { ...(m.groups ?? {}) } };
      }
    }
  }
  return undefined;
}
