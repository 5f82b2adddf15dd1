/** A small valid scenario; tests break one line of it at a time. */
export const SMALL = `name: small
app: webshop
artifactBytes: 64KiB
population:
  clusters:
    - name: good
      machines: 6
      vars: { mode: "off" }
      files:
        etc/mode: "{{mode}}\\n"
    - name: bad
      machines: 4
      vars: { mode: "on" }
      files:
        etc/mode: "{{mode}}\\n"
test:
  script: |
    #!/bin/sh
    v=\${MIRAGE_VERSION:-$(cat "$(dirname "$0")/VERSION")}
    if [ "$v" = "2.0.0" ] && [ "$(cat "$MIRAGE_ENV_DIR/etc/mode")" = "on" ]; then exit 3; fi
    exit 0
rules:
  default: { k: 2, q: 1, after: [good] }
  clusters:
    - { name: good, k: 2, q: 1 }
  startTimeout: 30s
releases:
  - version: 2.0.0
    at: 0s
    fix: { version: 2.0.1, afterFirstReport: 10s }
plans: [staged, all-at-once]
seed: 4
`
