#!/bin/sh
# Registers the Temporal namespace the orchestrator uses, once the frontend
# answers; does nothing when it exists. The temporalio/server image, unlike
# the retired auto-setup image, creates no namespace by itself.
#
# Runs in temporalio/admin-tools (docker-compose.yml: temporal-namespace)
# with TEMPORAL_ADDRESS (host:port) and NAMESPACE set; RETENTION (default
# 72h) is how long closed workflows' histories are kept.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}"
retention=${RETENTION:-72h}

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "Temporal at $TEMPORAL_ADDRESS is not healthy after $tries tries" >&2
		exit 1
	fi
	sleep 2
done

if temporal operator namespace describe --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
	echo "namespace $NAMESPACE exists"
	exit 0
fi
temporal operator namespace create --namespace "$NAMESPACE" --retention "$retention" --address "$TEMPORAL_ADDRESS"
echo "namespace $NAMESPACE created (retention $retention)"
