#!/bin/sh
# An exec credential plugin (client.authentication.k8s.io/v1) for the tests: prints the token
# held in $DROP_TEST_TOKEN_FILE as valid for $DROP_TEST_EXPIRY_SECONDS, counts its runs in
# $DROP_TEST_COUNT_FILE and keeps the KUBERNETES_EXEC_INFO it was given next to it.
set -eu
n=$(cat "$DROP_TEST_COUNT_FILE" 2>/dev/null || echo 0)
echo $((n + 1)) > "$DROP_TEST_COUNT_FILE"
printf '%s' "${KUBERNETES_EXEC_INFO:-}" > "$DROP_TEST_COUNT_FILE.info"
expiry=$(date -u -d "+${DROP_TEST_EXPIRY_SECONDS} seconds" +%Y-%m-%dT%H:%M:%SZ)
token=$(cat "$DROP_TEST_TOKEN_FILE")
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$token" "$expiry"
