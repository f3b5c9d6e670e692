#!/usr/bin/env bash
# Runs Grid's whole test suite on a fresh machine: restores, builds, starts what the tests need, runs every
# test project, and ends with one line "N passed, N failed, N skipped" taken from the real result files, after the
# list of skipped tests with their reasons.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# libtorch's OpenMP threads spin by default; on a shared 2-core box that makes forward passes jitter 100x.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# Prometheus and promtool for the telemetry tests (they start their own prometheus on free ports; no service here).
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null \
        || echo "Could not install prometheus (apt-get install prometheus); the telemetry tests will fail." >&2
    # Debian's package starts a service where an init system runs; the tests need none.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then $sudo systemctl stop prometheus || true; fi
fi

# Grid.Deployment.Tests render infra/k8s with `kubectl kustomize` (offline). Debian 12 packages no kubectl recent enough
# (kubernetes-client 1.20 bundles a kustomize without `replacements`), so it is not installed here: without kubectl
# those tests are skipped and say so. Their schema check installs its own npm packages (npm ci, with a lockfile).
if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl not found: the Kubernetes manifest tests (Grid.Deployment.Tests) will be skipped." >&2
fi

# tmux for the live display tests (LiveDisplayTests), which run grid in a real terminal pane and read the screen back.
if ! command -v tmux >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null \
        || echo "Could not install tmux (apt-get install tmux); the live display tests will fail." >&2
fi

# ip and tc (iproute2) for the network namespace tests (NamespaceClusterTests), which build nodes with their own
# addresses as root; slim images lack them. Without them (or without root) those tests skip and say why.
if [ "$(id -u)" -eq 0 ] && { ! command -v ip >/dev/null 2>&1 || ! command -v tc >/dev/null 2>&1; }; then
    apt-get update -qq && env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null \
        || echo "Could not install iproute2 (apt-get install iproute2); the network namespace tests will skip." >&2
fi

results="$root/.test-results"
rm -rf "$results"
mkdir -p "$results"

dotnet test Grid.sln -c Release --logger "trx" --results-directory "$results" "$@"
status=$?

# The skipped tests with their reasons, one "name: reason" line each, from a trx file's results: xunit reports a skip
# as a result with outcome="NotExecuted" and the reason as its message, but leaves the file's notExecuted counter at 0.
skipped_tests() {
    awk '
        function unescape(s) {
            gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "\047", s)
            gsub(/&#xA;|&#10;/, " ", s); gsub(/&amp;/, "\\&", s); return s
        }
        /<UnitTestResult / {
            name = ""; reason = ""; inMessage = 0
            if ($0 ~ /outcome="NotExecuted"/ && match($0, /testName="[^"]*"/)) name = unescape(substr($0, RSTART + 10, RLENGTH - 11))
        }
        name != "" && /<Message>/ { inMessage = 1; sub(/.*<Message>/, "") }
        name != "" && inMessage {
            line = $0; done = sub(/<\/Message>.*/, "", line)
            gsub(/^[ \t]+|[ \t]+$/, "", line); reason = reason (reason == "" ? "" : " ") line
            if (done) inMessage = 0
        }
        name != "" && /<\/UnitTestResult>|<UnitTestResult [^>]*\/>/ {
            print name ": " (reason == "" ? "(no reason given)" : unescape(reason)); name = ""
        }
    ' "$1"
}

passed=0; failed=0; skipped=0; skip_list=()
shopt -s nullglob
trx_files=("$results"/*.trx)
for trx in "${trx_files[@]}"; do
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
    passed=$((passed + $(get passed)))
    failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
    mapfile -t file_skips < <(skipped_tests "$trx")
    skip_list+=("${file_skips[@]}")
done
skipped=${#skip_list[@]}
projects=$(ls tests/*/*.Tests.csproj | wc -l)
if [ "${#trx_files[@]}" -lt "$projects" ]; then
    echo "Only ${#trx_files[@]} of $projects test projects wrote results: a test host crashed or the build failed." >&2
    failed=$((failed + projects - ${#trx_files[@]}))
    [ "$status" -eq 0 ] && status=1
fi
# The skipped tests come before the closing line, each indented under a heading, so the closing line stays the last
# one and nothing above it reads as "N passed, N failed".
if [ "$skipped" -gt 0 ]; then
    echo "Skipped tests ($skipped), with the reason each gave:"
    printf '    - %s\n' "${skip_list[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
