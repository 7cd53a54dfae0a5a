#!/usr/bin/env bash
# The mutation run: plants each small bug of tests/mutations/ in turn into a copy of the
# committed tree, rebuilds, runs the suite, and says whether the suite noticed (docs/testing.md).
#
#   scripts/mutate.sh [--only NAME]... [-R REGEX] [-E REGEX] [--list]
#
#   --only NAME    run this mutation only (repeatable); NAME is tests/mutations/NAME.mut
#   -R / -E REGEX  passed to ctest: run only / exclude the tests whose names match (the suite
#                  without its slow parts is a quicker first pass; the verdicts count only what ran)
#   --list         print the mutations and what each breaks, then exit
#
# Work happens in build-mutate/ (kept between runs: an unchanged file is never rewritten, so
# each mutation recompiles only the file it touches): tree/ is HEAD's files, build/ its build,
# logs/<name>.log the build and ctest output of each mutation. Uncommitted changes, including
# uncommitted mutations, are not part of the run. The suite must pass on the unmutated copy
# first. Environment: BUILD_JOBS (build and ctest parallelism, default nproc), TEST_TIMEOUT
# (seconds per test, default 300: a mutation that hangs a test is killed by the timeout).
#
# Prints a table (mutation, what it breaks, tests failed, verdict) and exits 1 when any
# mutation survived, did not apply or did not build, 2 on a usage error or a failing baseline.
# Stopped by SIGINT or SIGTERM, it puts the mutated files back and prints the rows it finished.
set -uo pipefail
# Bash reads a script as it runs it: the braces make it read all of this one first, so editing
# the file during an hour-long run does not change the run.
{
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/build-mutate"
jobs="${BUILD_JOBS:-$(nproc)}"
timeout="${TEST_TIMEOUT:-300}"
only=()
filter=()
list=0
usage() { sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only+=("${2:?--only needs a mutation name}"); shift 2 ;;
    -R|-E) filter+=("$1" "${2:?$1 needs a regular expression}"); shift 2 ;;
    --list) list=1; shift ;;
    *) usage ;;
  esac
done

tree="$work/tree"
build="$work/build"
logs="$work/logs"
start=$SECONDS

"$root/scripts/install-packages.sh" --project || exit 2

# ---- the copy: HEAD's files, rewriting only those that differ so that make sees no change
rev=$(git -C "$root" rev-parse --short HEAD) || exit 2
mkdir -p "$tree" "$logs"
rm -rf "$work/original" "$work/mutated.list"  # left by an interrupted run; the sync below undoes its edits
rm -rf "$work/export"
mkdir -p "$work/export"
git -C "$root" archive --format=tar HEAD | tar -x -C "$work/export" || exit 2
(cd "$work/export" && find . -type f -o -type l) | while IFS= read -r f; do
  if ! cmp -s "$work/export/$f" "$tree/$f"; then
    mkdir -p "$(dirname "$tree/$f")"
    rm -f "$tree/$f"
    cp -P "$work/export/$f" "$tree/$f"
  fi
done
(cd "$tree" && find . -type f -o -type l) | while IFS= read -r f; do
  [ -e "$work/export/$f" ] || [ -L "$work/export/$f" ] || rm -f "$tree/$f"
done
rm -rf "$work/export"
# The tests find the shared fixtures next to the source tree (CMakeLists.txt: ../shared).
if [ -d "$root/../shared" ] && [ ! -e "$work/shared" ]; then ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"; fi

mutations=()
if [ ${#only[@]} -gt 0 ]; then
  for name in "${only[@]}"; do
    [ -f "$tree/tests/mutations/$name.mut" ] || { echo "mutate.sh: no committed mutation '$name' (see --list)" >&2; exit 2; }
    mutations+=("$name")
  done
else
  for f in "$tree"/tests/mutations/*.mut; do [ -e "$f" ] && mutations+=("$(basename "$f" .mut)"); done
fi
[ ${#mutations[@]} -gt 0 ] || { echo "mutate.sh: no mutations in tests/mutations/ at $rev" >&2; exit 2; }
breaks_of() { sed -n 's/^# breaks: //p' "$tree/tests/mutations/$1.mut" | head -n 1; }
if [ "$list" -eq 1 ]; then
  for m in "${mutations[@]}"; do printf '%-28s %s\n' "$m" "$(breaks_of "$m")"; done
  exit 0
fi
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  echo "mutate.sh: uncommitted changes are not part of this run (it mutates $rev as committed)" >&2
fi

# ---- applying one mutation: each edit is a literal find/replace that must match exactly once
# in its file. Nothing is written unless every edit applies; then the originals are kept under
# $work/original/ and the mutated paths listed in $work/mutated.list for restore().
apply() {
  python3 - "$tree" "$tree/tests/mutations/$1.mut" "$work" <<'PY'
import os, shutil, sys
tree, spec, work = sys.argv[1:4]
edits, current = [], None  # [file, {"find": [...], "replace": [...]}]
for line in open(spec).read().split("\n"):
    if line.startswith("file: "):
        edits.append([line[len("file: "):].strip(), {}])
        current = None
    elif line in ("--- find", "--- replace") and edits:
        current = line[4:]
        edits[-1][1][current] = []
    elif current is not None:
        edits[-1][1][current].append(line)
    elif line.strip() and not line.startswith("#"):
        sys.exit(f"{spec}: unexpected line {line!r}")
if not edits or any("find" not in b or "replace" not in b for _, b in edits):
    sys.exit(f"{spec}: each 'file:' needs a '--- find' and a '--- replace' block")
def text(lines):
    lines = list(lines)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)
sources = {}
for target, blocks in edits:
    if target not in sources:
        if not os.path.isfile(f"{tree}/{target}"):
            sys.exit(f"no file {target} to mutate")
        sources[target] = open(f"{tree}/{target}").read()
    find = text(blocks["find"])
    count = sources[target].count(find) if find else 0
    if count != 1:
        sys.exit(f"the find text occurs {count} times in {target}, not once:\n{find}")
    sources[target] = sources[target].replace(find, text(blocks["replace"]))
for target, source in sources.items():
    os.makedirs(os.path.dirname(f"{work}/original/{target}"), exist_ok=True)
    shutil.copyfile(f"{tree}/{target}", f"{work}/original/{target}")
with open(f"{work}/mutated.list", "w") as out:
    out.write("".join(f"{t}\n" for t in sources))
for target, source in sources.items():
    open(f"{tree}/{target}", "w").write(source)
PY
}

# Puts back what apply() changed. The restored files are newer than their objects, so the next
# build recompiles them: the copy never keeps a mutant's object.
restore() {
  [ -f "$work/mutated.list" ] || return 0
  while IFS= read -r f; do cp "$work/original/$f" "$tree/$f"; done <"$work/mutated.list"
  rm -f "$work/mutated.list"
}

run_suite() {  # run_suite LOG: prints the number of failed tests and the number run
  (cd "$build" && ctest -j"$jobs" --timeout "$timeout" --output-on-failure ${filter[@]+"${filter[@]}"}) >>"$1" 2>&1
  local summary
  summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$1" | tail -n 1)
  [ -n "$summary" ] || { echo "? ?"; return; }
  echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1 \2/'
}

build_copy() {  # build_copy LOG
  cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release >>"$1" 2>&1 &&
    cmake --build "$build" -j"$jobs" >>"$1" 2>&1
}

# ---- the baseline: the unmutated copy must build and pass, or no verdict means anything
echo "mutate.sh: building $rev in $tree and running the suite unmutated" >&2
base_log="$logs/baseline.log"
: >"$base_log"
build_copy "$base_log" || { echo "mutate.sh: the unmutated tree does not build: $base_log" >&2; exit 2; }
read -r failed total < <(run_suite "$base_log")
if [ "$failed" != 0 ]; then
  echo "mutate.sh: the suite fails without any mutation ($failed of $total, $base_log): fix that first" >&2
  grep -E '^\s+[0-9]+ - ' "$base_log" >&2
  exit 2
fi
echo "mutate.sh: baseline passes ($total tests, $((SECONDS - start)) s)" >&2

# ---- the mutations
rows=()
bad=0
# The table (Markdown, so that docs/testing.md can show it as is) of the mutations done so far.
print_table() {  # print_table [NOTE]
  echo
  echo "Mutation run of $rev, $(date -u +%Y-%m-%d), ${#rows[@]} of ${#mutations[@]} mutations${1:-}, $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s${filter[*]:+, ctest ${filter[*]}}"
  echo
  echo "| mutation | what it breaks | tests failed | verdict | time |"
  echo "|---|---|---|---|---|"
  local r
  for r in ${rows[@]+"${rows[@]}"}; do
    r=${r//|/\\|}  # a | in a cell would end it
    echo "| ${r//$'\t'/ | } |"
  done
}
# Interrupted (a deadline, a machine needed elsewhere), the run still prints what it finished.
trap 'restore; print_table " (interrupted)"; exit 130' INT TERM
for m in "${mutations[@]}"; do
  t0=$SECONDS
  log="$logs/$m.log"
  : >"$log"
  echo "mutate.sh: $m" >&2
  failed="-"
  if ! apply "$m" >>"$log" 2>&1; then
    verdict="does not apply"
  elif ! build_copy "$log"; then
    verdict="does not build"
  else
    read -r failed total < <(run_suite "$log")
    if [ "$failed" = "?" ]; then verdict="suite did not run"
    elif [ "$failed" -gt 0 ]; then verdict="killed"; failed="$failed of $total"
    else verdict="survived"; failed="0 of $total"
    fi
  fi
  restore
  [ "$verdict" = "killed" ] || bad=1
  rows+=("$m"$'\t'"$(breaks_of "$m")"$'\t'"$failed"$'\t'"$verdict"$'\t'"$((SECONDS - t0)) s")
  echo "mutate.sh: $m: $verdict ($failed failed)" >&2
done
trap - INT TERM

print_table
exit "$bad"
}
