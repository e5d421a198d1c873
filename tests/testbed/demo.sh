#!/usr/bin/env bash
# make demo: start the bundled test servers with a demo account (COUNT generated messages plus the
# showcase of demo_mail.py), open the TUI on it, stop the servers when it exits.
set -euo pipefail
PY=$1 DIR=$2 COUNT=$3
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -f "$DIR/config.toml" "$DIR/testbed.json" "$DIR/servers.pid"
"$PY" -m tests.testbed serve --dir "$DIR" --fill "alice=$COUNT" --demo >"$DIR/servers.log" 2>&1 &
SERVERS=$!
echo "$SERVERS" >"$DIR/servers.pid"
trap 'kill $SERVERS 2>/dev/null; wait $SERVERS 2>/dev/null || true' EXIT
echo "starting Dovecot and the SMTP server on 127.0.0.1 with $COUNT messages for alice..."
for _ in $(seq 1 600); do
  [ -s "$DIR/config.toml" ] && break
  kill -0 $SERVERS 2>/dev/null || { echo "the demo servers failed to start:"; tail -20 "$DIR/servers.log"; exit 1; }
  sleep 0.2
done
[ -s "$DIR/config.toml" ] || { echo "the demo servers did not come up in time"; tail -20 "$DIR/servers.log"; exit 1; }
grep -E '^(filled|delivered) ' "$DIR/servers.log" || true
echo "demo config: $DIR/config.toml (log: $DIR/servers.log)"
"$PY" -m tuimail --config "$DIR/config.toml"
