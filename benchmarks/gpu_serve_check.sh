#!/usr/bin/env bash
# For YOUR GPU machine (NOT RUN HERE: the machines javis is built on have no vLLM-capable GPU).
#
# Two javis versions behind a real vLLM: start `vllm serve` with the deployed one (the command
# `javis serve --engine vllm` prints), deploy the other with deploy.target: vllm (runtime LoRA load,
# check /v1/models, unload the old one), check /v1/models and the answers, roll back, check again.
#
#   pip install vllm                 # in its own venv if you like; needs a CUDA GPU
#   cd <your javis project with at least two releases> && bash benchmarks/gpu_serve_check.sh v0.1 v0.2
#
# Exits non-zero at the first check that fails, saying which.
set -euo pipefail

OLD=${1:?usage: gpu_serve_check.sh OLD_VERSION NEW_VERSION (e.g. v0.1 v0.2)}
NEW=${2:?usage: gpu_serve_check.sh OLD_VERSION NEW_VERSION}
PORT=${PORT:-8000}
URL="http://127.0.0.1:$PORT"
PY=${PYTHON:-python}
LOG=${LOG:-/tmp/javis-vllm.log}

fail() { echo "FAIL: $*" >&2; exit 1; }
models() { curl -sf "$URL/v1/models" | "$PY" -c 'import json,sys; print(" ".join(m["id"] for m in json.load(sys.stdin)["data"]))'; }
ask() {  # ask MODEL: the answer's model field and text, greedy, 64 tokens
  curl -sf "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\": \"$1\", \"messages\": [{\"role\": \"user\", \"content\": \"안녕하세요! Who are you?\"}], \"max_tokens\": 64, \"temperature\": 0}" \
    | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["model"]); print(r["choices"][0]["message"]["content"])'
}

javis deploy "$OLD"
OLDNAME=$(basename "$(readlink models/current)")
javis serve --engine vllm --port "$PORT" > /tmp/javis-vllm.cmd   # the preflight runs here
echo "vLLM command: $(cat /tmp/javis-vllm.cmd)"
env VLLM_ALLOW_RUNTIME_LORA_UPDATING=True bash -c "$(sed 's/^VLLM_ALLOW_RUNTIME_LORA_UPDATING=True //' /tmp/javis-vllm.cmd)" > "$LOG" 2>&1 &
VLLM=$!
trap 'kill $VLLM 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf "$URL/health" > /dev/null && break; sleep 1; done
curl -sf "$URL/health" > /dev/null || fail "vLLM did not come up; see $LOG"

[[ " $(models) " == *" $OLDNAME "* ]] || fail "/v1/models does not list $OLDNAME: $(models)"
A_OLD=$(ask "$OLDNAME")
[[ $(head -1 <<< "$A_OLD") == "$OLDNAME" ]] || fail "the answer is not from $OLDNAME: $A_OLD"

# the new version, live: deploy.target vllm loads it through the runtime API and unloads the old one
JAVIS_DEPLOY_TARGET_BACKUP=$(grep -n '^  target:' params.yaml || true)
sed -i.bak 's/^  target: .*/  target: vllm/' params.yaml
javis deploy "$NEW"
NEWNAME=$(basename "$(readlink models/current)")
[[ " $(models) " == *" $NEWNAME "* ]] || fail "/v1/models does not list $NEWNAME after deploy: $(models)"
[[ " $(models) " != *" $OLDNAME "* ]] || fail "$OLDNAME is still loaded after deploy: $(models)"
A_NEW=$(ask "$NEWNAME")
[[ $(head -1 <<< "$A_NEW") == "$NEWNAME" ]] || fail "the answer is not from $NEWNAME: $A_NEW"
[[ "$A_NEW" != "$A_OLD" ]] || echo "note: both versions gave the same greedy answer"

javis rollback
[[ " $(models) " == *" $OLDNAME "* ]] || fail "/v1/models does not list $OLDNAME after rollback: $(models)"
[[ $(ask "$OLDNAME") == "$A_OLD" ]] || fail "after rollback $OLDNAME answers differently than before"
mv params.yaml.bak params.yaml
echo "${JAVIS_DEPLOY_TARGET_BACKUP:+restored params.yaml ($JAVIS_DEPLOY_TARGET_BACKUP)}"
echo "OK: $OLDNAME -> $NEWNAME -> $OLDNAME live in vLLM; answers:"
echo "--- $OLDNAME"; tail -n +2 <<< "$A_OLD"
echo "--- $NEWNAME"; tail -n +2 <<< "$A_NEW"
