/**
 * Limits and fixed strings of problem reports. Every limit bounds what a
 * machine sends and what a vendor parses from a machine it does not control.
 */

/**
 * Largest output tail a report carries, in UTF-8 bytes. The test runner keeps
 * the same 64 KiB by default (`DEFAULT_MAX_OUTPUT_BYTES` in src/testing): a
 * failing test prints its verdict last, and 64 KiB holds it with context.
 */
export const MAX_REPORT_OUTPUT_TAIL_BYTES = 64 * 1024

/**
 * When the output was cut, the tail begins mid-line, possibly mid-secret
 * (`…rd=hunter2` no longer says `password=`). That partial first line is
 * dropped, but at most this many characters of it, so a tail that is one
 * huge line still keeps most of its text.
 */
export const MAX_PARTIAL_LINE_DROP_CHARS = 4096

/** Longest failed-test name kept (a test file path or a test's title). */
export const MAX_REPORT_TEST_NAME_CHARS = 256

/**
 * Bounds of the fingerprint diff a report carries. With item names cut to
 * 128 characters, 500 names take at most ~64 KiB and 200 resources ~50 KiB,
 * so a full diff and a full tail still fit in MAX_REPORT_PAYLOAD_BYTES.
 */
export const MAX_REPORT_DIFF_RESOURCES = 200
export const MAX_REPORT_DIFF_ITEMS = 500
export const MAX_REPORT_DIFF_NAME_CHARS = 128
/** Attribute notes per resource: the diff makes at most three (kind, relevance, weight). */
export const MAX_REPORT_DIFF_ATTRIBUTES = 3

/**
 * Largest encoded report (the signed payload). 64 KiB of tail plus the
 * largest diff above (~115 KiB) plus small fields is under 190 KiB.
 */
export const MAX_REPORT_PAYLOAD_BYTES = 200 * 1024

/**
 * Largest sealed report, checked before anything is parsed. The payload
 * limit plus the signed envelope (< 200 bytes), the AEAD tag (16) and the
 * sealed envelope's own fields (< 300 bytes) fit with room to spare.
 */
export const MAX_SEALED_REPORT_BYTES = 256 * 1024

/** Version of the sealing scheme; also the HKDF info and the AAD prefix. */
export const REPORT_SEAL_CONTEXT = 'mirage/report/v1'

/** Prefix of the key id's hash input, so a key id is never some other hash of the key. */
export const REPORT_KEY_ID_CONTEXT = 'mirage/report-key-id/v1'

/** Prefix of a report public key's text form. */
export const REPORT_KEY_TEXT_PREFIX = 'mirage-report-key:'

/** Bytes of a key id: 128 bits tell a vendor's keys apart; it is not a security bound. */
export const REPORT_KEY_ID_BYTES = 16

/** X25519 public keys are 32 bytes (RFC 7748). */
export const X25519_PUBLIC_KEY_BYTES = 32

/** ChaCha20-Poly1305 (RFC 8439) nonce and tag sizes. */
export const REPORT_NONCE_BYTES = 12
export const REPORT_TAG_BYTES = 16

/**
 * Owner secrets shorter than this are refused as a configuration error: a
 * one- to three-character string occurs by chance all over any output, so
 * redacting it would shred the tail, and a secret that short is guessed
 * anyway. (Decision for issue 5 item 3; see redact.ts.)
 */
export const MIN_OWNER_SECRET_CHARS = 4
/** Longest owner secret (a PEM key is ~3.3 KiB; 8 KiB leaves room). */
export const MAX_OWNER_SECRET_CHARS = 8192
/** Most owner secrets: each adds up to fourteen literals to the matcher. */
export const MAX_OWNER_SECRETS = 256
/**
 * Most characters of all owner secrets together. Each character becomes up
 * to ~14 trie nodes (its encodings), so 64 KiB bounds the matcher to about a
 * million nodes however the list is made up.
 */
export const MAX_OWNER_SECRETS_TOTAL_CHARS = 64 * 1024

/** Private key files: the owner only (as for src/trust's signing keys). */
export const REPORT_KEY_FILE_MODE = 0o600
export const REPORT_KEY_FORBIDDEN_MODE_BITS = 0o077
