#!/usr/bin/env bash
# The worked examples of docs/providers.md: each seed API's documented request, sent by the
# lipbridge CLI to `lipbridge contract serve`, which answers on 127.0.0.1 with that
# provider's documented responses (the cassettes its plugin ships,
# lipbridge_<provider>/cassettes/<provider>/<scenario>.yaml). No key, no network, no money;
# the waits are real (the CLI's normal polling schedule).
#
#   bash docs/examples/standin.sh            # from any directory, venv active
set -euo pipefail

run() {  # run PROVIDER SCENARIO PORT -- lipbridge submit arguments...
    local provider=$1 scenario=$2 port=$3
    shift 4
    lipbridge contract serve "$provider" "$scenario" --port "$port" >/dev/null &
    local server=$!
    sleep 1
    local env_name
    env_name=$(echo "$provider" | tr '[:lower:]-' '[:upper:]_')
    echo "\$ lipbridge submit $provider $*"
    env "LIPBRIDGE_${env_name}_BASE_URL=http://127.0.0.1:$port" \
        "LIPBRIDGE_${env_name}_API_KEY=demo-key" "${EXTRA_ENV[@]}" \
        lipbridge submit "$provider" "$@" 2>&1
    wait "$server"
    echo
}

# FoxAPI: the seed's own request, with the seed's field names (video/audio).
EXTRA_ENV=(LIPBRIDGE_FOXAPI_REQUEST_FIELDS=video)
run foxapi success_seed_fields 8701 -- --model lipsync-2 \
    --video https://example.com/portrait-video.mp4 --audio https://example.com/speech.mp3 \
    --sync-mode loop --temperature 0.5 --no-active-speaker \
    --callback-url https://your-domain.com/webhooks/lipsync-completed --wait

# AIHubMax: the current page's request (video_url/audio_url, the default).
EXTRA_ENV=()
run aihubmax success 8702 -- --model lipsync-2 \
    --video https://v3.fal.media/files/tiger/IugLCDJRIoGqvqTa-EJTr_3wg74vCqyNuQ-IiBd77MM_output.mp4 \
    --audio https://fal.media/files/lion/vyFWygmZsIZlUO4s0nr2n.wav \
    --sync-mode loop --temperature 0.8 --active-speaker --wait

# AI/ML API: pixverse/lip-sync with a TTS voice instead of audio (the docs' full example).
run aimlapi success_tts 8703 -- \
    --video https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/racoon-in-the-forest.mp4 \
    --text "Through the forest, past the roots — I’ve got to get there fast! No time to stop!" \
    --voice Oliver --wait

# JoggAI: the seed's /open/v2 routes and a native playback_type.
EXTRA_ENV=(LIPBRIDGE_JOGG_PATH_PREFIX=/open/v2)
run jogg success_open_prefix 8704 -- \
    --video https://res.jogg.ai/source-video.mp4 --audio https://res.jogg.ai/source-audio.wav \
    --option playback_type=normal --wait
