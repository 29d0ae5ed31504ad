#!/usr/bin/env bash
# Enrol every face image in a folder through the API.
#   ./index_people.sh [FOLDER] [API_URL]
# FOLDER holds <Person_Name>.jpg files and/or <Person_Name>/*.jpg folders (default: sample-faces/index);
# underscores in names become spaces. API_URL defaults to $API_URL or http://localhost:8000; set API_KEY when the
# API requires one. Safe to re-run: people already enrolled (by name) are skipped unless FORCE=1.
# A photo with several faces enrols its clearly largest one (face=main: twice the area of the next); MAIN_FACE=0
# refuses such photos instead. Exits non-zero when any image failed.
set -uo pipefail

folder="${1:-sample-faces/index}"
api="${2:-${API_URL:-http://localhost:8000}}"
api="${api%/}"
face_choice="?face=main"
[ "${MAIN_FACE:-1}" = 0 ] && face_choice=""
auth=()
[ -n "${API_KEY:-}" ] && auth=(-H "X-API-Key: ${API_KEY}")

if [ ! -d "$folder" ]; then
    echo "error: folder not found: $folder" >&2
    exit 2
fi
if ! curl -fsS "${auth[@]}" "$api/health" >/dev/null 2>&1; then
    echo "error: the API does not answer at $api (start it with: python -m api)" >&2
    exit 2
fi

enrolled="$(curl -fsS "${auth[@]}" "$api/api/v1/people")" || { echo "error: cannot list people" >&2; exit 2; }

mapfile -d '' files < <(find "$folder" -mindepth 1 -maxdepth 2 -type f \
    \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) -print0 | sort -z)

total=${#files[@]} ok=0 skipped=0 failed=0 i=0
for file in "${files[@]}"; do
    i=$((i + 1))
    relative="${file#"$folder"/}"
    if [[ "$relative" == */* ]]; then person="${relative%%/*}"; else person="$(basename "${relative%.*}")"; fi
    name="${person//_/ }"
    json_name="${name//\\/\\\\}"
    json_name="${json_name//\"/\\\"}"
    if [ "${FORCE:-0}" != 1 ] && grep -qF "\"name\":\"$json_name\"" <<<"$enrolled"; then
        skipped=$((skipped + 1))
        printf '[%d/%d] skip  %s (already enrolled)\n' "$i" "$total" "$relative"
        continue
    fi
    # --form-string: a name starting with @ or < is a name, not a file for curl to read
    body="$(curl -sS "${auth[@]}" -w '\n%{http_code}' -F "image=@${file}" --form-string "name=${name}" \
        "$api/api/v1/index${face_choice}")"
    status="${body##*$'\n'}"
    if [ "$status" = 201 ]; then
        ok=$((ok + 1))
        printf '[%d/%d] ok    %s -> %s\n' "$i" "$total" "$relative" "$name"
    else
        failed=$((failed + 1))
        printf '[%d/%d] FAIL  %s (HTTP %s): %s\n' "$i" "$total" "$relative" "$status" "${body%$'\n'*}" >&2
    fi
done
echo "enrolled $ok, skipped $skipped, failed $failed of $total images"
[ "$failed" -eq 0 ]
