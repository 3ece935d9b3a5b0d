#!/usr/bin/env bash
# Latent against llama.cpp on the same GGUF files: llama-bench and `latent bench engine` in
# alternating rounds (which engine goes first swaps each round), the machine's read bandwidth
# measured before and after every run, then one table of tokens/s and Latent / llama.cpp ratios
# per model, thread count and point (mean over rounds; each round's numbers are listed too, so a
# noisy round shows). llama.cpp is not a dependency: build its llama-bench yourself (CPU-only).
# Usage: tests/bench/compare-llama.sh LLAMA_BIN_DIR MODEL.gguf...
# Environment: THREADS (default "2", e.g. "1 2"), ROUNDS (default 2), PREFILL (default
# "512 8192"), DECODE (contexts decoded at, default "0 4096"), GEN (tokens decoded, default 32).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: $0 LLAMA_BIN_DIR MODEL.gguf..." >&2; exit 2; }
llama_bench="$1/llama-bench"
shift
latent=build/daemon/latent
[ -x "$latent" ] || { echo "build first: bash packaging/build.sh" >&2; exit 1; }
[ -x "$llama_bench" ] || { echo "no llama-bench in the given directory" >&2; exit 1; }
threads=(${THREADS:-2})
rounds=${ROUNDS:-2}
prefill=(${PREFILL:-512 8192})
decode=(${DECODE:-0 4096})
gen=${GEN:-32}

join() { local IFS=,; echo "$*"; }
sizes=()
for n in "${prefill[@]}"; do sizes+=("prefill:$n"); done
for n in "${decode[@]}"; do sizes+=("decode:$n"); done

results=$(mktemp)
trap 'rm -f "$results"' EXIT
# Each line of $results: engine model threads round kind size tokens_per_s, or "bandwidth ... GB/s".
bandwidth() {
  local bw
  bw=$("$latent" bench memory --threads "$1" --json | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log((JSON.parse(s).read_bytes_per_s/1e9).toFixed(2)))')
  echo "bandwidth $2 $1 $3 - - $bw" >>"$results"
}
run_llama() {  # model threads round
  local out
  out=$("$llama_bench" -m "$1" -t "$2" -r 1 -o jsonl -p "$(join "${prefill[@]}")" -n 0 2>/dev/null
        "$llama_bench" -m "$1" -t "$2" -r 1 -o jsonl -p 0 -n "$gen" -d "$(join "${decode[@]}")" 2>/dev/null)
  node -e '
    const [model, threads, round] = process.argv.slice(1);
    for (const line of require("fs").readFileSync(0, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const j = JSON.parse(line);
      const [kind, size] = j.n_gen > 0 ? ["decode", j.n_depth] : ["prefill", j.n_prompt];
      console.log(`llama.cpp ${model} ${threads} ${round} ${kind} ${size} ${j.avg_ts}`);
    }' "$1" "$2" "$3" <<<"$out" >>"$results"
}
run_latent() {  # model threads round
  "$latent" bench engine --model "$1" --threads "$2" --sizes "$(join "${sizes[@]}")" --json | node -e '
    const [model, threads, round] = process.argv.slice(1);
    let s = "";
    process.stdin.on("data", d => s += d).on("end", () => {
      const j = JSON.parse(s);
      for (const [n, v] of Object.entries(j.prefill_tokens_per_s)) console.log(`latent ${model} ${threads} ${round} prefill ${n} ${v}`);
      for (const [n, v] of Object.entries(j.decode_tokens_per_s)) console.log(`latent ${model} ${threads} ${round} decode ${n} ${v}`);
    });' "$1" "$2" "$3" >>"$results"
}

for model in "$@"; do
  for t in "${threads[@]}"; do
    for ((r = 1; r <= rounds; ++r)); do
      order=(llama latent)
      ((r % 2 == 0)) && order=(latent llama)
      for e in "${order[@]}"; do
        echo "round $r/$rounds: $e, $(basename "$model"), $t threads" >&2
        bandwidth "$t" "$model" "$r"
        "run_$e" "$model" "$t" "$r"
      done
      bandwidth "$t" "$model" "$r"
    done
  done
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => l.split(" "));
  const by = new Map(), bw = new Map();
  for (const [engine, model, threads, round, kind, size, v] of rows) {
    const base = model.split("/").pop();
    if (engine === "bandwidth") {
      const k = `${base} ${threads}`;
      bw.set(k, [...(bw.get(k) || []), +v]);
      continue;
    }
    const k = `${base}|${threads}|${kind}|${size}`;
    if (!by.has(k)) by.set(k, { latent: [], "llama.cpp": [] });
    by.get(k)[engine].push(+v);
  }
  const mean = a => a.reduce((x, y) => x + y, 0) / a.length;
  console.log("| model | threads | test | Latent tok/s | llama.cpp tok/s | ratio | rounds (Latent / llama.cpp) |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const [k, v] of by) {
    const [model, threads, kind, size] = k.split("|");
    const test = kind === "prefill" ? `prefill ${size}` : `decode at ${size}`;
    const l = mean(v.latent), c = mean(v["llama.cpp"]);
    const each = v.latent.map((x, i) => `${x.toFixed(1)}/${(v["llama.cpp"][i] ?? NaN).toFixed(1)}`).join(", ");
    console.log(`| ${model} | ${threads} | ${test} | ${l.toFixed(1)} | ${c.toFixed(1)} | ${(l / c).toFixed(2)}x | ${each} |`);
  }
  for (const [k, v] of bw)
    console.log(`read bandwidth ${k} threads: ${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)} GB/s over the runs`);
' "$results"
