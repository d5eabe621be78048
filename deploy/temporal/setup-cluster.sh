#!/bin/sh
# One-shot job (temporalio/admin-tools) after the server is healthy: create the namespace and
# register onething's search attributes. Idempotent.
# Reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (both also read by the `temporal` CLI itself),
# NAMESPACE_RETENTION and ONETHING_SEARCH_ATTRIBUTES ("Name=Type Name=Type ...", written into
# docker-compose.yml by `onething compose generate` from onething/search_attributes.py).
set -eu

if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $TEMPORAL_NAMESPACE exists"
else
  temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
    --retention "${NAMESPACE_RETENTION:-30d}"
fi

# A new namespace reaches the frontend's namespace cache only after a refresh (about 10 s);
# until then every call naming it fails with "namespace not found".
tries=0
until existing="$(temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" 2>&1)"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "namespace $TEMPORAL_NAMESPACE still not usable after 2 minutes: $existing" >&2
    exit 1
  fi
  sleep 2
done
for spec in $ONETHING_SEARCH_ATTRIBUTES; do
  name="${spec%%=*}"
  type="${spec##*=}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
      --name "$name" --type "$type"
  fi
done
echo "namespace $TEMPORAL_NAMESPACE is ready"
