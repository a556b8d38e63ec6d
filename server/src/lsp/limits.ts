// Limits on what the language server hands to the editor and reads for it.

/** The largest document the editor is given (vmlinux's C is ~4 MB). */
export const MAX_DOCUMENT_CHARS = 64 << 20;

/** Why a document is refused. */
export function tooLarge(file: string, limit = MAX_DOCUMENT_CHARS): string {
  const size = limit >= 1 << 20 ? `${Math.round(limit / (1 << 20))} MB` : `${limit} bytes`;
  return `${file}: its BTF as C is larger than ${size}, more than an editor document should hold; 'bpf-lens btf dump ${file} -f c' writes it to a terminal or file`;
}
