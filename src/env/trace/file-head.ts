/**
 * What the first bytes of a file say about it: whether it is an ELF object
 * (an executable or shared library, fingerprinted by content hash), and
 * which interpreter the kernel runs for it. The interpreter matters because
 * the kernel loads it without any system call strace could show: a script's
 * `#!/bin/sh`, and an ELF program's dynamic loader (PT_INTERP, e.g.
 * `/lib64/ld-linux-x86-64.so.2`). Pure: bytes in, description out.
 */

export interface FileHead {
  /** Starts with the ELF magic `\x7fELF`. */
  elf: boolean
  /**
   * The program the kernel runs to execute this file: the `#!` interpreter
   * of a script, or the dynamic loader of an ELF program. Absolute, or absent.
   */
  interpreter?: string
  /** Where `interpreter` came from. */
  interpreterFrom?: 'shebang' | 'pt-interp'
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]
/** ELF program header type of the interpreter path (System V ABI). */
const PT_INTERP = 3
/** More program headers than any real object has; bounds the walk over malformed input. */
const MAX_PROGRAM_HEADERS = 256
/** The kernel reads at most this much of a `#!` line (BINPRM_BUF_SIZE). */
const SHEBANG_MAX_BYTES = 256

/** Describes a file from its first bytes (FILE_HEAD_BYTES of them are plenty). */
export function describeHead (head: Uint8Array): FileHead {
  if (isElf(head)) {
    const interpreter = elfInterpreter(head)
    return interpreter === undefined ? { elf: true } : { elf: true, interpreter, interpreterFrom: 'pt-interp' }
  }
  const interpreter = shebangInterpreter(head)
  return interpreter === undefined ? { elf: false } : { elf: false, interpreter, interpreterFrom: 'shebang' }
}

export function isElf (head: Uint8Array): boolean {
  return ELF_MAGIC.every((byte, i) => head[i] === byte)
}

/** `#!/usr/bin/env python3` → `/usr/bin/env`; undefined unless the interpreter is an absolute path. */
function shebangInterpreter (head: Uint8Array): string | undefined {
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined
  const line = Buffer.from(head.subarray(2, SHEBANG_MAX_BYTES)).toString('latin1').split('\n')[0] ?? ''
  const interpreter = line.trim().split(/[ \t]/)[0] ?? ''
  return interpreter.startsWith('/') ? Buffer.from(interpreter, 'latin1').toString('utf8') : undefined
}

/**
 * The PT_INTERP string of an ELF object, when the program headers and the
 * string lie within `head`. Reads ELF32 and ELF64, either byte order, and
 * gives up quietly on anything malformed.
 */
function elfInterpreter (head: Uint8Array): string | undefined {
  const is64 = head[4] === 2
  if (head.length < (is64 ? 64 : 52)) return undefined
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const little = head[5] !== 2
  const phoff = is64 ? safeNumber(view, 0x20, little) : view.getUint32(0x1c, little)
  const phentsize = view.getUint16(is64 ? 0x36 : 0x2a, little)
  const phnum = Math.min(view.getUint16(is64 ? 0x38 : 0x2c, little), MAX_PROGRAM_HEADERS)
  if (phoff === undefined || phentsize < (is64 ? 56 : 32)) return undefined
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize
    if (at + phentsize > head.length) return undefined
    if (view.getUint32(at, little) !== PT_INTERP) continue
    const offset = is64 ? safeNumber(view, at + 8, little) : view.getUint32(at + 4, little)
    const size = is64 ? safeNumber(view, at + 32, little) : view.getUint32(at + 16, little)
    if (offset === undefined || size === undefined || size === 0 || offset + size > head.length) return undefined
    const text = Buffer.from(head.subarray(offset, offset + size)).toString('utf8').replace(/\0+$/, '')
    return text.startsWith('/') && !text.includes('\0') ? text : undefined
  }
  return undefined
}

function safeNumber (view: DataView, at: number, little: boolean): number | undefined {
  const value = view.getBigUint64(at, little)
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined
}
